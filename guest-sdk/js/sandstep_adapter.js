// Sandstep's adapter between the `task` world (wit/task.wit) and a Lambda-style handler,
// `export const handler = async (event, context) => ...`.
//
// `host task build` writes `__sandstep_entry.js` beside it (the handler's modules and the
// default handler), bundles both with the handler's package.json dependencies, and runs
// componentize-js (SpiderMonkey) on the bundle. Module code runs once, at build time, and is
// snapshotted. A call parses the input, awaits the handler (componentize-js runs the event
// loop until the returned promise settles), and returns `JSON.stringify` of the result. An
// uncaught error becomes what Lambda's Node.js runtime reports to Step Functions: the error is
// the error's name, the cause `{"errorType", "errorMessage", "trace"}` as JSON text.

import { log } from "sandstep:task/log@0.1.0";
import { modules, defaultHandler, handlerFromEnvironment } from "./__sandstep_entry.js";

function text(value) {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.stack ? `${value}\n${value.stack}` : String(value);
  try {
    const json = JSON.stringify(value);
    return json === undefined ? String(value) : json;
  } catch {
    return String(value);
  }
}

// As on Lambda, console output is the function's log: here the host's `log` import, which
// records each line with the task and execution.
const LEVELS = { debug: "debug", trace: "debug", log: "info", info: "info", warn: "warn", error: "error" };
for (const [method, level] of Object.entries(LEVELS)) {
  console[method] = (...args) => log(level, args.map(text).join(" "));
}

function resolve(spec) {
  const dot = spec.lastIndexOf(".");
  const moduleName = dot > 0 ? spec.slice(0, dot) : "";
  const name = spec.slice(dot + 1);
  if (!moduleName || !name) throw new TypeError(`handler "${spec}" is not MODULE.FUNCTION`);
  const module = modules[moduleName];
  if (!module) {
    const known = Object.keys(modules).join(", ") || "none";
    throw new Error(`handler module "${moduleName}" was not built into this component (its modules: ${known}); rebuild with \`host task build\``);
  }
  const handler = module[name];
  if (typeof handler !== "function") throw new TypeError(`module "${moduleName}" exports no function "${name}"`);
  return handler;
}

// Fails the build, with the reason, when the default handler does not exist.
resolve(defaultHandler);

function requestId() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// SpiderMonkey's `name@file:line:col` frames, Node's way, without the adapter's own frames.
function trace(error, type, message) {
  const lines = [`${type}: ${message}`];
  const stack = error instanceof Error && typeof error.stack === "string" ? error.stack : "";
  for (const frame of stack.split("\n")) {
    if (!frame) continue;
    const at = frame.indexOf("@");
    const fn = at > 0 ? frame.slice(0, at) : "<anonymous>";
    if (fn.includes("__sandstep_call")) break;
    lines.push(`    at ${fn} (${at >= 0 ? frame.slice(at + 1) : frame})`);
  }
  return lines;
}

function taskError(error) {
  let type;
  let message;
  if (error instanceof Error) {
    type = error.name || "Error";
    message = error.message;
  } else {
    type = typeof error;
    message = typeof error === "string" ? error : text(error);
  }
  return {
    error: type,
    cause: JSON.stringify({ errorType: type, errorMessage: message, trace: trace(error, type, message) }),
  };
}

async function __sandstep_call(handler, event, context) {
  // A callback-style handler (event, context, callback), as Lambda's Node.js runtime allows.
  if (handler.length >= 3) {
    return await new Promise((resolvePromise, reject) => {
      const returned = handler(event, context, (error, result) => (error ? reject(error) : resolvePromise(result)));
      if (returned && typeof returned.then === "function") returned.then(resolvePromise, reject);
    });
  }
  return await handler(event, context);
}

export async function run(input, ctx) {
  const id = requestId();
  // As Lambda's `_HANDLER`: one package, several functions (the manifest's `env`).
  const spec = handlerFromEnvironment() || defaultHandler;
  const context = {
    executionId: ctx.executionId,
    stateName: ctx.stateName,
    retryCount: ctx.retryCount,
    awsRequestId: id,
    handler: spec,
  };
  let result;
  try {
    result = await __sandstep_call(resolve(spec), JSON.parse(input), context);
  } catch (error) {
    throw taskError(error);
  }
  let json;
  try {
    json = JSON.stringify(result === undefined ? null : result);
  } catch (error) {
    const message = `Unable to stringify response body: ${error && error.message}`;
    throw { error: "Runtime.MarshalError", cause: JSON.stringify({ errorType: "Runtime.MarshalError", errorMessage: message, trace: [] }) };
  }
  return json;
}
