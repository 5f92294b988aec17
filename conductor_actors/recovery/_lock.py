"""``DeliveryLock``: at most one worker tree delivers the outbox entries of a server at a time.

An exclusive ``flock`` on ``outbox-<digest>.lock`` in the state directory, one file per server
identity. The kernel drops the lock when its holder closes it or dies (SIGKILL included), so a
crashed tree never blocks the next one, and no clock or lease is involved. Worker processes
started with ``fork`` would inherit the descriptor and keep the lock alive after the parent died;
a fork hook closes their copies (the parent's lock is unaffected: a lock lives until every
descriptor of its open file is closed).
"""

from __future__ import annotations

import fcntl
import os

from ._identity import ServerIdentity

__all__ = ["DeliveryLock"]

#: Descriptors of the locks this process holds, closed in forked children.
_HELD: set[int] = set()


def _close_inherited() -> None:
    for fd in list(_HELD):
        try:
            os.close(fd)
        except OSError:
            pass  # already closed in this child
    _HELD.clear()


os.register_at_fork(after_in_child=_close_inherited)


class DeliveryLock:
    """The delivery lock of ``server`` in ``directory``. Not thread-safe: used by one actor at a
    time (the recovery actor's thread; ``release`` also from the parent's stop)."""

    def __init__(self, directory: str, server: ServerIdentity) -> None:
        self.server = server
        self.path = os.path.join(directory, f"outbox-{server.digest()}.lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock without waiting; True when this object holds it (now or already).
        Raises ``OSError`` when the lock file cannot be created or opened."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        _HELD.add(fd)
        try:  # for people looking at the state directory: whose lock this is
            os.ftruncate(fd, 0)
            os.write(fd, f"{self.server.label()}\npid {os.getpid()}\n".encode())
        except OSError:
            pass  # the lock holds without its label
        return True

    def release(self) -> None:
        """Give the lock up (nothing when not held); never raises."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        _HELD.discard(fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            pass  # closing below releases it as well
        os.close(fd)
