"""ETL example, first step, in Python: checks that a transactions file has the expected columns,
in order, and counts its data rows. A wrong header is a finding (`valid: false` with the
problems), not an error, so the pipeline's Choice can route it; an unreadable file is an error
(an OSError, which the pipeline's Catch on States.ALL routes to the failure branch)."""

import csv
import logging
import time

from etl_common import COLUMNS

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def header_problems(columns):
    """Every way `columns` differs from COLUMNS, worded for the failure notice."""
    if not columns:
        return [f'the file is empty; expected the header "{",".join(COLUMNS)}"']
    problems = [f'missing column "{c}"' for c in COLUMNS if c not in columns]
    problems += [f'unexpected column "{c}"' for c in columns if c not in COLUMNS]
    if not problems and columns != COLUMNS:
        problems.append(
            f'columns are in the order "{",".join(columns)}"; expected "{",".join(COLUMNS)}"'
        )
    return problems


def handler(event, context):
    started = time.perf_counter()
    path = event["file"]
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        columns = [c.strip() for c in header] if header else []
        rows = sum(1 for _ in reader)
    problems = header_problems(columns)
    logger.info("%s: %d rows, %d problems", path, rows, len(problems))
    return {
        "valid": not problems,
        "rows": rows,
        "columns": columns,
        "problems": problems,
        "elapsed_ms": (time.perf_counter() - started) * 1e3,
    }
