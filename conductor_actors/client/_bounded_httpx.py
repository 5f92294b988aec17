"""A whole-answer deadline for one call through httpx's own transport.

Why: httpx (httpcore) applies the read timeout to each network read, so a server that sends a byte
now and then keeps a call open for as long as it likes. ``AnswerDeadline`` bounds the whole answer
with public httpx hooks only: its ``trace`` callback (the ``trace`` request extension) starts a
loop timer once the request has been sent, and at the deadline the timer cancels the task making
the call. The caller turns that cancellation into a timeout with ``absorb_cancel``; httpcore closes
a connection whose answer was cut short, so it is never reused.

Runs on the event loop of the calling task; one instance per call.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["AnswerDeadline"]

#: The trace event httpcore sends once a request has gone out and the answer is awaited.
_ANSWER_AWAITED = "http11.receive_response_headers.started"


class AnswerDeadline:
    """Cancels the calling task if the answer is not complete ``budget`` seconds after the request was sent.

    Use::

        deadline = AnswerDeadline(budget)
        try:
            response = await client.request(..., extensions={"trace": deadline.trace})
        except asyncio.CancelledError:
            if deadline.absorb_cancel():
                raise <a timeout error> from None
            raise
        finally:
            deadline.disarm()
    """

    __slots__ = ("_budget", "_loop", "_task", "_timer", "expired")

    def __init__(self, budget: float) -> None:
        self._budget = budget
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._timer: asyncio.TimerHandle | None = None
        self.expired = False

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpx ``trace`` extension: arms the timer when the answer starts to be awaited (once)."""
        if event == _ANSWER_AWAITED and self._timer is None and self._task is not None:
            self._timer = self._loop.call_later(self._budget, self._expire)

    def _expire(self) -> None:
        self.expired = True
        assert self._task is not None
        self._task.cancel()

    def disarm(self) -> None:
        """Stop the timer (the call is over, one way or another)."""
        if self._timer is not None:
            self._timer.cancel()

    def absorb_cancel(self) -> bool:
        """After a ``CancelledError``: True when it was this deadline's own cancellation, now consumed.

        False when the deadline did not fire, or (Python 3.11+) when someone else cancelled the
        task as well: then the cancellation must go on.
        """
        if not self.expired:
            return False
        uncancel = getattr(self._task, "uncancel", None)  # Python 3.11+
        return uncancel is None or uncancel() == 0
