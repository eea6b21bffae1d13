"""Runs Step Functions definitions on LocalStack's ASL interpreter, in-process.

Sandstep's differential test (host/tests/differential.rs) starts this once
and streams cases to it: one JSON object per line on stdin,
    {"id": ..., "definition": {...}, "input": ..., "type": "STANDARD"}
and one JSON object per line on stdout,
    {"id": ..., "status": "SUCCEEDED"|"FAILED"|"TIMED_OUT"|"DRIVER_ERROR",
     "output": ..., "error": ..., "cause": ...}
Each case runs with a wall-clock budget; a case that does not end in time is
reported as DRIVER_ERROR so one hang cannot stall the run.
"""

import json
import os
import resource
import sys
import threading
import traceback

# A case can make LocalStack allocate without bound (States.ArrayRange builds
# its whole list before checking the 1000-item cap); bound the process so
# that is a MemoryError in that case, not a machine out of memory.
MEMORY_BYTES = 3 * 1024 * 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))

# Results go to the real stdout; anything the interpreter prints or logs
# goes to stderr, so it can never be mistaken for a result line.
RESULTS = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)

from localstack.aws.api.stepfunctions import HistoryEventType
from localstack.services.stepfunctions.asl.eval.environment import Environment
from localstack.services.stepfunctions.asl.eval.evaluation_details import AWSExecutionDetails
from localstack.services.stepfunctions.asl.eval.event.event_manager import EventHistoryContext
from localstack.services.stepfunctions.asl.eval.program_state import (
    ProgramEnded,
    ProgramError,
    ProgramStopped,
    ProgramTimedOut,
)
from localstack.services.stepfunctions.asl.eval.states import (
    ContextObjectData,
    ExecutionData,
    StateMachineData,
)
from localstack.services.stepfunctions.asl.parse.asl_parser import AmazonStateLanguageParser

ACCOUNT = "111111111111"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sandstep-differential"
SM_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:differential"
CASE_SECONDS = 20


def run_case(case):
    definition = json.dumps(case["definition"])
    program = AmazonStateLanguageParser.parse(definition)[0]
    name = "run-" + str(case["id"])
    env = Environment(
        aws_execution_details=AWSExecutionDetails(account=ACCOUNT, region=REGION, role_arn=ROLE),
        execution_type=case.get("type", "STANDARD"),
        context=ContextObjectData(
            Execution=ExecutionData(
                Id=f"arn:aws:states:{REGION}:{ACCOUNT}:execution:differential:{name}",
                Input=case.get("input"),
                Name=name,
                RoleArn=ROLE,
                StartTime="2026-01-01T00:00:00.000Z",
            ),
            StateMachine=StateMachineData(Id=SM_ARN, Name="differential"),
        ),
        event_history_context=EventHistoryContext.of_program_start(),
        cloud_watch_logging_session=None,
        activity_store={},
    )
    program.eval(env)
    state = env.program_state()
    if isinstance(state, ProgramEnded):
        return {"status": "SUCCEEDED", "output": env.states.get_input()}
    if isinstance(state, ProgramError):
        details = state.error or {}
        return {
            "status": "FAILED",
            "error": details.get("error"),
            "cause": details.get("cause"),
        }
    if isinstance(state, ProgramTimedOut):
        return {"status": "TIMED_OUT"}
    if isinstance(state, ProgramStopped):
        return {"status": "ABORTED"}
    return {"status": "DRIVER_ERROR", "cause": f"unexpected program state {state!r}"}


def run_bounded(case):
    result = {}

    def target():
        try:
            result.update(run_case(case))
        except (Exception, MemoryError):  # refused the definition, crashed, or ran out of memory
            result.update(
                {"status": "DRIVER_ERROR", "cause": traceback.format_exc(limit=3)[-2000:]}
            )

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(CASE_SECONDS)
    if worker.is_alive():
        return {"status": "DRIVER_ERROR", "cause": f"no end within {CASE_SECONDS} s"}
    return result


def main():
    # Tell the caller the imports worked before the first case.
    RESULTS.write(json.dumps({"ready": True}) + "\n")
    RESULTS.flush()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        case = json.loads(line)
        out = run_bounded(case)
        out["id"] = case["id"]
        RESULTS.write(json.dumps(out) + "\n")
        RESULTS.flush()


if __name__ == "__main__":
    main()
