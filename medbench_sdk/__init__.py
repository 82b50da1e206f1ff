"""medbench submission SDK: the container contract (version 1) for Python submissions.

Standard library and numpy only, so it works in any image. A submission implements a class with
``load`` / ``embed`` / ``finetune`` and hands it to :func:`serve`; the SDK reads ``/input``, times the
work, writes the arrays and a complete ``result.json`` to ``/output``, and exits with a contract exit
code. See ``docs/contract.md`` for the contract itself; nothing here is required to implement it.
"""

from medbench_sdk.contract import CONTRACT_VERSION, EXIT_BAD_INPUT, EXIT_SUBMISSION_ERROR
from medbench_sdk.task import Task, read_task
from medbench_sdk.outputs import write_embeddings, write_predictions
from medbench_sdk.serve import ModelInfo, Submission, serve

__all__ = [
    "CONTRACT_VERSION",
    "EXIT_BAD_INPUT",
    "EXIT_SUBMISSION_ERROR",
    "ModelInfo",
    "Submission",
    "Task",
    "read_task",
    "serve",
    "write_embeddings",
    "write_predictions",
]
