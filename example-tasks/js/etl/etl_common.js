// What the JavaScript ETL handlers share (the JavaScript twin of example-tasks/etl-files).

// The columns a transactions file must have, in this order.
export const COLUMNS = ["transaction_id", "customer_id", "date", "amount", "currency", "channel"];

// The execution's name (the last part of its id), safe in a file name.
export function executionFileName(executionId) {
  const name = executionId.split(":").pop();
  const safe = name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 80);
  return safe || "execution";
}

// The first record's fields and the number of records after it, by RFC 4180's rules: a quoted
// field may hold commas, doubled quotes and line breaks.
export function countCsvRecords(text) {
  const header = [];
  let field = "";
  let quoted = false;
  let records = 0;
  let inRecord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          if (records === 0) field += '"';
          i++;
        } else {
          quoted = false;
        }
      } else if (records === 0) {
        field += c;
      }
      continue;
    }
    if (c === '"') {
      quoted = true;
      inRecord = true;
    } else if (c === "," || c === "\n" || c === "\r") {
      if (records === 0 && (c === "," || inRecord)) header.push(field);
      field = "";
      if (c !== ",") {
        if (c === "\r" && text[i + 1] === "\n") i++;
        if (inRecord) records++;
        inRecord = false;
      } else {
        inRecord = true;
      }
    } else {
      inRecord = true;
      if (records === 0) field += c;
    }
  }
  if (inRecord) {
    if (records === 0) header.push(field);
    records++;
  }
  return { header, rows: Math.max(records - 1, 0) };
}
