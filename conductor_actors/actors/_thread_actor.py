"""The thread flavour: ``ThreadActor`` (one thread per actor) and ``ActorPool`` (N threads, one
shared mailbox: whoever is free takes the next message)."""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from ._actor import Actor, check_start_options
from ._cell import Cell, ended_by
from ._mailbox import ThreadMailbox
from ._messages import _Ask, _Control
from ._ref import ActorRef
from ._timers import TimerService, default_timer_service

__all__ = ["ActorPool", "ThreadActor"]


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
        return launch_thread_actors(
            [cls(*args, **kwargs)], name=actor_name, owner=owner, timers=timers
        )


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
    if ref is None:
        ref = ActorRef(cell)
    else:
        ref._bind(cell)
    for actor in actors:
        actor.actor_ref = ref
        actor._actor_cell = cell
    cell.launch()
    return ref


class _ThreadCell(Cell):
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
                if not isinstance(item, _Ask):
                    break  # the stop message
                try:
                    result = receive(item.message)
                except Exception as exc:
                    item.resolve(None, exc)
                    continue
                except BaseException as exc:
                    item.resolve(None, ended_by(self.name, exc))
                    raise
                item.resolve(result, None)
                continue
            try:
                receive(item)
            except Exception as exc:
                self.record_failure(exc, f"on_receive({type(item).__qualname__})")
                self.run_hook(actor.on_failure, exc)
                return False
        return True
