"""ActorPool: N thread actors, one shared mailbox, whoever is free takes the next message."""

from __future__ import annotations

import queue
import threading
from typing import Any

import pytest
from actors._support import WAIT, Gate

from conductor_actors.actors import (
    ActorDeadError,
    ActorFailed,
    ActorPool,
    ActorRef,
    AsyncioActor,
    MailboxClosed,
    ThreadActor,
)


class Member(ThreadActor):
    """Records (member id, message) for every message; each instance has its own state."""

    def __init__(self, member_id: int, log: queue.Queue[Any], barrier: threading.Barrier | None = None) -> None:
        self.member_id = member_id
        self.log = log
        self.barrier = barrier
        self.handled = 0

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Gate):
            return message.hold()
        if message == "meet":
            assert self.barrier is not None
            self.barrier.wait(WAIT)  # passes only when every member is inside on_receive at once
            return self.member_id
        if message == "fail":
            raise ValueError("member failed")
        if message == "whoami":
            return (self.member_id, threading.current_thread().name)
        if message == "stop_pool":
            self.stop_self()
            return None
        self.handled += 1
        self.log.put((self.member_id, message))
        return None

    def on_stop(self) -> None:
        self.log.put((self.member_id, "stopped", self.handled))

    def on_failure(self, exc: BaseException) -> None:
        self.log.put((self.member_id, "failed", exc))


def start_pool(size: int, **kwargs: Any) -> tuple[ActorRef, queue.Queue[Any]]:
    log: queue.Queue[Any] = queue.Queue()
    barrier = threading.Barrier(size)
    ids = iter(range(size))
    ref = ActorPool.start(lambda: Member(next(ids), log, barrier), size, **kwargs)
    return ref, log


def drain(log: queue.Queue[Any]) -> list[Any]:
    out = []
    while not log.empty():
        out.append(log.get_nowait())
    return out


def test_every_member_can_be_busy_at_the_same_time() -> None:
    ref, _ = start_pool(4, name="pool")
    try:
        answers: queue.Queue[Any] = queue.Queue()
        askers = [threading.Thread(target=lambda: answers.put(ref.ask("meet", timeout=WAIT))) for _ in range(4)]
        for thread in askers:
            thread.start()
        for thread in askers:
            thread.join(WAIT)
        assert sorted(answers.get_nowait() for _ in range(4)) == [0, 1, 2, 3]
        names = {ref.ask("whoami", timeout=WAIT)[1] for _ in range(20)}
        assert names <= {"pool-0", "pool-1", "pool-2", "pool-3"}
    finally:
        ref.stop(timeout=WAIT)


def test_each_message_is_handled_exactly_once_and_stop_drains_the_queue() -> None:
    ref, log = start_pool(4)
    for n in range(2000):
        ref.tell(n)
    ref.stop(timeout=WAIT)
    records = drain(log)
    handled = [message for member, message, *_ in records if message != "stopped"]
    assert sorted(handled) == list(range(2000))
    stops = [rec for rec in records if rec[1] == "stopped"]
    assert sorted(member for member, *_ in stops) == [0, 1, 2, 3]  # on_stop ran in every member
    assert sum(count for _, _, count in stops) == 2000  # each member counted only its own
    with pytest.raises(ActorDeadError):
        ref.tell("late")


def test_stop_waits_for_busy_members_and_queued_messages() -> None:
    ref, log = start_pool(2)
    gates = [Gate(), Gate()]
    for gate in gates:
        ref.tell(gate)
    for gate in gates:
        gate.wait_entered()  # both members busy
    for n in range(10):
        ref.tell(n)
    ref.stop(block=False)
    assert ref.is_alive() and ref.mailbox_depth() >= 10
    for gate in gates:
        gate.open()
    assert ref.join(WAIT)
    assert sorted(message for _, message, *_ in drain(log) if message != "stopped") == list(range(10))


def test_ask_errors_go_to_the_caller_and_the_pool_lives_on() -> None:
    ref, _ = start_pool(2)
    try:
        with pytest.raises(ValueError, match="member failed"):
            ref.ask("fail", timeout=WAIT)
        assert ref.ask("whoami", timeout=WAIT)[0] in (0, 1)
    finally:
        ref.stop(timeout=WAIT)


def test_a_member_failing_on_a_tell_fails_the_whole_pool_once() -> None:
    notices: queue.Queue[Any] = queue.Queue()

    class Owner(ThreadActor):
        def on_receive(self, message: Any) -> None:
            notices.put(message)

    owner = Owner.start()
    try:
        ref, log = start_pool(3, owner=owner)
        gate = Gate()
        ref.tell(gate)
        gate.wait_entered()  # one member is held; the others wait for messages
        ref.tell("fail")
        failed = log.get(timeout=WAIT)
        assert failed[1] == "failed"
        assert ref.is_alive()  # the held member is still inside its message
        with pytest.raises(MailboxClosed):
            ref.tell("refused")
        gate.open()
        notice = notices.get(timeout=WAIT)  # told once the last member is out
        assert isinstance(notice, ActorFailed) and notice.actor is ref
        assert notice.exception is failed[2]
        assert ref.join(WAIT)
        records = [failed, *drain(log)]
        assert [kind for _, kind, *_ in records].count("failed") == 1
        assert [kind for _, kind, *_ in records].count("stopped") == 2  # the others stop normally
        owner.ask("sync", timeout=WAIT)
        assert notices.get_nowait() == "sync"  # exactly one ActorFailed
    finally:
        owner.stop(timeout=WAIT)


def test_stop_self_in_one_member_stops_the_pool() -> None:
    ref, log = start_pool(3)
    ref.tell("stop_pool")
    assert ref.join(WAIT)
    assert sorted(member for member, kind, *_ in drain(log) if kind == "stopped") == [0, 1, 2]


def test_pool_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="pool size"):
        ActorPool.start(lambda: Member(0, queue.Queue()), 0)

    class NotThreaded(AsyncioActor):
        pass

    with pytest.raises(TypeError, match="ThreadActor"):
        ActorPool.start(NotThreaded, 2)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [1, 3])
def test_a_blocking_stop_returns_once_every_member_thread_has_ended(size: int) -> None:
    """``stop()`` and ``join()`` mean the threads are gone, not only that the actor was marked dead:
    the last member's thread still runs the death notices after the mark (here one that takes a
    moment), and a caller checking for leaked threads must not see it alive."""
    ref, _ = start_pool(size, name="ending-pool")
    ref._cell.add_death_callback(lambda: threading.Event().wait(0.3))  # slow work after the mark
    ref.stop(timeout=WAIT)
    assert [t.name for t in threading.enumerate() if t.name.startswith("ending-pool")] == []
    assert ref.join(timeout=WAIT)
