"""Sandstep's adapter between the `task` world (wit/task.wit) and a Lambda-style handler.

`host task build` puts this module, and a `sandstep_build` module saying which handler to call,
beside the handler's sources and runs componentize-py on it. Everything at module level runs
once, at build time, and is snapshotted into the component: the handler's modules (and every
module their sources import, even inside a function) are imported here, so a call never imports.

A call parses the input, calls `handler(event, context)`, and returns `json.dumps` of what the
handler returned (bytes are passed through as the JSON text, as Lambda does). An uncaught
exception becomes the error Lambda reports to Step Functions: the error is the exception's class
name, the cause `{"errorMessage", "errorType", "requestId", "stackTrace"}` as JSON text.
"""

import importlib
import json
import linecache
import logging
import os
import sys
import traceback
import uuid

import componentize_py_types
import wit_world
from wit_world.imports import log as _log
from wit_world.imports import types as _types

import sandstep_build

_ADAPTER_FILE = __file__


class _HostLogHandler(logging.Handler):
    """Sends `logging` records to the host's `log` import (recorded with the task and execution)."""

    def emit(self, record):
        try:
            message = self.format(record)
        except Exception:  # a bad format string must not fail the task
            message = str(record.msg)
        if record.levelno >= logging.ERROR:
            level = _log.Level.ERROR
        elif record.levelno >= logging.WARNING:
            level = _log.Level.WARN
        elif record.levelno >= logging.INFO:
            level = _log.Level.INFO
        else:
            level = _log.Level.DEBUG
        _log.log(level, message)


# As on Lambda, the root logger has a handler (so `basicConfig` does nothing) and keeps
# Python's default level, WARNING, until the handler sets another.
_root = logging.getLogger()
_root.handlers[:] = [_HostLogHandler()]
_root.handlers[0].setFormatter(logging.Formatter("%(message)s"))


def _preload(names):
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            # An optional import (inside try/except in the handler): if the handler really
            # needs it, it fails at run time as it would anywhere else.
            pass


def _resolve(spec):
    module_name, _, function_name = spec.rpartition(".")
    if not module_name:
        raise ValueError(f'handler "{spec}" is not MODULE.FUNCTION')
    module = sys.modules.get(module_name)
    if module is None:
        known = ", ".join(sorted(sandstep_build.MODULES)) or "none"
        raise ImportError(
            f'handler module "{module_name}" was not built into this component '
            f"(its modules: {known}); rebuild with `host task build`"
        )
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise AttributeError(f'module "{module_name}" has no function "{function_name}"')
    return handler


_preload(sandstep_build.MODULES)
_preload(sandstep_build.IMPORTS)
# Fails the build, with the reason, when the default handler does not exist.
_resolve(sandstep_build.HANDLER)


def _source_root(spec):
    """The directory the handler's sources were built from, as the component sees it."""
    module_name = spec.rpartition(".")[0]
    path = getattr(sys.modules[module_name], "__file__", None) or ""
    tail = module_name.replace(".", "/")
    for suffix in (tail + ".py", tail + "/__init__.py"):
        if path.endswith("/" + suffix):
            return path[: -len(suffix)]
    return os.path.dirname(path) + "/"


_ROOT = _source_root(sandstep_build.HANDLER)

# Stack traces show source lines, but the sources are not there at run time: keep the
# handler's own files in linecache (an entry without mtime is never re-checked).
for _module in list(sys.modules.values()):
    _file = getattr(_module, "__file__", None) or ""
    if _file.startswith(_ROOT) and _file.endswith(".py"):
        if linecache.getline(_file, 1) or _file in linecache.cache:
            _size, _mtime, _lines, _name = linecache.cache[_file]
            linecache.cache[_file] = (_size, None, _lines, _name)


def _frames(tb):
    """The traceback as Lambda's Python runtime prints it, without the adapter's frames."""
    lines = []
    for frame in traceback.extract_tb(tb):
        if frame.filename == _ADAPTER_FILE:
            continue
        name = frame.filename
        if name.startswith(_ROOT):
            name = name[len(_ROOT) :]
        line = f'  File "{name}", line {frame.lineno}, in {frame.name}\n'
        if frame.line:
            line += f"    {frame.line.strip()}\n"
        lines.append(line)
    return lines


def _task_error(error_type, message, request_id, stack):
    cause = json.dumps(
        {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": request_id,
            "stackTrace": stack,
        }
    )
    return componentize_py_types.Err(_types.TaskError(error=error_type, cause=cause))


class LambdaContext:
    """What a Lambda context offers that makes sense for a Task state."""

    def __init__(self, ctx, request_id, handler):
        self.execution_id = ctx.execution_id
        self.state_name = ctx.state_name
        self.retry_count = ctx.retry_count
        self.aws_request_id = request_id
        self.handler = handler

    def __repr__(self):
        return (
            f"LambdaContext(execution_id={self.execution_id!r}, state_name={self.state_name!r}, "
            f"retry_count={self.retry_count!r}, aws_request_id={self.aws_request_id!r})"
        )


class WitWorld(wit_world.WitWorld):
    def run(self, input, ctx):
        request_id = str(uuid.uuid4())
        # As Lambda's `_HANDLER`: one package, several functions (the manifest's `env`).
        spec = os.environ.get("_HANDLER") or sandstep_build.HANDLER
        try:
            handler = _resolve(spec)
            result = handler(json.loads(input), LambdaContext(ctx, request_id, spec))
        except Exception as e:
            raise _task_error(type(e).__name__, str(e), request_id, _frames(e.__traceback__))
        if isinstance(result, (bytes, bytearray)):
            return bytes(result).decode("utf-8", errors="replace")
        try:
            return json.dumps(result)
        except Exception as e:
            raise _task_error(
                "Runtime.MarshalError", f"Unable to marshal response: {e}", request_id, []
            )
