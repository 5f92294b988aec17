"""The supervisor's own mailbox: requests from other threads and from signal handlers.

``RequestBox.post`` only appends to a ``queue.SimpleQueue`` (whose ``put`` is reentrant, so a
signal handler may interrupt another ``put``) and writes one byte to a non-blocking socket. The
supervisor loop waits on the other end of that socket next to its children's pipes and sentinels,
so a request wakes it at once.
"""

from __future__ import annotations

import queue
import socket
from dataclasses import dataclass

__all__ = ["PauseRequest", "RequestBox", "ResumeRequest", "StopRequest", "SupervisorRequest"]


@dataclass(frozen=True)
class StopRequest:
    """Stop the tree: gracefully, or on the fast path; ``exit_code`` overrides the final code."""

    fast: bool = False
    exit_code: int | None = None


@dataclass(frozen=True)
class PauseRequest:
    """Tell every running child to stop polling (and every restarted one once it is Ready)."""


@dataclass(frozen=True)
class ResumeRequest:
    """Tell every running child to poll again."""


SupervisorRequest = StopRequest | PauseRequest | ResumeRequest


class RequestBox:
    """A queue of requests plus a wake-up socket.

    ``post`` may be called from any thread or a signal handler; ``open``, ``drain`` and ``close``
    belong to the supervisor thread.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[SupervisorRequest] = queue.SimpleQueue()
        self._reader: socket.socket | None = None
        self._writer: socket.socket | None = None

    def open(self) -> socket.socket:
        """Supervisor thread, once: create the wake-up socket pair; returns the end to wait on.

        Requests posted before this are kept and seen by the first ``drain``.
        """
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        self._reader, self._writer = reader, writer
        return reader

    def post(self, request: SupervisorRequest) -> None:
        """Queue ``request`` and wake the loop. Never blocks, never logs, never raises."""
        self._queue.put(request)
        writer = self._writer
        if writer is None:
            return  # not open yet (the loop drains first thing) or closed (nobody is listening)
        try:
            writer.send(b"\0")
        except OSError:
            pass  # full of wake-ups already (the loop is going to look anyway), or closed just now

    def drain(self) -> list[SupervisorRequest]:
        """Clear the wake-up bytes and return every queued request, oldest first."""
        if self._reader is not None:
            try:
                while self._reader.recv(4096):
                    pass
            except OSError:
                pass  # BlockingIOError: nothing more to read
        requests: list[SupervisorRequest] = []
        while True:
            try:
                requests.append(self._queue.get_nowait())
            except queue.Empty:
                return requests

    def close(self) -> None:
        """Supervisor thread: release the sockets; later posts are queued but wake nobody."""
        reader, writer = self._reader, self._writer
        self._reader = self._writer = None
        for sock in (reader, writer):
            if sock is not None:
                sock.close()
