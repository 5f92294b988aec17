"""send_after with an injected timer service (no waiting), and the real timer services."""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any

import pytest
from _support.clock import FakeClock
from actors._support import WAIT, Gate, Runtime

from conductor_actors.actors import ManualTimerService, ThreadActor, ThreadTimerService, TimerHandle


class Scheduler:
    """Schedules timers on request and reports which timer messages arrived."""

    def __init__(self, ticks: queue.Queue[str] | None = None) -> None:
        self.fired: list[str] = []
        self.handles: dict[str, TimerHandle] = {}
        self.ticks = ticks

    def on_receive(self, message: Any) -> Any:
        kind, *rest = message
        if kind == "schedule":
            label, delay = rest
            self.handles[label] = self.send_after(delay, ("tick", label))  # type: ignore[attr-defined]
        elif kind == "cancel":
            self.handles[rest[0]].cancel()
        elif kind in ("tick", "note"):
            self.fired.append(rest[0])
            if self.ticks is not None:
                self.ticks.put(rest[0])
        elif kind == "fired":
            return list(self.fired)
        return None


def test_timers_fire_in_due_order_only_when_time_has_come(runtime: Runtime) -> None:
    timers = ManualTimerService()
    ref = runtime.start(Scheduler, timers=timers)
    ref.ask(("schedule", "late", 2.0), timeout=WAIT)
    ref.ask(("schedule", "early", 1.0), timeout=WAIT)
    ref.ask(("schedule", "also-early", 1.0), timeout=WAIT)
    assert timers.advance(0.999) == 0
    assert ref.ask(("fired",), timeout=WAIT) == []
    assert timers.advance(0.001) == 2
    assert ref.ask(("fired",), timeout=WAIT) == ["early", "also-early"]
    assert timers.advance(5.0) == 1
    assert ref.ask(("fired",), timeout=WAIT) == ["early", "also-early", "late"]
    assert timers.now() == 6.0


def test_a_cancelled_timer_never_fires(runtime: Runtime) -> None:
    timers = ManualTimerService()
    ref = runtime.start(Scheduler, timers=timers)
    ref.ask(("schedule", "kept", 1.0), timeout=WAIT)
    ref.ask(("schedule", "dropped", 1.0), timeout=WAIT)
    ref.ask(("cancel", "dropped"), timeout=WAIT)
    assert timers.pending() == 1
    assert timers.advance(10.0) == 1
    assert ref.ask(("fired",), timeout=WAIT) == ["kept"]


def test_a_timer_due_after_stop_does_nothing(runtime: Runtime) -> None:
    timers = ManualTimerService()
    ticks: queue.Queue[str] = queue.Queue()
    ref = runtime.start(Scheduler, ticks, timers=timers)
    ref.ask(("schedule", "while stopping", 1.0), timeout=WAIT)
    ref.ask(("schedule", "after stop", 2.0), timeout=WAIT)
    gate = Gate()
    ref.tell(gate)
    gate.wait_entered()
    ref.tell(("note", "queued before stop"))
    ref.stop(block=False)
    assert timers.advance(1.0) == 1  # due while the actor drains its mailbox: refused
    gate.open()
    assert ref.join(WAIT)
    assert timers.advance(1.0) == 1  # due once it is stopped: refused too
    assert [ticks.get_nowait() for _ in range(ticks.qsize())] == ["queued before stop"]


def test_timer_callbacks_may_schedule_more_within_one_advance() -> None:
    timers = ManualTimerService(start=100.0)
    seen: list[float] = []

    def again(n: int) -> None:
        seen.append(timers.now())
        if n:
            timers.schedule(1.0, again, n - 1)

    timers.schedule(1.0, again, 2)
    assert timers.advance(10.0) == 3
    assert seen == [101.0, 102.0, 103.0]
    assert timers.now() == 110.0


def test_cancelled_timers_do_not_pile_up() -> None:
    timers = ManualTimerService()
    handles = [timers.schedule(3600.0, print) for _ in range(1000)]
    for handle in handles[:900]:
        handle.cancel()
    assert timers.pending() == 100
    assert len(timers._heap._heap) < 500  # compacted, not kept until due
    assert all(handle.cancelled for handle in handles[:900])


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_bad_delays_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="delay"):
        ManualTimerService().schedule(bad, print)
    with pytest.raises(TypeError, match="delay"):
        ManualTimerService().schedule("1", print)  # type: ignore[arg-type]


def test_thread_timer_service_fires_in_order_on_one_thread_and_can_be_cancelled() -> None:
    clock = FakeClock(0.0)  # due times do not depend on how fast this thread runs
    service = ThreadTimerService(clock=clock, name="test-timers")
    fired: queue.Queue[tuple[str, str]] = queue.Queue()

    def record(label: str) -> None:
        fired.put((label, threading.current_thread().name))

    try:
        service.schedule(0.03, record, "third")
        service.schedule(0.0, record, "first")
        cancelled = service.schedule(0.01, record, "never")
        service.schedule(0.02, record, "second")
        cancelled.cancel()
        assert fired.get(timeout=WAIT) == ("first", "test-timers")
        clock.advance(1.0)  # the rest is due now; the timer thread notices at its next wake-up
        got = [fired.get(timeout=WAIT) for _ in range(2)]
        assert got == [("second", "test-timers"), ("third", "test-timers")]
        assert service.now() == 1.0
    finally:
        service.close(timeout=WAIT)
    with pytest.raises(RuntimeError, match="closed"):
        service.schedule(0.0, record, "after close")


def test_a_failing_timer_callback_is_logged_and_the_service_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    service = ThreadTimerService()
    done = threading.Event()

    def broken() -> None:
        raise ValueError("broken timer")

    try:
        service.schedule(0.0, broken)
        service.schedule(0.0, done.set)
        assert done.wait(WAIT)
    finally:
        service.close(timeout=WAIT)
    assert any("broken" in r.getMessage() and r.exc_info for r in caplog.records)


def test_default_timers_of_each_flavour_deliver(runtime: Runtime) -> None:
    """Thread actors share the process-wide timer thread; asyncio actors use call_later."""
    arrived = threading.Event()

    class Pinger:
        def on_receive(self, message: Any) -> None:
            if message == "arm":
                self.send_after(0.001, "ping")  # type: ignore[attr-defined]
            elif message == "ping":
                arrived.set()

    ref = runtime.start(Pinger)
    ref.tell("arm")
    assert arrived.wait(WAIT)


def test_thread_actors_share_one_timer_thread() -> None:
    arrived: queue.Queue[Any] = queue.Queue()

    class Ticker(ThreadActor):
        def on_receive(self, message: Any) -> None:
            if message == "arm":
                for n in range(10):
                    self.send_after(0.0, ("tick", n))
            else:
                arrived.put(message)

    refs = [Ticker.start() for _ in range(3)]
    try:
        for ref in refs:
            ref.tell("arm")
        assert sorted(arrived.get(timeout=WAIT)[1] for _ in range(30)) == sorted(list(range(10)) * 3)
        assert [t.name for t in threading.enumerate()].count("conductor-actors-timers") == 1
    finally:
        for ref in refs:
            ref.stop(timeout=WAIT)


def test_loop_timer_service_schedules_from_another_thread() -> None:
    from conductor_actors.actors._timers import LoopTimerService

    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        timers = LoopTimerService(loop)
        got: list[str] = []
        done = asyncio.Event()

        def fire(label: str) -> None:
            got.append(label)
            if len(got) == 2:
                done.set()

        await loop.run_in_executor(None, timers.schedule, 0.0, fire, "from a thread")
        timers.schedule(0.001, fire, "from the loop")
        timers.schedule(0.0, fire, "cancelled").cancel()
        await asyncio.wait_for(done.wait(), WAIT)
        return got

    assert sorted(asyncio.run(scenario())) == ["from a thread", "from the loop"]


class _CountingLoop:
    """Counts the loop timers a ``LoopDeadlines`` asks for (the loop itself does the work)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.armed = 0

    def time(self) -> float:
        return self.loop.time()

    def call_at(self, when: float, callback: Any, *args: Any) -> asyncio.TimerHandle:
        self.armed += 1
        return self.loop.call_at(when, callback, *args)


def test_loop_deadlines_expire_what_was_not_discarded_behind_one_timer() -> None:
    from conductor_actors.actors import LoopDeadlines

    async def scenario() -> tuple[list[str], int, int]:
        loop = _CountingLoop(asyncio.get_running_loop())
        expired: list[str] = []
        done = asyncio.Event()

        def expire(key: str) -> None:
            expired.append(key)
            if key == "last":
                done.set()

        deadlines: LoopDeadlines[str] = LoopDeadlines(loop, expire)  # type: ignore[arg-type]
        deadlines.add("first", 0.01)
        for n in range(100):  # later deadlines than the armed one: no timer of their own
            deadlines.add(f"done {n}", 0.02)
        armed_for_101 = loop.armed
        for n in range(100):
            deadlines.discard(f"done {n}")
        deadlines.add("moved", 0.01)
        deadlines.add("moved", 0.03)  # a new deadline replaces the old one
        deadlines.add("last", 0.04)
        await asyncio.wait_for(done.wait(), WAIT)
        return expired, armed_for_101, len(deadlines)

    expired, armed, left = asyncio.run(scenario())
    assert expired == ["first", "moved", "last"]
    assert armed == 1
    assert left == 0


def test_loop_deadlines_an_earlier_deadline_rearms_and_a_failing_callback_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from conductor_actors.actors import LoopDeadlines

    async def scenario() -> list[str]:
        expired: list[str] = []
        done = asyncio.Event()

        def expire(key: str) -> None:
            expired.append(key)
            if key == "bad":
                raise RuntimeError("boom")
            done.set()

        deadlines: LoopDeadlines[str] = LoopDeadlines(asyncio.get_running_loop(), expire)
        deadlines.add("late", 60.0)
        deadlines.add("bad", 0.0)  # earlier than the armed timer: armed again, sooner
        deadlines.add("good", 0.0)
        await asyncio.wait_for(done.wait(), WAIT)
        deadlines.close()  # "late" never fires
        return expired

    assert asyncio.run(scenario()) == ["bad", "good"]
    assert "a deadline callback failed" in caplog.text


def test_loop_deadlines_survive_a_callback_that_discards_another_due_key() -> None:
    from conductor_actors.actors import LoopDeadlines

    async def scenario() -> list[str]:
        expired: list[str] = []
        done = asyncio.Event()
        deadlines: LoopDeadlines[str] = LoopDeadlines(asyncio.get_running_loop(), lambda key: on_expire(key))

        def on_expire(key: str) -> None:
            expired.append(key)
            if key == "a":
                deadlines.discard("b")  # due in the same firing: it must not expire any more
            if key == "c":
                done.set()

        for key in ("a", "b", "c"):
            deadlines.add(key, 0.0)
        await asyncio.wait_for(done.wait(), WAIT)
        return expired

    assert asyncio.run(scenario()) == ["a", "c"]
