"""ActorSupervisor with a ManualTimerService: restart delays are checked without waiting."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from actors._support import WAIT

from conductor_actors.actors import (
    ActorDeadError,
    ActorRef,
    ActorSupervisor,
    AsyncioActor,
    ManualTimerService,
    RestartPolicy,
    ThreadActor,
)

NO_JITTER = RestartPolicy(jitter=0.0)


class Worker(ThreadActor):
    """A supervised child; ``incarnation`` tells instances apart, ``state`` shows freshness."""

    def __init__(self, incarnation: int, stops: queue.Queue[str], fail_on_start: bool = False) -> None:
        self.incarnation = incarnation
        self.stops = stops
        self.fail_on_start = fail_on_start
        self.state: list[str] = []

    def on_start(self) -> None:
        if self.fail_on_start:
            raise RuntimeError(f"incarnation {self.incarnation} cannot start")

    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crash")
        if message == "exit":
            raise SystemExit(2)
        if message == "who":
            return self.incarnation, list(self.state)
        self.state.append(message)
        return None

    def on_stop(self) -> None:
        self.stops.put(self.actor_ref.name)


class Factory:
    """Builds Workers and counts them; ``plan`` may make some incarnations fail."""

    def __init__(self, stops: queue.Queue[str], plan: Callable[[int], str] = lambda n: "ok") -> None:
        self.built = 0
        self.stops = stops
        self.plan = plan

    def __call__(self) -> Worker:
        self.built += 1
        what = self.plan(self.built)
        if what == "factory-error":
            raise OSError("factory broke")
        return Worker(self.built, self.stops, fail_on_start=what == "fail-start")


@pytest.fixture
def timers() -> ManualTimerService:
    return ManualTimerService()


@pytest.fixture
def given_up() -> queue.Queue[tuple[ActorRef, BaseException]]:
    return queue.Queue()


@pytest.fixture
def make_supervisor(
    timers: ManualTimerService, given_up: queue.Queue[tuple[ActorRef, BaseException]]
) -> Iterator[Callable[..., ActorSupervisor]]:
    made: list[ActorSupervisor] = []

    def make(policy: RestartPolicy = NO_JITTER, **kwargs: Any) -> ActorSupervisor:
        kwargs.setdefault("on_give_up", lambda ref, exc: given_up.put((ref, exc)))
        supervisor = ActorSupervisor(policy, timers=timers, **kwargs)
        made.append(supervisor)
        return supervisor

    yield make
    for supervisor in made:
        supervisor.stop_all(WAIT)


def crash(supervisor: ActorSupervisor, ref: ActorRef, message: str = "crash") -> None:
    """Make the child fail and wait until the supervisor has handled the news."""
    ref.tell(message)
    assert ref.join(WAIT)  # the owner is told before join() returns ...
    supervisor.children()  # ... and this round trip comes after that notice


def test_a_failed_child_is_restarted_fresh_behind_the_same_ref_after_the_backoff(
    make_supervisor: Callable[..., ActorSupervisor], timers: ManualTimerService
) -> None:
    supervisor = make_supervisor()
    factory = Factory(queue.Queue())
    ref = supervisor.start_child(factory, name="worker")
    ref.tell("remember me")
    assert ref.ask("who", timeout=WAIT) == (1, ["remember me"])

    crash(supervisor, ref)
    assert not ref.is_alive()
    with pytest.raises(ActorDeadError):
        ref.tell("while down")
    assert timers.advance(0.49) == 0  # backoff for the 1st failure: 0.5 s
    assert timers.advance(0.01) == 1
    supervisor.children()  # the restart message has been handled
    assert ref.is_alive()
    assert ref.ask("who", timeout=WAIT) == (2, [])  # a new instance: fresh state
    assert factory.built == 2
    assert supervisor.children() == (ref,)


def test_consecutive_failures_back_off_longer_and_long_uptime_resets_the_count(
    make_supervisor: Callable[..., ActorSupervisor], timers: ManualTimerService
) -> None:
    supervisor = make_supervisor()
    ref = supervisor.start_child(Factory(queue.Queue()))
    crash(supervisor, ref)
    assert timers.advance(0.5) == 1
    supervisor.children()
    crash(supervisor, ref)  # at once again: 2nd consecutive failure
    assert timers.advance(0.99) == 0
    assert timers.advance(0.01) == 1  # 1.0 s
    supervisor.children()
    assert timers.advance(60.0) == 0  # stays up for reset_after
    crash(supervisor, ref)
    assert timers.advance(0.5) == 1  # counted as a 1st failure again
    supervisor.children()
    assert ref.ask("who", timeout=WAIT)[0] == 4


def test_a_child_failing_more_than_the_intensity_is_given_up(
    make_supervisor: Callable[..., ActorSupervisor],
    timers: ManualTimerService,
    given_up: queue.Queue[tuple[ActorRef, BaseException]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    supervisor = make_supervisor(RestartPolicy(max_restarts=2, within=100.0, jitter=0.0))
    factory = Factory(queue.Queue(), plan=lambda n: "fail-start")
    ref = supervisor.start_child(factory, name="hopeless")  # start() does not raise for on_start

    def settle() -> None:
        supervisor.children()  # a pending restart has been done
        assert ref.join(WAIT)  # the (new) instance failed in on_start ...
        supervisor.children()  # ... and the supervisor has handled that

    settle()
    assert timers.advance(0.5) == 1  # restart 1
    settle()
    assert timers.advance(1.0) == 1  # restart 2
    settle()
    gave_up_on, exc = given_up.get(timeout=WAIT)  # the 3rd restart would exceed 2 within 100 s
    assert gave_up_on is ref and "incarnation 3" in str(exc)
    assert timers.pending() == 0
    assert timers.advance(1000.0) == 0
    assert factory.built == 3 and not ref.is_alive()
    assert any(r.levelno == logging.ERROR and "hopeless" in r.getMessage() and "given up" in r.getMessage()
               for r in caplog.records)
    assert supervisor.children() == (ref,)  # the supervisor itself is fine


def test_a_factory_error_during_restart_counts_as_a_failure(
    make_supervisor: Callable[..., ActorSupervisor], timers: ManualTimerService
) -> None:
    supervisor = make_supervisor()
    factory = Factory(queue.Queue(), plan=lambda n: "factory-error" if n == 2 else "ok")
    ref = supervisor.start_child(factory)
    crash(supervisor, ref)
    assert timers.advance(0.5) == 1  # the factory raises: scheduled again, as a 2nd failure
    supervisor.children()
    assert timers.advance(1.0) == 1
    supervisor.children()
    assert ref.ask("who", timeout=WAIT)[0] == 3


def test_a_child_ended_by_a_base_exception_is_given_up(
    make_supervisor: Callable[..., ActorSupervisor],
    timers: ManualTimerService,
    given_up: queue.Queue[tuple[ActorRef, BaseException]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(threading, "excepthook", lambda args: None)  # SystemExit leaves the thread
    supervisor = make_supervisor()
    ref = supervisor.start_child(Factory(queue.Queue()))
    crash(supervisor, ref, "exit")
    gave_up_on, exc = given_up.get(timeout=WAIT)
    assert gave_up_on is ref and isinstance(exc, SystemExit)
    assert timers.pending() == 0


def test_a_child_stopped_on_purpose_is_not_restarted(
    make_supervisor: Callable[..., ActorSupervisor], timers: ManualTimerService
) -> None:
    supervisor = make_supervisor()
    ref = supervisor.start_child(Factory(queue.Queue()))
    ref.tell("crash")  # fails while a stop is already requested
    ref.stop(block=False)
    assert ref.join(WAIT)
    supervisor.children()
    assert timers.pending() == 0


def test_stop_all_stops_children_in_reverse_start_order(
    make_supervisor: Callable[..., ActorSupervisor], timers: ManualTimerService
) -> None:
    supervisor = make_supervisor()
    stops: queue.Queue[str] = queue.Queue()
    refs = [supervisor.start_child(Factory(stops), name=name) for name in ("first", "second", "third")]
    crash(supervisor, refs[1])  # one is waiting for its restart: it must not come back
    assert supervisor.stop_all(WAIT) == []
    assert [stops.get_nowait() for _ in range(2)] == ["third", "first"]
    assert timers.advance(100.0) == 0  # the pending restart was cancelled
    assert not any(ref.is_alive() for ref in refs)
    with pytest.raises(ActorDeadError):
        supervisor.start_child(Factory(stops))
    assert supervisor.stop_all(WAIT) == []


def test_stop_all_reports_children_that_do_not_stop_in_time(
    make_supervisor: Callable[..., ActorSupervisor],
) -> None:
    release = threading.Event()
    entered = threading.Event()

    class Stubborn(ThreadActor):
        def on_receive(self, message: Any) -> None:
            entered.set()
            release.wait(WAIT)

    supervisor = make_supervisor()
    ref = supervisor.start_child(Stubborn, name="stubborn")
    ref.tell("hold")
    assert entered.wait(WAIT)
    try:
        assert supervisor.stop_all(timeout=0.01) == ["stubborn"]
    finally:
        release.set()
    assert ref.join(WAIT)


def test_bad_factories_and_callbacks(
    make_supervisor: Callable[..., ActorSupervisor], timers: ManualTimerService, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_callback(ref: ActorRef, exc: BaseException) -> None:
        raise ValueError("callback broke")

    supervisor = make_supervisor(RestartPolicy(max_restarts=0, jitter=0.0), on_give_up=broken_callback)

    class NotAThreadActor(AsyncioActor):
        pass

    with pytest.raises(TypeError, match="ThreadActor"):
        supervisor.start_child(NotAThreadActor)  # type: ignore[arg-type]
    with pytest.raises(OSError, match="factory broke"):
        supervisor.start_child(Factory(queue.Queue(), plan=lambda n: "factory-error"))
    with pytest.raises(TypeError, match="callable"):
        supervisor.start_child("not a factory")  # type: ignore[arg-type]
    ref = supervisor.start_child(Factory(queue.Queue()))
    crash(supervisor, ref)  # max_restarts=0: given up at once; the callback raises
    assert any("callback broke" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)
    assert supervisor.children() == (ref,)  # still answering
    with pytest.raises(TypeError, match="RestartPolicy"):
        ActorSupervisor({"max_restarts": 1})  # type: ignore[arg-type]
