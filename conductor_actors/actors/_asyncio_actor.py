"""The asyncio flavour: ``AsyncioActor``, one task on a given event loop."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

from ._actor import Actor, check_start_options
from ._cell import Cell, ended_by
from ._mailbox import LoopMailbox
from ._messages import _Ask, _Control
from ._ref import ActorRef
from ._timers import LoopTimerService, TimerService

__all__ = ["AsyncioActor"]

_log = logging.getLogger("conductor_actors.actors")

#: After this many messages handled without waiting, the actor yields once to its loop so a
#: busy actor cannot starve the other tasks.
_YIELD_EVERY = 100


class AsyncioActor(Actor):
    """An actor that runs as one task on an event loop; every hook runs on that loop.

    ``on_receive``, ``on_start``, ``on_stop`` and ``on_failure`` may be ``async def``; the actor
    still handles one message at a time (an awaiting ``on_receive`` holds the next message back).
    Blocking calls inside a hook block the whole loop.

    If the loop is cancelled away (e.g. ``asyncio.run`` ending), the actor ends without
    ``on_stop``/``on_failure`` and without telling its owner; queued asks get ``ActorDeadError``.
    """

    @classmethod
    def start(
        cls,
        *args: Any,
        owner: ActorRef | None = None,
        name: str | None = None,
        timers: TimerService | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        **kwargs: Any,
    ) -> ActorRef:
        """Build ``cls(*args, **kwargs)`` on the calling thread and run it as a task on ``loop``.

        ``loop`` defaults to the running loop; from a thread without one, pass it (the task is
        then created through ``call_soon_threadsafe``). Other options as for ``ThreadActor``;
        ``timers`` defaults to the loop's ``call_later``. Raises RuntimeError when there is no
        loop or it is closed, and what the constructor raises.
        """
        actor_name = check_start_options(cls, owner, name, timers)
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise RuntimeError(
                    f"{cls.__qualname__}.start(): no running event loop in this thread; pass loop="
                ) from None
        elif not isinstance(loop, asyncio.AbstractEventLoop):
            raise TypeError(f"loop must be an asyncio event loop, not {type(loop).__name__}")
        if loop.is_closed():
            raise RuntimeError(f"{cls.__qualname__}.start(): the event loop is closed")
        actor = cls(*args, **kwargs)
        mailbox = LoopMailbox(actor_name, loop)
        cell = _LoopCell(actor_name, mailbox, owner, timers or LoopTimerService(loop), actor, loop)
        ref = ActorRef(cell)
        actor.actor_ref = ref
        actor._actor_cell = cell
        cell.launch()
        return ref


class _LoopCell(Cell):
    def __init__(
        self,
        name: str,
        mailbox: LoopMailbox,
        owner: ActorRef | None,
        timers: TimerService,
        actor: AsyncioActor,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        super().__init__(name, mailbox, owner, timers, 1)
        self.loop = loop
        self._loop_mailbox = mailbox
        self._actor = actor
        self._task: asyncio.Task[None] | None = None

    def launch(self) -> None:
        """Caller's thread: create the actor's task on its loop."""
        if asyncio._get_running_loop() is self.loop:
            self._create_task()
            return
        try:
            self.loop.call_soon_threadsafe(self._create_task)
        except RuntimeError as exc:
            raise RuntimeError(f"actor {self.name!r}: the event loop is closed") from exc

    def _create_task(self) -> None:
        self._task = self.loop.create_task(self._run(), name=f"actor {self.name}")

    def check_blocking_allowed(self) -> None:
        if asyncio._get_running_loop() is self.loop:
            raise RuntimeError(
                f"actor {self.name!r} runs on this event loop: blocking on it would deadlock; "
                "use ask_async / stop_async / join_async"
            )

    def check_async_allowed(self) -> None:
        if self._task is not None and asyncio.current_task() is self._task:
            raise RuntimeError(f"actor {self.name!r} would wait for itself (deadlock); use tell")

    async def _run(self) -> None:
        """The actor's task: on_start, the receive loop, then on_stop or on_failure."""
        actor = self._actor
        try:
            if await self._start_member(actor) and await self._receive(actor):
                await self._run_hook_async(actor.on_stop)
        except asyncio.CancelledError:
            self.record_cancel()
            raise
        except BaseException as exc:
            self.record_abort(exc)
            raise
        finally:
            self.member_exited()

    async def _run_hook_async(self, hook: Callable[..., Any], *args: Any) -> None:
        """Run a clean-up hook, sync or async; an Exception from it is logged, not raised."""
        try:
            await _invoke(hook, *args)
        except Exception:
            _log.exception("actor %s: %s raised", self.name, getattr(hook, "__name__", "hook"))

    async def _start_member(self, actor: AsyncioActor) -> bool:
        try:
            await _invoke(actor.on_start)
        except Exception as exc:
            self.record_failure(exc, "on_start")
            await self._run_hook_async(actor.on_failure, exc)
            return False
        return True

    async def _receive(self, actor: AsyncioActor) -> bool:
        """Handle messages until stopped; True for a normal stop, False when the actor failed."""
        items = self._loop_mailbox.items
        wait = self._loop_mailbox.wait
        receive = actor.on_receive
        is_async = inspect.iscoroutinefunction(receive)
        budget = _YIELD_EVERY
        while not self.halting:
            if not budget:
                budget = _YIELD_EVERY
                await asyncio.sleep(0)
            if items:
                item = items.popleft()
                budget -= 1
            else:
                item = await wait()
                budget = _YIELD_EVERY
            if self.halting:
                self.drop_taken(item)
                break
            if isinstance(item, _Control):
                if not isinstance(item, _Ask):
                    break  # the stop message
                try:
                    result = receive(item.message)
                    if is_async:
                        result = await result
                except Exception as exc:
                    item.resolve(None, exc)
                    continue
                except BaseException as exc:
                    item.resolve(None, ended_by(self.name, exc))
                    raise
                item.resolve(result, None)
                continue
            try:
                if is_async:
                    await receive(item)
                else:
                    receive(item)
            except Exception as exc:
                self.record_failure(exc, f"on_receive({type(item).__qualname__})")
                await self._run_hook_async(actor.on_failure, exc)
                return False
        return True


async def _invoke(hook: Callable[..., Any], *args: Any) -> None:
    """Call a hook that may be a plain function or a coroutine function."""
    result = hook(*args)
    if inspect.isawaitable(result):
        await result
