"""DevServer lifecycle: start/stop/close, restart on the same port with state kept, thread safety."""

from __future__ import annotations

import gc
import socket
import sys
import threading
import time
from collections.abc import Callable

import pytest
from devserver._support import WAIT, Api, RawConnection, one_task_workflow, wait_until

from conductor_actors.devserver import DevServer


def test_urls_and_the_real_port() -> None:
    with DevServer() as server:
        assert server.port > 0
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        assert server.url == server.base_url + "/api"
        assert "listening" in repr(server)


def test_stop_then_start_listens_on_the_same_port_with_state_kept(make_api: Callable[..., Api]) -> None:
    server = DevServer().start()
    try:
        one_task_workflow(server)
        server.register_task_def({"name": "echo", "retryCount": 0})
        first = server.start_workflow("wf", {"x": 1})
        port = server.port
        server.stop()
        server.stop()  # idempotent
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        second = server.start_workflow("wf", {"x": 2})  # helpers work while stopped
        assert server.start() is server and server.port == port
        api = make_api(server)
        assert [t["workflowInstanceId"] for t in api.poll("echo", count=5)] == [first, second]
        assert api.get("/api/metadata/taskdefs/echo").json()["retryCount"] == 0
        assert server.stats()["poll_batch"] == 1
    finally:
        server.close()


def test_stop_drops_open_connections_and_parked_polls(make_api: Callable[..., Api]) -> None:
    server = DevServer().start()
    try:
        idle = RawConnection(server)
        parked = make_api(server)
        errors: list[BaseException] = []

        def long_poll() -> None:
            try:
                parked.get("/api/tasks/poll/batch/echo?timeout=5000")
            except (ConnectionError, OSError) as exc:
                errors.append(exc)

        thread = threading.Thread(target=long_poll)
        thread.start()
        wait_until(lambda: server.stats()["poll_batch"] == 1, what="the poll to park")
        server.stop()
        thread.join(WAIT)
        assert errors, "the parked poll should have lost its connection"
        assert idle.at_eof()
        idle.close()
        # No task was lost to the dropped poll.
        one_task_workflow(server)
        server.start_workflow("wf")
        server.start()
        assert len(make_api(server).poll("echo")) == 1
    finally:
        server.close()


def test_timers_keep_running_while_stopped(make_api: Callable[..., Api]) -> None:
    server = DevServer().start()
    try:
        server.register_task_def({"name": "flaky", "retryCount": 1, "retryDelaySeconds": 0.2})
        one_task_workflow(server, task="flaky")
        server.start_workflow("wf")
        api = make_api(server)
        api.update(api.poll_one("flaky"), "FAILED")
        api.close()
        server.stop()
        retry = server.tasks(status="SCHEDULED")[0]
        # The retry's delay passes while the server is down; afterwards it is ready at once.
        assert server.queue_size("flaky") == 1
        due_ms = retry["scheduledTime"] + 200
        wait_until(lambda: time.time() * 1000 > due_ms + 50, what="the retry delay to pass")
        server.start()
        again = make_api(server)
        assert again.poll_one("flaky", timeout=0)["taskId"] == retry["taskId"]
    finally:
        server.close()


def test_close_is_idempotent_and_final() -> None:
    server = DevServer().start()
    server.close()
    server.close()
    assert "closed" in repr(server)
    with pytest.raises(RuntimeError, match="closed"):
        server.start()
    with pytest.raises(RuntimeError, match="closed"):
        server.stats()
    never_started = DevServer()
    never_started.close()


def test_helpers_work_before_start() -> None:
    server = DevServer()
    try:
        one_task_workflow(server)
        workflow_id = server.start_workflow("wf", {"x": 1})
        assert server.queue_size("echo") == 1
        server.start()
        assert server.get_workflow(workflow_id)["status"] == "RUNNING"
    finally:
        server.close()


def test_helpers_are_thread_safe(dev_server: DevServer, make_api: Callable[..., Api]) -> None:
    one_task_workflow(dev_server)
    ids: list[str] = []
    lock = threading.Lock()

    def starter() -> None:
        for n in range(50):
            workflow_id = dev_server.start_workflow("wf", {"x": n})
            dev_server.get_workflow(workflow_id, include_tasks=False)
            with lock:
                ids.append(workflow_id)

    threads = [threading.Thread(target=starter) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert len(set(ids)) == 200 and dev_server.queue_size("echo") == 200


def test_the_port_must_be_free(dev_server: DevServer) -> None:
    second = DevServer(port=dev_server.port)
    try:
        with pytest.raises(OSError):
            second.start()
    finally:
        second.close()


@pytest.mark.parametrize("kwargs", [{"port": -1}, {"port": 70000}, {"update_v2_poll_timeout_ms": 6000},
                                    {"sweep_interval": 0}])
def test_invalid_settings(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        DevServer(**kwargs)



def _close_while_clients_connect() -> None:
    """Start a server, let four threads connect and disconnect in a loop, close it among them."""
    server = DevServer().start()
    port = server.port
    stop = threading.Event()
    connected = threading.Semaphore(0)

    def hammer() -> None:
        while not stop.is_set():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=WAIT).close()
                connected.release()
            except OSError:
                pass  # refused once the server has stopped

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(20):  # the server is busy accepting when it stops
            assert connected.acquire(timeout=WAIT), "no client could connect"
        server.close()
    finally:
        stop.set()
        for thread in threads:
            thread.join(WAIT)
        server.close()


def test_closing_while_clients_connect_leaves_no_broken_connection_behind() -> None:
    """Clients keep connecting while the server stops: every connection accepted by then is closed
    with it, and none left half made raises later when it is collected (with asyncio's own server
    on Python 3.13, a connection accepted just as it closed was left half made)."""
    failures: list[str] = []
    previous_hook = sys.unraisablehook
    sys.unraisablehook = lambda hook: failures.append(f"{hook.exc_type.__name__}: {hook.exc_value} ({hook.object})")
    try:
        for _ in range(3):
            _close_while_clients_connect()
            gc.collect()
    finally:
        sys.unraisablehook = previous_hook
    assert failures == []
