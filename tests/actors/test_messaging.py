"""Sending across threads and loops: many senders at once, and the async API."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from _support.waiting import wait_until
from actors._support import WAIT, Gate, Runtime

from conductor_actors.actors import ActorDeadError, ThreadActor


class PerSender:
    """Keeps, per sender, the sequence numbers in the order they arrived."""

    def __init__(self) -> None:
        self.seen: dict[int, list[int]] = {}

    def on_receive(self, message: Any) -> Any:
        if message == "report":
            return self.seen
        if message == "slow-timeout":
            raise TimeoutError("the handler's own timeout")
        sender, seq = message
        self.seen.setdefault(sender, []).append(seq)
        return None


def test_many_threads_tell_at_once_nothing_lost_order_per_sender_kept(runtime: Runtime) -> None:
    senders, per_sender = 8, 2000
    ref = runtime.start(PerSender)
    barrier = threading.Barrier(senders)

    def send(sender: int) -> None:
        barrier.wait(WAIT)
        for seq in range(per_sender):
            ref.tell((sender, seq))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    seen = ref.ask("report", timeout=WAIT)
    assert sorted(seen) == list(range(senders))
    for sender in range(senders):
        assert seen[sender] == list(range(per_sender)), f"sender {sender} lost or reordered messages"


def test_ask_async_from_a_coroutine(runtime: Runtime) -> None:
    ref = runtime.start(PerSender)

    async def scenario() -> None:
        await ref.ask_async((1, 1))
        assert await ref.ask_async("report", timeout=WAIT) == {1: [1]}
        with pytest.raises(TimeoutError, match="own timeout"):
            await ref.ask_async("slow-timeout", timeout=WAIT)  # the handler's error, untouched

    runtime.run(scenario())


def test_ask_async_times_out_with_the_builtin_timeout_error(runtime: Runtime) -> None:
    ref = runtime.start(PerSender)
    gate = Gate()
    ref.tell(gate)
    gate.wait_entered()

    async def scenario() -> str:
        try:
            await ref.ask_async("report", timeout=0.01)
        except TimeoutError as exc:  # builtin, also on Python 3.10
            return str(exc)
        return "answered"

    assert "did not answer within 0.01 s" in runtime.run(scenario())
    gate.open()
    assert ref.ask("report", timeout=WAIT) == {}


def test_stop_async_and_join_async(runtime: Runtime) -> None:
    ref = runtime.start(PerSender)
    other = runtime.start(PerSender)

    async def scenario() -> tuple[bool, bool]:
        ref.tell((1, 1))
        await ref.stop_async(timeout=WAIT)
        joined = await ref.join_async(timeout=WAIT)
        still_running = await other.join_async(timeout=0.01)
        return joined, still_running

    assert runtime.run(scenario()) == (True, False)
    assert not ref.is_alive() and other.is_alive()


def test_ask_async_on_a_stopped_actor(runtime: Runtime) -> None:
    ref = runtime.start(PerSender)
    ref.stop(timeout=WAIT)

    async def scenario() -> None:
        with pytest.raises(ActorDeadError):
            await ref.ask_async("report")

    runtime.run(scenario())


def test_system_exit_in_a_thread_actor_ends_it_and_tells_the_owner(monkeypatch: pytest.MonkeyPatch) -> None:
    escaped: list[type[BaseException]] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: escaped.append(args.exc_type))
    notices: list[Any] = []
    got = threading.Event()

    class Owner(ThreadActor):
        def on_receive(self, message: Any) -> None:
            notices.append(message)
            got.set()

    class Quitter(ThreadActor):
        def on_receive(self, message: Any) -> Any:
            if isinstance(message, Gate):
                return message.hold()
            raise SystemExit(3)

    owner = Owner.start()
    ref = Quitter.start(owner=owner)
    try:
        gate = Gate()
        ref.tell(gate)
        gate.wait_entered()
        answers: list[BaseException] = []

        def late_asker() -> None:
            try:
                ref.ask("x", timeout=WAIT)
            except BaseException as exc:
                answers.append(exc)

        ref.tell("exit")
        asker = threading.Thread(target=late_asker)
        asker.start()
        gate.open()
        asker.join(WAIT)
        assert ref.join(WAIT)
        assert len(answers) == 1 and isinstance(answers[0], ActorDeadError)
        assert got.wait(WAIT)
        assert isinstance(notices[0].exception, SystemExit)
        wait_until(lambda: escaped == [SystemExit], what="SystemExit to leave the actor's thread")
    finally:
        owner.stop(timeout=WAIT)


def test_thread_actor_daemon_flag_and_async_handler_rejected() -> None:
    class Daemonic(ThreadActor):
        use_daemon_thread = True

        def on_receive(self, message: Any) -> Any:
            return threading.current_thread().daemon

    ref = Daemonic.start()
    try:
        assert ref.ask("daemon?", timeout=WAIT) is True
    finally:
        ref.stop(timeout=WAIT)

    class Confused(ThreadActor):
        async def on_receive(self, message: Any) -> Any:  # type: ignore[override]
            return message

    with pytest.raises(TypeError, match="AsyncioActor"):
        Confused.start()


def test_flavour_specific_refusals(runtime: Runtime) -> None:
    ref = runtime.start(PerSender)
    if runtime.loop is not None:

        async def block_on_own_loop() -> None:
            with pytest.raises(RuntimeError, match="ask_async"):
                ref.ask("report")
            with pytest.raises(RuntimeError, match="join_async"):
                ref.join(0)

        runtime.run(block_on_own_loop())
    else:
        ref.tell((1, 1))
        assert ref.ask("report", timeout=WAIT) == {1: [1]}
