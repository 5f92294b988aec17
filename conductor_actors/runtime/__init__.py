"""The worker-process runtime: the pipeline (poller -> executor -> updater) in both flavours, the
child process entry point, and ``WorkerRunner`` to run one worker in the current process.

Names load on first use, so the parent process (which needs only the pipe messages and the
settings of a worker process) does not import the pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._child import child_main
    from ._child_spec import EXIT_BOOT_FAILURE, EXIT_CRASH, EXIT_OK, EXIT_RECYCLE, WorkerSettings
    from ._control import EventBatch, Exiting, Heartbeat, Pause, Ready, Resume, Stop, UndeliveredResult
    from ._runner import WorkerRunner, run_worker
    from ._shutdown import StopReport

__all__ = [
    "EXIT_BOOT_FAILURE",
    "EXIT_CRASH",
    "EXIT_OK",
    "EXIT_RECYCLE",
    "EventBatch",
    "Exiting",
    "Heartbeat",
    "Pause",
    "Ready",
    "Resume",
    "Stop",
    "StopReport",
    "UndeliveredResult",
    "WorkerRunner",
    "WorkerSettings",
    "child_main",
    "run_worker",
]

_LAZY = {
    "EXIT_BOOT_FAILURE": "._child_spec",
    "EXIT_CRASH": "._child_spec",
    "EXIT_OK": "._child_spec",
    "EXIT_RECYCLE": "._child_spec",
    "WorkerSettings": "._child_spec",
    "EventBatch": "._control",
    "Exiting": "._control",
    "Heartbeat": "._control",
    "Pause": "._control",
    "Ready": "._control",
    "Resume": "._control",
    "Stop": "._control",
    "UndeliveredResult": "._control",
    "child_main": "._child",
    "WorkerRunner": "._runner",
    "run_worker": "._runner",
    "StopReport": "._shutdown",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value
