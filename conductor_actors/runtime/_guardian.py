"""The stage guardian: the owner of every stage actor of one pipeline.

A stage actor only fails on a bug of the runtime: whatever a worker function raises, any
``BaseException`` included, fails its task instead (``worker._execution``). A pipeline missing a
stage would hold its slots forever while still heartbeating, so a failed stage is never left
alone: the guardian hands it to ``on_failure`` (a worker process then exits with code 1 and the
supervisor starts a fresh one).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..actors import ActorFailed, ThreadActor

__all__ = ["StageGuardian"]

_log = logging.getLogger("conductor_actors.runtime")


class StageGuardian(ThreadActor):
    """Receives ``ActorFailed`` from the stages it owns; runs on its own (daemon) thread."""

    use_daemon_thread = True

    def __init__(self, on_failure: Callable[[str, BaseException], None]) -> None:
        self.report = on_failure

    def on_receive(self, message: Any) -> None:
        if isinstance(message, ActorFailed):
            _log.critical("pipeline stage %s failed: %r", message.actor.name, message.exception)
            self.report(message.actor.name, message.exception)
