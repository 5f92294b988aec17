"""The worker-process runtime: the pipeline (poller -> executor -> updater) in both flavours, the
child process entry point, and ``WorkerRunner`` to run one worker in the current process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._settings import RuntimeSettings, RuntimeSettingsError

if TYPE_CHECKING:
    from ._runner import WorkerRunner, run_worker
    from ._shutdown import StopReport

__all__ = ["RuntimeSettings", "RuntimeSettingsError", "StopReport", "WorkerRunner", "run_worker"]

_LAZY = {"WorkerRunner": "._runner", "run_worker": "._runner", "StopReport": "._shutdown"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value
