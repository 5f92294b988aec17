"""Supervision of parent-side thread actors: ``ActorSupervisor`` (one_for_one) and its pure
building blocks ``RestartPolicy``, ``RestartIntensity`` and ``restart_backoff``.

The building blocks have no I/O and take an injectable clock and random source.
``RestartPolicy`` bundles the numbers, ``RestartIntensity`` is the sliding-window limit (more than
``max_restarts`` within ``within`` seconds = give up), ``restart_backoff`` the delay before the
n-th consecutive restart: ``min(cap, base * 2**(n-1))`` with +-``jitter`` (a fraction).

The supervisor is itself a thread actor and the owner of every child, so a failing child reaches
it as an ``ActorFailed`` message. It then waits ``policy.backoff(n)`` (a timer message to itself,
never a sleep) and builds a fresh instance from the child's factory behind the SAME ``ActorRef``,
so whoever holds the ref reaches the new instance. A child that fails more than
``policy.max_restarts`` times within ``policy.within`` seconds (or ends by a BaseException such
as KeyboardInterrupt) is given up: logged at ERROR, left stopped, reported to ``on_give_up``.
A child stopped on purpose (``ref.stop()``) is not restarted. ``stop_all`` stops the children in
reverse start order, then the supervisor.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._actor import ActorFailed, ActorRef
from ._flavours import ThreadActor, check_start_options, launch_thread_actors
from ._mailbox import ActorDeadError
from ._timers import TimerHandle, TimerService

__all__ = ["ActorSupervisor", "RestartIntensity", "RestartPolicy", "restart_backoff"]

_log = logging.getLogger("conductor_actors.actors")


def _require_number(name: str, value: float, *, minimum: float, inclusive: bool = True) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < minimum or (not inclusive and value == minimum):
        relation = ">=" if inclusive else ">"
        raise ValueError(f"{name} must be {relation} {minimum}, got {value!r}")


def _require_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")


def _check_jitter(jitter: float) -> None:
    _require_number("jitter", jitter, minimum=0.0)
    if jitter >= 1:
        raise ValueError(f"jitter must be a fraction in [0, 1), got {jitter!r}")


@dataclass(frozen=True, kw_only=True)
class RestartPolicy:
    """How a supervisor restarts a failed actor (seconds; validated on construction).

    - ``max_restarts`` / ``within``: more restarts than this inside the sliding window = give up;
    - ``backoff_base`` / ``backoff_cap`` / ``jitter``: the delay before the n-th consecutive
      restart (see ``restart_backoff``);
    - ``reset_after``: an actor that ran this long before failing counts as n = 1 again.
    """

    max_restarts: int = 10
    within: float = 300.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    jitter: float = 0.2
    reset_after: float = 60.0

    def __post_init__(self) -> None:
        _require_count("max_restarts", self.max_restarts)
        _require_number("within", self.within, minimum=0.0, inclusive=False)
        _require_number("backoff_base", self.backoff_base, minimum=0.0)
        _require_number("backoff_cap", self.backoff_cap, minimum=0.0)
        _check_jitter(self.jitter)
        _require_number("reset_after", self.reset_after, minimum=0.0)

    def backoff(self, n: int, rng: Callable[[], float] = random.random) -> float:
        """The delay before the ``n``-th consecutive restart under this policy."""
        return restart_backoff(n, base=self.backoff_base, cap=self.backoff_cap, jitter=self.jitter, rng=rng)


class RestartIntensity:
    """Sliding-window restart limit: ``record()`` turns False once more than ``max_restarts``
    restarts happened within the last ``within`` seconds of ``clock``.

    Not thread-safe: one owner (e.g. a supervisor actor) calls it.
    """

    def __init__(
        self, max_restarts: int = 10, within: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        _require_count("max_restarts", max_restarts)
        _require_number("within", within, minimum=0.0, inclusive=False)
        self.max_restarts = max_restarts
        self.within = float(within)
        self._clock = clock
        self._times: deque[float] = deque()

    def record(self) -> bool:
        """Count a restart now; False when that makes more than ``max_restarts`` in the window."""
        now = self._clock()
        times = self._times
        times.append(now)
        horizon = now - self.within
        while times and times[0] <= horizon:
            times.popleft()
        return len(times) <= self.max_restarts

    def count(self) -> int:
        """Restarts recorded within the window ending now."""
        horizon = self._clock() - self.within
        return sum(1 for stamp in self._times if stamp > horizon)


def restart_backoff(
    n: int,
    *,
    base: float = 0.5,
    cap: float = 30.0,
    jitter: float = 0.2,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before the ``n``-th consecutive restart (n >= 1).

    ``min(cap, base * 2**(n-1))`` scaled by a uniform factor in ``[1 - jitter, 1 + jitter)``
    drawn from ``rng`` (a ``random.random``-like function returning [0, 1)).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n (the consecutive restart number) must be an int >= 1, got {n!r}")
    _require_number("base", base, minimum=0.0)
    _require_number("cap", cap, minimum=0.0)
    _check_jitter(jitter)
    delay = min(cap, base * 2.0 ** min(n - 1, 1000))
    return delay * (1.0 + jitter * (2.0 * rng() - 1.0))


# -- the supervisor -------------------------------------------------------------------------------


GiveUpCallback = Callable[[ActorRef, BaseException], None]


@dataclass(frozen=True, slots=True)
class _StartChild:
    factory: Callable[[], ThreadActor]
    name: str | None


@dataclass(frozen=True, slots=True)
class _RestartDue:
    ref: ActorRef


@dataclass(frozen=True, slots=True)
class _ListChildren:
    pass


@dataclass(frozen=True, slots=True)
class _StopAll:
    deadline: float | None


class _Child:
    """A supervised child's record; owned by the supervisor's thread."""

    __slots__ = ("crashes", "done", "factory", "intensity", "ref", "started_at", "timer")

    def __init__(
        self,
        ref: ActorRef,
        factory: Callable[[], ThreadActor],
        intensity: RestartIntensity,
        now: float,
    ) -> None:
        self.ref = ref
        self.factory = factory
        self.intensity = intensity
        self.crashes = 0
        self.started_at = now
        self.timer: TimerHandle | None = None
        self.done = False


class _SupervisorActor(ThreadActor):
    """Runs on the supervisor's thread; every method below runs there."""

    use_daemon_thread = True

    def __init__(self, policy: RestartPolicy, rng: Callable[[], float], on_give_up: GiveUpCallback | None) -> None:
        self._policy = policy
        self._rng = rng
        self._on_give_up = on_give_up
        self._children: dict[ActorRef, _Child] = {}

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, ActorFailed):
            child = self._children.get(message.actor)
            if child is not None and not child.done:
                self._child_failed(child, message.exception)
        elif isinstance(message, _RestartDue):
            self._restart(self._children[message.ref])
        elif isinstance(message, _StartChild):
            return self._start_child(message)
        elif isinstance(message, _ListChildren):
            return tuple(self._children)
        elif isinstance(message, _StopAll):
            return self._stop_all(message.deadline)
        else:
            _log.warning("supervisor %s ignored a %s message", self.actor_ref.name, type(message).__qualname__)
        return None

    def _now(self) -> float:
        return self._actor_cell.timers.now()

    def _start_child(self, request: _StartChild) -> ActorRef:
        actor = request.factory()
        name = check_start_options(type(actor), None, request.name, None)
        ref = launch_thread_actors(
            [actor], name=name, owner=self.actor_ref, timers=self._actor_cell.timers
        )
        intensity = RestartIntensity(self._policy.max_restarts, self._policy.within, clock=self._now)
        self._children[ref] = _Child(ref, request.factory, intensity, self._now())
        return ref

    def _child_failed(self, child: _Child, exc: BaseException) -> None:
        if child.ref._stop_requested:
            child.done = True  # it was being stopped on purpose: not restarted
            return
        if not isinstance(exc, Exception):
            self._give_up(child, exc, f"it ended by {type(exc).__name__}")
            return
        now = self._now()
        if now - child.started_at >= self._policy.reset_after:
            child.crashes = 0
        child.crashes += 1
        if not child.intensity.record():
            self._give_up(
                child, exc, f"more than {self._policy.max_restarts} restarts within {self._policy.within:g} s"
            )
            return
        delay = self._policy.backoff(child.crashes, self._rng)
        _log.warning(
            "actor %s failed (%s, consecutive failure %d); restarting it in %.2f s",
            child.ref.name, type(exc).__name__, child.crashes, delay,
        )
        child.timer = self.send_after(delay, _RestartDue(child.ref))

    def _restart(self, child: _Child) -> None:
        child.timer = None
        if child.done:
            return
        if child.ref._stop_requested:
            child.done = True
            return
        try:
            launch_thread_actors(
                [child.factory()],
                name=child.ref.name,
                owner=self.actor_ref,
                timers=self._actor_cell.timers,
                ref=child.ref,
            )
        except Exception as exc:
            _log.error("actor %s: could not build a fresh instance", child.ref.name, exc_info=exc)
            self._child_failed(child, exc)
            return
        child.started_at = self._now()
        _log.info("actor %s restarted", child.ref.name)

    def _give_up(self, child: _Child, exc: BaseException, why: str) -> None:
        child.done = True
        _log.error(
            "actor %s failed (%s) and is given up: %s; it stays stopped", child.ref.name, type(exc).__name__, why
        )
        if self._on_give_up is not None:
            self._actor_cell.run_hook(self._on_give_up, child.ref, exc)

    def _stop_all(self, deadline: float | None) -> list[str]:
        not_stopped: list[str] = []
        for child in reversed(list(self._children.values())):
            child.done = True
            if child.timer is not None:
                child.timer.cancel()
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                child.ref.stop(timeout=remaining)
            except TimeoutError:
                _log.warning("actor %s did not stop in time", child.ref.name)
                not_stopped.append(child.ref.name)
        self.stop_self()
        return not_stopped


class ActorSupervisor:
    """Starts thread actors from factories and keeps them running (see the module docstring).

    ``timers`` drives the restart delays and the clock of the intensity window (pass a
    ``ManualTimerService`` in tests); children get the same timer service. ``rng`` draws the
    backoff jitter. ``on_give_up(ref, exc)`` runs on the supervisor's thread; what it raises is
    logged. Methods may be called from any thread except a supervised actor's own.
    """

    def __init__(
        self,
        policy: RestartPolicy | None = None,
        *,
        name: str = "actor-supervisor",
        timers: TimerService | None = None,
        rng: Callable[[], float] = random.random,
        on_give_up: GiveUpCallback | None = None,
    ) -> None:
        if policy is None:
            policy = RestartPolicy()
        elif not isinstance(policy, RestartPolicy):
            raise TypeError(f"policy must be a RestartPolicy, not {type(policy).__name__}")
        if on_give_up is not None and not callable(on_give_up):
            raise TypeError("on_give_up must be callable or None")
        self._ref = _SupervisorActor.start(policy, rng, on_give_up, name=name, timers=timers)

    def start_child(self, factory: Callable[[], ThreadActor], *, name: str | None = None) -> ActorRef:
        """Build ``factory()`` (on the supervisor's thread) and start it as a supervised child.

        The returned ref stays valid across restarts. Raises what the factory raises, TypeError
        when it does not return a ``ThreadActor``, ``ActorDeadError`` after ``stop_all``.
        """
        if not callable(factory):
            raise TypeError(f"factory must be callable, not {type(factory).__name__}")
        ref: ActorRef = self._ref.ask(_StartChild(factory, name))
        return ref

    def children(self) -> tuple[ActorRef, ...]:
        """Refs of every child ever started, in start order (including given-up ones)."""
        refs: tuple[ActorRef, ...] = self._ref.ask(_ListChildren())
        return refs

    def stop_all(self, timeout: float | None = None) -> list[str]:
        """Stop every child in reverse start order, then the supervisor; blocks the caller.

        ``timeout`` bounds the whole operation; returns the names of children that did not stop
        within it (each is logged). Calling it again returns an empty list.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            not_stopped: list[str] = self._ref.ask(_StopAll(deadline))
        except ActorDeadError:
            return []
        self._ref.join()  # its handler has returned: the thread is ending
        return not_stopped
