"""The two flavours of actor: ``ThreadActor`` (one thread per actor), ``ActorPool`` (N thread
actors, one shared mailbox: whoever is free takes the next message) and ``AsyncioActor`` (one task
on a given event loop).

Each flavour is a ``start`` that builds the cell, and a receive loop that runs on the member's
thread or as the actor's task; what they share is the cell's (``_actor``). The loops are the hot
path: a told message costs one mailbox get, two checks and the call of ``on_receive``.

This module never imports asyncio at module level: sync worker processes run thread actors only
and must not load it. The asyncio code paths import it when they first run (an asyncio actor
exists only once a loop does).
"""

from __future__ import annotations

import inspect
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ._actor import Actor, ActorRef, Cell
from ._mailbox import LoopMailbox, ThreadMailbox, _Ask, _Control, running_here
from ._timers import LoopTimerService, TimerService, default_timer_service

if TYPE_CHECKING:
    import asyncio

__all__ = ["ActorPool", "AsyncioActor", "ThreadActor", "check_start_options", "launch_thread_actors"]

_numbers = itertools.count(1)

#: After this many messages handled without waiting, an asyncio actor yields once to its loop so
#: a busy actor cannot starve the other tasks.
_YIELD_EVERY = 100


def check_start_options(cls: type, owner: object, name: object, timers: object) -> str:
    """Validate the options every ``start`` takes; return the actor's name (given or made up)."""
    if owner is not None and not isinstance(owner, ActorRef):
        raise TypeError(f"owner must be an ActorRef or None, not {type(owner).__name__}")
    if timers is not None and not isinstance(timers, TimerService):
        raise TypeError(f"timers must be a TimerService or None, not {type(timers).__name__}")
    if name is None:
        return f"{cls.__name__}-{next(_numbers)}"
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty str, got {name!r}")
    return name


def _launch(cell: Cell, actors: Sequence[Actor], ref: ActorRef | None) -> ActorRef:
    """Point ``ref`` (a new one unless given: a restart) and every member at ``cell``, then run it."""
    if ref is None:
        ref = ActorRef(cell)
    else:
        ref._bind(cell)
    for actor in actors:
        actor.actor_ref = ref
        actor._actor_cell = cell
    cell.launch()
    return ref


# -- threads --------------------------------------------------------------------------------------


class ThreadActor(Actor):
    """An actor with its own thread; every hook runs on that thread.

    ``use_daemon_thread``: False (default) keeps the interpreter alive until the actor stopped,
    so ``on_stop`` gets to run; True lets the process exit without stopping it.
    """

    use_daemon_thread: ClassVar[bool] = False

    @classmethod
    def start(
        cls,
        *args: Any,
        owner: ActorRef | None = None,
        name: str | None = None,
        timers: TimerService | None = None,
        **kwargs: Any,
    ) -> ActorRef:
        """Build ``cls(*args, **kwargs)`` on the calling thread, start its thread, return its ref.

        ``owner`` receives ``ActorFailed`` if the actor fails; ``timers`` replaces the process-wide
        timer thread (e.g. ``ManualTimerService`` in tests). Raises what the constructor raises; a
        failing ``on_start`` does not raise here.
        """
        actor_name = check_start_options(cls, owner, name, timers)
        return launch_thread_actors([cls(*args, **kwargs)], name=actor_name, owner=owner, timers=timers)


class ActorPool:
    """A balancing pool of thread actors behind one ref and one shared mailbox.

    Each member is its own instance with its own state and thread; a message goes to whichever
    member is free. ``ask`` works as for one actor. A member failing on a told message fails the
    pool (every member stops; the owner receives one ``ActorFailed``). ``stop()`` stops every
    member after all messages queued before it.
    """

    @staticmethod
    def start(
        factory: Callable[[], ThreadActor],
        size: int,
        *,
        name: str | None = None,
        owner: ActorRef | None = None,
        timers: TimerService | None = None,
    ) -> ActorRef:
        """Call ``factory()`` ``size`` times on the calling thread and start one thread each.

        Raises ValueError for a bad ``size``, TypeError when the factory returns something that
        is not a ``ThreadActor``, and what the factory raises.
        """
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"pool size must be an int >= 1, got {size!r}")
        members = [factory() for _ in range(size)]
        pool_name = check_start_options(type(members[0]), owner, name, timers)
        return launch_thread_actors(members, name=pool_name, owner=owner, timers=timers)


def launch_thread_actors(
    actors: Sequence[Actor],
    *,
    name: str,
    owner: ActorRef | None,
    timers: TimerService | None,
    ref: ActorRef | None = None,
) -> ActorRef:
    """Start ``actors`` as members of one cell; rebind ``ref`` to it when given (restarts)."""
    members: list[ThreadActor] = []
    for actor in actors:
        if not isinstance(actor, ThreadActor):
            raise TypeError(f"expected a ThreadActor instance, got {type(actor).__qualname__}")
        for hook in ("on_start", "on_receive", "on_stop", "on_failure"):
            if inspect.iscoroutinefunction(getattr(actor, hook)):
                raise TypeError(
                    f"{type(actor).__qualname__}.{hook} is async: subclass AsyncioActor for coroutine hooks"
                )
        members.append(actor)
    cell = _ThreadCell(name, ThreadMailbox(name), owner, timers or default_timer_service(), members)
    return _launch(cell, members, ref)


class _ThreadCell(Cell):
    """The cell of a thread actor or pool; each member runs ``_run_member`` on its own thread."""

    def __init__(
        self,
        name: str,
        mailbox: ThreadMailbox,
        owner: ActorRef | None,
        timers: TimerService,
        actors: list[ThreadActor],
    ) -> None:
        super().__init__(name, mailbox, owner, timers, len(actors))
        self._get = mailbox.get
        self._actors = actors
        self._thread_ids: set[int] = set()
        self._threads: list[threading.Thread] = []

    def launch(self) -> None:
        """Caller's thread: start one thread per member."""
        daemon = all(actor.use_daemon_thread for actor in self._actors)
        single = len(self._actors) == 1
        for index, actor in enumerate(self._actors):
            thread_name = self.name if single else f"{self.name}-{index}"
            thread = threading.Thread(target=self._run_member, args=(actor,), name=thread_name, daemon=daemon)
            self._threads.append(thread)
            thread.start()

    def wait_dead(self, timeout: float | None) -> bool:
        """Block the calling thread until every member stopped and its thread ended; False on
        timeout. The cell is marked dead just before a member's thread returns, so without the
        join a caller could still see the thread alive (a test of leaked threads, say)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not super().wait_dead(timeout):
            return False
        for thread in self._threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if thread is not threading.current_thread():
                thread.join(remaining)
                if thread.is_alive():
                    return False
        return True

    def check_blocking_allowed(self) -> None:
        if threading.get_ident() in self._thread_ids:
            raise RuntimeError(
                f"actor {self.name!r} would wait for itself (deadlock); from its own thread use tell"
            )

    def _run_member(self, actor: Actor) -> None:
        """A member's thread: on_start, the receive loop, then on_stop or on_failure."""
        ident = threading.get_ident()
        self._thread_ids.add(ident)
        try:
            if self._start_member(actor) and self._receive(actor):
                self.run_hook(actor.on_stop)
        except BaseException as exc:
            self.record_abort(exc)
            raise
        finally:
            self._thread_ids.discard(ident)  # a later thread may get the same ident
            self.member_exited()

    def _start_member(self, actor: Actor) -> bool:
        try:
            actor.on_start()
        except Exception as exc:
            self.record_failure(exc, "on_start")
            self.run_hook(actor.on_failure, exc)
            return False
        return True

    def _receive(self, actor: Actor) -> bool:
        """Handle messages until stopped; True for a normal stop, False when this member failed."""
        get = self._get
        receive = actor.on_receive
        while not self.halting:
            item = get()
            if self.halting:
                self.drop_taken(item)
                break
            if isinstance(item, _Control):
                if isinstance(item, _Ask):
                    self.answer(item, receive)
                    continue
                break  # the stop message
            try:
                receive(item)
            except Exception as exc:
                self.record_failure(exc, f"on_receive({type(item).__qualname__})")
                self.run_hook(actor.on_failure, exc)
                return False
        return True


# -- an event loop --------------------------------------------------------------------------------


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
        loop: asyncio.AbstractEventLoop | None = None,
        owner: ActorRef | None = None,
        name: str | None = None,
        timers: TimerService | None = None,
        **kwargs: Any,
    ) -> ActorRef:
        """Build ``cls(*args, **kwargs)`` on the calling thread and run it as a task on ``loop``.

        ``loop`` defaults to the running loop; from a thread without one, pass it (the task is
        then created through ``call_soon_threadsafe``). Other options as for ``ThreadActor``;
        ``timers`` defaults to the loop's ``call_later``. Raises RuntimeError when there is no
        loop or it is closed, and what the constructor raises.
        """
        import asyncio  # see the module docstring

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
        return _launch(cell, (actor,), None)


class _LoopCell(Cell):
    """The cell of an asyncio actor; ``_run`` is the actor's task on ``loop``."""

    def __init__(
        self,
        name: str,
        mailbox: LoopMailbox,
        owner: ActorRef | None,
        timers: TimerService,
        actor: AsyncioActor,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        import asyncio  # see the module docstring

        super().__init__(name, mailbox, owner, timers, 1)
        self.loop = loop
        self._loop_mailbox = mailbox
        self._actor = actor
        self._task: asyncio.Task[None] | None = None
        self._current_task = asyncio.current_task

    def launch(self) -> None:
        """Caller's thread: create the actor's task on its loop."""
        if running_here(self.loop):
            self._create_task()
            return
        try:
            self.loop.call_soon_threadsafe(self._create_task)
        except RuntimeError as exc:
            raise RuntimeError(f"actor {self.name!r}: the event loop is closed") from exc

    def _create_task(self) -> None:
        self._task = self.loop.create_task(self._run(), name=f"actor {self.name}")

    def check_blocking_allowed(self) -> None:
        if running_here(self.loop):
            raise RuntimeError(
                f"actor {self.name!r} runs on this event loop: blocking on it would deadlock; "
                "use ask_async / stop_async / join_async"
            )

    def check_async_allowed(self) -> None:
        if self._task is not None and self._current_task() is self._task:
            raise RuntimeError(f"actor {self.name!r} would wait for itself (deadlock); use tell")

    async def _run(self) -> None:
        """The actor's task: on_start, the receive loop, then on_stop or on_failure."""
        import asyncio  # loaded already: this runs on a loop

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
            self.log_hook_error(hook)

    async def _start_member(self, actor: AsyncioActor) -> bool:
        try:
            await _invoke(actor.on_start)
        except Exception as exc:
            self.record_failure(exc, "on_start")
            await self._run_hook_async(actor.on_failure, exc)
            return False
        return True

    async def _answer_async(self, ask: _Ask, receive: Callable[[Any], Any]) -> None:
        """``answer`` for an ``async def`` on_receive."""
        try:
            result = await receive(ask.message)
        except BaseException as exc:
            self.ask_failed(ask, exc)
            return
        ask.resolve(result, None)

    async def _receive(self, actor: AsyncioActor) -> bool:
        """Handle messages until stopped; True for a normal stop, False when the actor failed."""
        import asyncio  # loaded already: this runs on a loop

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
                if is_async:
                    await self._answer_async(item, receive)
                else:
                    self.answer(item, receive)
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
