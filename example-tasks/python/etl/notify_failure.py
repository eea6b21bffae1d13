"""ETL example, failure branch, in Python: writes a notice saying why a file was not processed to
the granted /notifications directory, and returns it. Its input is the whole state, which holds
either the schema check's findings (`validation`) or an error a Catch recorded (`error`)."""

import json
import logging

from etl_common import execution_file_name

NOTIFICATIONS = "/notifications"

logger = logging.getLogger()


def handler(event, context):
    caught = event.get("error")
    validation = event.get("validation")
    if caught:
        reason = f"step failed with {caught.get('Error')}"
        details = [caught.get("Cause", "")]
    elif validation:
        reason = "the file failed the schema check"
        details = validation.get("problems", [])
    else:
        reason = "the pipeline failed for an unknown reason"
        details = []
    notice = {
        "path": f"{NOTIFICATIONS}/failure-{execution_file_name(context.execution_id)}.json",
        "execution_id": context.execution_id,
        "file": event.get("file"),
        "reason": reason,
        "details": details,
    }
    with open(notice["path"], "w", encoding="utf-8") as out:
        out.write(json.dumps(notice, indent=2) + "\n")
    logger.warning("%s: %s", notice["path"], reason)
    return notice
