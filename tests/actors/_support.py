"""Helpers of the actor-kernel suite (the ``runtime`` fixture in ``conftest`` wraps ``Runtime``).

``Runtime`` is one actor flavour: "sync" gives ``ThreadActor``, "async" gives ``AsyncioActor`` on an
event loop (debug mode) running in its own thread, so the test thread can use the blocking API
against both. Test actors are written once as mixins with a plain ``on_receive`` and combined with
the flavour's base class by ``runtime.actor(Mixin)``; for asyncio the combined ``on_receive`` is a
coroutine. A ``Gate`` sent as a message holds the actor inside ``on_receive`` until the test opens
it (a thread actor blocks its thread; an asyncio actor awaits without blocking its loop). Every
actor started through the runtime is stopped after the test.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from conductor_actors.actors import Actor, ActorRef, AsyncioActor, ThreadActor

T = TypeVar("T")

#: Upper bound for any wait in this suite; tests never wait this long when they pass.
WAIT = 10.0


class Gate:
    """A message that keeps the actor busy until ``open()``; ``entered`` is set once it is held."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self._open = threading.Event()

    def open(self) -> None:
        self._open.set()

    def hold(self) -> str:
        self.entered.set()
        if not self._open.wait(WAIT):
            raise AssertionError("gate never opened")
        return "passed"

    def wait_entered(self) -> None:
        if not self.entered.wait(WAIT):
            raise AssertionError("the actor never reached the gate")


def context_id() -> object:
    """The running event loop, or else the current thread: where a hook runs."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return threading.current_thread()


class Runtime:
    """One actor flavour plus the helpers the tests need to drive it from the test thread."""

    def __init__(self, flavour: str) -> None:
        self.flavour = flavour
        self.base: type[Actor] = ThreadActor if flavour == "sync" else AsyncioActor
        self.loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._refs: list[ActorRef] = []
        if flavour == "async":
            self.loop = asyncio.new_event_loop()
            self.loop.set_debug(True)
            self.loop.slow_callback_duration = 1.0
            self._loop_thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
            self._loop_thread.start()

    def actor(self, mixin: type[Any]) -> type[Actor]:
        """A concrete actor class: ``mixin`` on top of this flavour's base class, with gate support."""
        handle = mixin.on_receive
        if self.loop is None:

            def on_receive(self: Any, message: Any) -> Any:
                if isinstance(message, Gate):
                    return message.hold()
                return handle(self, message)

        else:

            async def on_receive(self: Any, message: Any) -> Any:  # type: ignore[misc]
                if isinstance(message, Gate):
                    return await asyncio.get_running_loop().run_in_executor(None, message.hold)
                return handle(self, message)

        return type(f"{mixin.__name__}{self.base.__name__}", (mixin, self.base), {"on_receive": on_receive})

    def start(self, mixin: type, *args: Any, **kwargs: Any) -> ActorRef:
        """Start ``runtime.actor(mixin)(*args, **kwargs)``; stopped again after the test."""
        return self.start_class(self.actor(mixin), *args, **kwargs)

    def start_class(self, cls: type[Actor], *args: Any, **kwargs: Any) -> ActorRef:
        """Start an actor class of this flavour as it is (on the runtime's loop for asyncio)."""
        if self.loop is not None:
            kwargs["loop"] = self.loop
        ref = cls.start(*args, **kwargs)
        self._refs.append(ref)
        return ref

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = WAIT) -> T:
        """Run ``coro`` on the flavour's loop (async) or a fresh loop (sync) and return its result."""
        if self.loop is None:
            return asyncio.run(asyncio.wait_for(coro, timeout))
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        for ref in reversed(self._refs):
            if ref.is_alive():
                ref.stop(timeout=WAIT)
        if self.loop is not None and self._loop_thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._loop_thread.join(WAIT)
            self.loop.close()
