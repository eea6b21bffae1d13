#!/usr/bin/env python3
"""Writes the scale run's input and expected output into DIR (default: this directory):
map.input.json holds N items (default 100,000), each a one-record batch for the filter
task; map.expected.json is what the Map must return, computed here independently.

Usage: bench/scale/gen.py [DIR] [-n N]
"""

import argparse
import json
from pathlib import Path


def record(i):
    return {"id": i, "active": i % 3 != 0, "score": (i * 37) % 101, "name": f"rec-{i}"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", nargs="?", default=Path(__file__).resolve().parent, type=Path)
    parser.add_argument("-n", type=int, default=100_000)
    args = parser.parse_args()
    items, expected = [], []
    for i in range(args.n):
        r = record(i)
        items.append({"records": [r]})
        kept = [{"id": r["id"], "score": r["score"]}] if r["active"] and r["score"] > 50 else []
        expected.append({"count": len(kept), "kept": kept})
    args.dir.mkdir(parents=True, exist_ok=True)
    (args.dir / "map.input.json").write_text(json.dumps({"items": items}, separators=(",", ":")))
    (args.dir / "map.expected.json").write_text(json.dumps(expected, separators=(",", ":")))


if __name__ == "__main__":
    main()
