"""What the Python ETL handlers share (the Python twin of example-tasks/etl-files)."""

import re

# The columns a transactions file must have, in this order.
COLUMNS = ["transaction_id", "customer_id", "date", "amount", "currency", "channel"]


def execution_file_name(execution_id):
    """The execution's name (the last part of its id), safe in a file name."""
    name = execution_id.rsplit(":", 1)[-1]
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:80]
    return safe or "execution"
