// ETL example, first step, in JavaScript: checks that a transactions file has the expected
// columns, in order, and counts its data rows. A wrong header is a finding (`valid: false`
// with the problems), not an error, so the pipeline's Choice can route it; an unreadable file
// is an error, which the pipeline's Catch on States.ALL routes to the failure branch.

import { readTextFile } from "@sandstep/fs";
import { COLUMNS, countCsvRecords } from "./etl_common.js";

export function headerProblems(columns) {
  if (columns.length === 0) return [`the file is empty; expected the header "${COLUMNS.join(",")}"`];
  const problems = COLUMNS.filter((c) => !columns.includes(c)).map((c) => `missing column "${c}"`);
  problems.push(...columns.filter((c) => !COLUMNS.includes(c)).map((c) => `unexpected column "${c}"`));
  if (problems.length === 0 && columns.join(",") !== COLUMNS.join(",")) {
    problems.push(`columns are in the order "${columns.join(",")}"; expected "${COLUMNS.join(",")}"`);
  }
  return problems;
}

export const handler = async (event, context) => {
  const started = performance.now();
  const text = readTextFile(event.file);
  const { header, rows } = countCsvRecords(text);
  const columns = header.map((c) => c.trim());
  const problems = headerProblems(columns);
  console.info(`${event.file}: ${rows} rows, ${problems.length} problems`);
  return { valid: problems.length === 0, rows, columns, problems, elapsed_ms: performance.now() - started };
};
