"""A hostile Python task for the hostile-guest suite (tests/tests/all/polyglot.rs): what it
does is chosen by the input's `op`, so one component covers every case."""

import socket


def handler(event, context):
    op = event["op"]
    if op == "echo":
        return event
    if op == "lazy_import":
        # Imported only here, inside a call: the build must have imported it before the snapshot.
        import csv
        import io

        return {"rows": list(csv.reader(io.StringIO(event["csv"])))}
    if op == "loop":
        n = 0
        while True:
            n += 1
    if op == "allocate":
        hoard = []
        while True:
            hoard.append(bytearray(1 << 20))
    if op == "read":
        try:
            with open(event["path"], "rb") as f:
                return {"ok": True, "content": f.read().decode("utf-8", "replace")}
        except OSError as e:
            return {"ok": False, "error": f"{type(e).__name__}: {e}"}
    if op == "write":
        try:
            with open(event["path"], "w") as f:
                f.write(event["data"])
            return {"ok": True}
        except OSError as e:
            return {"ok": False, "error": f"{type(e).__name__}: {e}"}
    if op == "connect":
        host, port = event["addr"].rsplit(":", 1)
        try:
            with socket.create_connection((host, int(port)), timeout=2):
                return {"ok": True}
        except Exception as e:
            return {"ok": False, "error": f"{type(e).__name__}: {e}"}
    if op == "resolve":
        try:
            return {"ok": True, "addresses": [a[4][0] for a in socket.getaddrinfo(event["name"], 80)]}
        except Exception as e:
            return {"ok": False, "error": f"{type(e).__name__}: {e}"}
    raise ValueError(f"unknown op {op!r}")
