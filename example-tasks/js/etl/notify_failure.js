// ETL example, failure branch, in JavaScript: writes a notice saying why a file was not
// processed to the granted /notifications directory, and returns it. Its input is the whole
// state, which holds either the schema check's findings (`validation`) or an error a Catch
// recorded (`error`).

import { writeTextFile } from "@sandstep/fs";
import { executionFileName } from "./etl_common.js";

const NOTIFICATIONS = "/notifications";

export const handler = async (event, context) => {
  let reason;
  let details;
  if (event.error) {
    reason = `step failed with ${event.error.Error}`;
    details = [event.error.Cause ?? ""];
  } else if (event.validation) {
    reason = "the file failed the schema check";
    details = event.validation.problems ?? [];
  } else {
    reason = "the pipeline failed for an unknown reason";
    details = [];
  }
  const notice = {
    path: `${NOTIFICATIONS}/failure-${executionFileName(context.executionId)}.json`,
    execution_id: context.executionId,
    file: event.file ?? null,
    reason,
    details,
  };
  writeTextFile(notice.path, `${JSON.stringify(notice, null, 2)}\n`);
  console.warn(`${notice.path}: ${reason}`);
  return notice;
};
