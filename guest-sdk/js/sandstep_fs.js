// `@sandstep/fs`: files in the directories a task's manifest entry grants it, for JavaScript
// tasks (SpiderMonkey has no `fs`). Thin over WASI's filesystem, so every grant, quota and
// refusal applies exactly as for a Rust or Python task. Paths are absolute guest paths, as
// the manifest names them (`/input/transactions.csv`).
//
//   import { readTextFile, writeTextFile, readBytes, writeBytes } from "@sandstep/fs";

import { getDirectories } from "wasi:filesystem/preopens@0.2.12";

const CHUNK = 1n << 20n;

// The granted directory holding `path`, and `path` relative to it.
function locate(path) {
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new TypeError(`"${path}" is not an absolute path in a granted directory`);
  }
  let best;
  for (const [descriptor, root] of getDirectories()) {
    const prefix = root.endsWith("/") ? root : `${root}/`;
    if ((path.startsWith(prefix) || path === root) && (!best || root.length > best[1].length)) {
      best = [descriptor, root];
    }
  }
  if (!best) {
    const err = new Error(`ENOENT: "${path}" is in no directory granted to this task`);
    err.code = "ENOENT";
    throw err;
  }
  const rel = path.slice(best[1].length).replace(/^\/+/, "") || ".";
  return [best[0], rel];
}

function fsError(e, op, path) {
  const code = typeof e === "string" ? e : (e && (e.payload || e.message)) || String(e);
  const err = new Error(`${op} "${path}": ${code}`);
  err.code = code;
  return err;
}

// The file's bytes.
export function readBytes(path) {
  const [dir, rel] = locate(path);
  let file;
  try {
    file = dir.openAt({ symlinkFollow: true }, rel, {}, { read: true });
  } catch (e) {
    throw fsError(e, "open", path);
  }
  const chunks = [];
  let offset = 0n;
  let total = 0;
  for (;;) {
    let read;
    try {
      read = file.read(CHUNK, offset);
    } catch (e) {
      throw fsError(e, "read", path);
    }
    const [bytes, eof] = read;
    chunks.push(bytes);
    total += bytes.length;
    offset += BigInt(bytes.length);
    if (eof || bytes.length === 0) break;
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

// The file's text, decoded as UTF-8.
export function readTextFile(path) {
  return new TextDecoder().decode(readBytes(path));
}

// Creates or replaces the file with `bytes`.
export function writeBytes(path, bytes) {
  const [dir, rel] = locate(path);
  let file;
  try {
    file = dir.openAt({ symlinkFollow: true }, rel, { create: true, truncate: true }, { write: true });
  } catch (e) {
    throw fsError(e, "create", path);
  }
  let offset = 0;
  while (offset < bytes.length) {
    let written;
    try {
      written = Number(file.write(bytes.subarray(offset, offset + Number(CHUNK)), BigInt(offset)));
    } catch (e) {
      throw fsError(e, "write", path);
    }
    if (written === 0) throw fsError("no progress", "write", path);
    offset += written;
  }
}

// Creates or replaces the file with `text`, encoded as UTF-8.
export function writeTextFile(path, text) {
  writeBytes(path, new TextEncoder().encode(text));
}
