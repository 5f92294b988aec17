"""What only the asyncio flavour has: plain and async handlers, fairness, its loop's life."""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any

import pytest
from _support.waiting import wait_until
from actors._support import WAIT

from conductor_actors.actors import ActorDeadError, ActorRef, AsyncioActor, ThreadActor


class Counter(AsyncioActor):
    """A plain (not async) handler on an asyncio actor."""

    def on_start(self) -> None:
        self.count = 0

    def on_receive(self, message: Any) -> Any:
        if message == "count":
            return self.count
        self.count += 1
        return None


class AsyncHooks(AsyncioActor):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_start(self) -> None:
        await asyncio.sleep(0)
        self.log.append("start")

    async def on_receive(self, message: Any) -> Any:
        if message == "self-ask":
            try:
                await self.actor_ref.ask_async("x")
            except RuntimeError as exc:
                return str(exc)
        await asyncio.sleep(0)
        self.log.append(f"receive {message}")
        return message

    async def on_stop(self) -> None:
        await asyncio.sleep(0)
        self.log.append("stop")


def test_async_hooks_are_awaited_in_order() -> None:
    log: list[str] = []

    async def scenario() -> None:
        ref = AsyncHooks.start(log)
        assert await ref.ask_async("a") == "a"
        assert "deadlock" in await ref.ask_async("self-ask")
        await ref.stop_async(timeout=WAIT)

    asyncio.run(scenario())
    assert log == ["start", "receive a", "stop"]


def test_other_tasks_run_while_a_long_backlog_is_handled() -> None:
    async def scenario() -> tuple[int, int]:
        ref = Counter.start()
        for _ in range(1000):
            ref.tell("+1")
        progress: list[int] = []

        async def ticker() -> None:
            progress.append(ref.mailbox_depth())

        ticking = asyncio.create_task(ticker())
        total = await ref.ask_async("count")
        await ticking
        await ref.stop_async()
        return progress[0], total

    depth_when_ticker_ran, total = asyncio.run(scenario())
    assert total == 1000
    assert 0 < depth_when_ticker_ran < 1000


def test_start_needs_a_loop() -> None:
    with pytest.raises(RuntimeError, match="pass loop="):
        Counter.start()
    loop = asyncio.new_event_loop()
    loop.close()
    with pytest.raises(RuntimeError, match="closed"):
        Counter.start(loop=loop)
    with pytest.raises(TypeError, match="loop"):
        Counter.start(loop="not a loop")  # type: ignore[arg-type]


def test_a_loop_that_ends_cancels_the_actor_and_fails_queued_asks() -> None:
    """The loop goes away under the actor: queued asks get ActorDeadError; no hooks, no notice."""
    notices: list[Any] = []
    hooks: list[str] = []
    entered, release = threading.Event(), threading.Event()

    class Owner(ThreadActor):
        def on_receive(self, message: Any) -> None:
            notices.append(message)

    class Blocker(AsyncioActor):
        async def on_receive(self, message: Any) -> None:
            entered.set()
            await asyncio.Event().wait()  # until cancelled

        def on_stop(self) -> None:
            hooks.append("stop")

        def on_failure(self, exc: BaseException) -> None:
            hooks.append("failure")

    owner = Owner.start()
    refs: queue.Queue[ActorRef] = queue.Queue()

    async def main() -> None:
        refs.put(Blocker.start(owner=owner))
        await asyncio.get_running_loop().run_in_executor(None, release.wait, WAIT)

    loop_thread = threading.Thread(target=asyncio.run, args=(main(),))
    loop_thread.start()
    try:
        ref = refs.get(timeout=WAIT)
        ref.tell("block")
        assert entered.wait(WAIT)
        answers: list[BaseException] = []

        def asker() -> None:
            try:
                ref.ask("pending", timeout=WAIT)
            except BaseException as exc:
                answers.append(exc)

        asking = threading.Thread(target=asker)
        asking.start()
        wait_until(lambda: ref.mailbox_depth() == 1, what="the ask to be queued")
        release.set()  # main() returns: asyncio.run cancels the actor's task
        loop_thread.join(WAIT)
        asking.join(WAIT)
        assert len(answers) == 1 and isinstance(answers[0], ActorDeadError)
        assert not ref.is_alive()
        assert hooks == []
        owner.ask("sync", timeout=WAIT)
        assert notices == ["sync"]  # no ActorFailed before it
    finally:
        release.set()
        owner.stop(timeout=WAIT)


def test_system_exit_in_an_asyncio_actor_propagates_out_of_the_loop() -> None:
    class Quitter(AsyncioActor):
        def on_receive(self, message: Any) -> Any:
            raise SystemExit(4)

    async def scenario() -> None:
        ref: ActorRef = Quitter.start()
        ref.tell("exit")
        await ref.join_async(timeout=WAIT)

    with pytest.raises(SystemExit):
        asyncio.run(scenario())
