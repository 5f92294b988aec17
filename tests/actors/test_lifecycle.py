"""Life cycle, ask/tell and failure semantics, once per flavour (the ``runtime`` fixture)."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

import pytest
from _support.waiting import wait_until
from actors._support import WAIT, Gate, Runtime, context_id

from conductor_actors.actors import ActorDeadError, ActorFailed, ActorRef, MailboxClosed


class Recorder:
    """Puts every hook call into ``events``; messages steer what ``on_receive`` does."""

    def __init__(self, events: queue.Queue[Any]) -> None:
        self.events = events

    def on_start(self) -> None:
        self.events.put(("start", self.actor_ref.name, context_id()))  # type: ignore[attr-defined]

    def on_receive(self, message: Any) -> Any:
        if message == "fail":
            raise ValueError("told to fail")
        if message == "stop_self":
            self.stop_self()  # type: ignore[attr-defined]
        self.events.put(("receive", message))
        return ("echo", message)

    def on_stop(self) -> None:
        self.events.put(("stop", context_id()))

    def on_failure(self, exc: BaseException) -> None:
        self.events.put(("failure", exc))


class FailingStart(Recorder):
    def on_start(self) -> None:
        raise RuntimeError("cannot start")


class Collector:
    """An owner that hands every message it receives to the test through a queue."""

    def __init__(self, inbox: queue.Queue[Any]) -> None:
        self.inbox = inbox

    def on_receive(self, message: Any) -> None:
        self.inbox.put(message)


def drain(events: queue.Queue[Any]) -> list[Any]:
    out = []
    while True:
        try:
            out.append(events.get_nowait())
        except queue.Empty:
            return out


def test_hooks_run_in_order_on_the_actors_own_thread_or_loop(runtime: Runtime) -> None:
    events: queue.Queue[Any] = queue.Queue()
    ref = runtime.start(Recorder, events, name="recorder")
    ref.tell("a")
    assert ref.ask("b", timeout=WAIT) == ("echo", "b")
    ref.stop(timeout=WAIT)

    start, first, second, stop = drain(events)
    assert start[:2] == ("start", "recorder")  # actor_ref was set before on_start
    assert (first, second) == (("receive", "a"), ("receive", "b"))
    assert stop[0] == "stop"
    where = start[2]
    assert stop[1] is where
    if runtime.loop is not None:
        assert where is runtime.loop
    else:
        assert isinstance(where, threading.Thread) and where.name == "recorder"
        assert where is not threading.current_thread()
    assert not ref.is_alive()
    assert ref.join(0) is True


def test_stop_is_a_message_processed_after_everything_sent_before(runtime: Runtime) -> None:
    events: queue.Queue[Any] = queue.Queue()
    ref = runtime.start(Recorder, events)
    gate = Gate()
    ref.tell(gate)
    gate.wait_entered()
    for n in range(5):
        ref.tell(n)
    ref.stop(block=False)
    with pytest.raises(MailboxClosed):
        ref.tell("too late")
    assert ref.is_alive()
    gate.open()
    assert ref.join(WAIT)

    after_start = [event[:2] if event[0] == "receive" else event[:1] for event in drain(events)[1:]]
    assert after_start == [("receive", n) for n in range(5)] + [("stop",)]
    with pytest.raises(ActorDeadError) as dead:
        ref.tell("after")
    assert type(dead.value) is ActorDeadError  # stopped, no longer just "stopping"
    ref.stop()  # stopping a stopped actor does nothing


def test_ask_returns_the_answer_or_raises_the_handlers_exception(runtime: Runtime) -> None:
    events: queue.Queue[Any] = queue.Queue()
    ref = runtime.start(Recorder, events)
    assert ref.ask(1, timeout=WAIT) == ("echo", 1)
    with pytest.raises(ValueError, match="told to fail"):
        ref.ask("fail", timeout=WAIT)
    assert ref.is_alive()  # a failed ask does not kill the actor
    assert ref.ask(2, timeout=WAIT) == ("echo", 2)
    assert not [e for e in drain(events) if e[0] == "failure"]


def test_ask_times_out_and_the_message_is_still_handled_later(runtime: Runtime) -> None:
    events: queue.Queue[Any] = queue.Queue()
    ref = runtime.start(Recorder, events)
    gate = Gate()
    ref.tell(gate)
    gate.wait_entered()
    with pytest.raises(TimeoutError):
        ref.ask("late", timeout=0.01)
    gate.open()
    assert ref.ask("after", timeout=WAIT) == ("echo", "after")
    assert [e for e in drain(events) if e[0] == "receive"] == [("receive", "late"), ("receive", "after")]


def test_ask_and_tell_on_a_dead_actor_raise_actor_dead_error(runtime: Runtime) -> None:
    ref = runtime.start(Recorder, queue.Queue())
    ref.stop(timeout=WAIT)
    with pytest.raises(ActorDeadError):
        ref.ask("anyone?", timeout=WAIT)
    with pytest.raises(ActorDeadError):
        ref.tell("anyone?")


def test_queued_asks_get_actor_dead_error_and_tells_are_dropped_with_one_debug_line(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="conductor_actors.actors")
    events: queue.Queue[Any] = queue.Queue()
    ref = runtime.start(Recorder, events, name="quitter")
    gate = Gate()
    ref.tell(gate)
    gate.wait_entered()
    ref.tell("stop_self")
    answers: queue.Queue[BaseException | Any] = queue.Queue()

    def asker(n: int) -> None:
        try:
            answers.put(ref.ask(n, timeout=WAIT))
        except BaseException as exc:
            answers.put(exc)

    askers = [threading.Thread(target=asker, args=(n,)) for n in range(3)]
    for thread in askers:
        thread.start()
    wait_until(lambda: ref.mailbox_depth() == 4, what="three asks queued behind stop_self")
    ref.tell("dropped 1")
    ref.tell("dropped 2")
    gate.open()
    for thread in askers:
        thread.join(WAIT)
    results = [answers.get_nowait() for _ in askers]
    assert all(isinstance(result, ActorDeadError) for result in results), results
    assert ref.join(WAIT)
    assert [e[0] for e in drain(events)] == ["start", "receive", "stop"]  # stop_self: on_stop runs
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert dropped == ["actor quitter stopped; dropped 2 queued message(s)"]
    assert all(r.levelno == logging.DEBUG for r in caplog.records if "dropped" in r.getMessage())


def test_tell_failure_runs_on_failure_stops_the_actor_and_tells_the_owner(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    inbox: queue.Queue[Any] = queue.Queue()
    owner = runtime.start(Collector, inbox)
    events: queue.Queue[Any] = queue.Queue()
    ref = runtime.start(Recorder, events, owner=owner, name="fragile")
    gate = Gate()
    ref.tell(gate)
    gate.wait_entered()
    ref.tell("fail")
    ref.tell("never handled")
    gate.open()
    notice = inbox.get(timeout=WAIT)
    assert isinstance(notice, ActorFailed)
    assert notice.actor is ref
    assert isinstance(notice.exception, ValueError)
    assert not ref.is_alive()
    kinds = [e[0] for e in drain(events)]
    assert kinds == ["start", "failure"]  # no on_stop after a failure, nothing handled after it
    assert any(r.levelno == logging.ERROR and "fragile" in r.getMessage() for r in caplog.records)
    with pytest.raises(ActorDeadError):
        ref.ask("anyone?")


def test_on_start_failure_is_a_failure_and_start_does_not_raise(runtime: Runtime) -> None:
    inbox: queue.Queue[Any] = queue.Queue()
    owner = runtime.start(Collector, inbox)
    events: queue.Queue[Any] = queue.Queue()
    ref = runtime.start(FailingStart, events, owner=owner)
    notice = inbox.get(timeout=WAIT)
    assert notice.actor is ref and str(notice.exception) == "cannot start"
    assert ref.join(WAIT)
    [failure] = drain(events)
    assert failure[0] == "failure" and failure[1] is notice.exception


def test_blocking_on_itself_raises_instead_of_deadlocking(runtime: Runtime) -> None:
    class SelfAsker:
        def on_receive(self, message: Any) -> Any:
            me: ActorRef = self.actor_ref  # type: ignore[attr-defined]
            try:
                me.ask("again", timeout=WAIT)
            except RuntimeError as exc:
                return str(exc)
            return "no error"

    ref = runtime.start(SelfAsker)
    assert "deadlock" in ref.ask("go", timeout=WAIT)


def test_start_options_are_validated(runtime: Runtime) -> None:
    cls = runtime.actor(Recorder)
    with pytest.raises(TypeError, match="owner"):
        runtime.start_class(cls, queue.Queue(), owner="me")
    with pytest.raises(ValueError, match="name"):
        runtime.start_class(cls, queue.Queue(), name="")
    ref = runtime.start(Recorder, queue.Queue())
    with pytest.raises(ValueError, match="timeout"):
        ref.ask("x", timeout=-1)
