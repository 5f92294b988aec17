"""Metrics settings that cannot work fail early, name the setting, and start nothing.

``MetricsSettings`` validates its values when built; a port in use or a directory that cannot be
written is found by ``TaskHandler.start_processes()`` before any worker process exists, and the
parent's actors started so far are stopped again (no thread is left behind).
"""

from __future__ import annotations

import errno
import math
import multiprocessing
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _support.metrics_apps import make_worker
from _support.metrics_apps.harness import TASK, WAIT, HandlerFactory, scrape, wait_until

from conductor_actors import MetricsSettings, TaskHandler
from conductor_actors.handler import TaskHandlerError
from conductor_actors.metrics._exposition import _bind_error
from conductor_actors.settings import MetricsSettingsError


@pytest.fixture
def busy_port() -> Iterator[socket.socket]:
    """A loopback port some other program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock


def thread_names() -> set[str]:
    return {thread.name for thread in threading.enumerate() if thread.is_alive()}


def assert_nothing_started(handler: TaskHandler, threads_before: set[str]) -> None:
    assert handler.status() == []
    assert multiprocessing.active_children() == []
    wait_until(lambda: thread_names() <= threads_before,
             "the threads started for the failed start to end", timeout=10)


def test_a_port_in_use_fails_the_start_naming_http_port_before_any_worker_process(
    busy_port: socket.socket, handler_factory: HandlerFactory
) -> None:
    port = busy_port.getsockname()[1]
    handler = handler_factory(
        [make_worker("sync", TASK)], MetricsSettings(http_port=port, http_host="127.0.0.1"), start=False
    )
    threads_before = thread_names()

    with pytest.raises(MetricsSettingsError, match=rf"http_port={port}\b") as raised:
        handler.start_processes()

    assert "in use" in str(raised.value)
    assert_nothing_started(handler, threads_before)


def test_a_second_start_after_the_port_was_freed_serves_metrics_or_refuses(
    busy_port: socket.socket, handler_factory: HandlerFactory
) -> None:
    port = busy_port.getsockname()[1]
    handler = handler_factory(
        [make_worker("sync", TASK)], MetricsSettings(http_port=port, http_host="127.0.0.1"), start=False
    )
    with pytest.raises(MetricsSettingsError):
        handler.start_processes()
    busy_port.close()

    try:
        handler.start_processes()
    except (MetricsSettingsError, TaskHandlerError):
        assert handler.status() == [], "it refused, yet started worker processes"
        return
    assert handler.wait_ready(WAIT)
    assert scrape(handler).one("active_workers", taskType=TASK) == 1, "workers run without their metrics"


def test_an_address_of_another_machine_fails_the_start_naming_http_host(handler_factory: HandlerFactory) -> None:
    """203.0.113.1 (TEST-NET-3, never an address of this machine) cannot be bound for a reason
    other than a port in use: the error names ``http_host`` and says why, and nothing starts."""
    handler = handler_factory(
        [make_worker("sync", TASK)], MetricsSettings(http_port=0, http_host="203.0.113.1"), start=False
    )
    threads_before = thread_names()

    with pytest.raises(MetricsSettingsError) as raised:
        handler.start_processes()

    message = str(raised.value)
    assert message.startswith("http_host='203.0.113.1': cannot serve metrics on 203.0.113.1:0 ("), message
    assert message.endswith(": not an address of this machine)"), message
    assert_nothing_started(handler, threads_before)


@pytest.mark.parametrize(("error", "expected"), [
    (OSError(errno.EADDRINUSE, "Address already in use"),
     "http_port=80: cannot serve metrics on h:80 (Address already in use: another program listens there)"),
    (OSError(errno.EACCES, "Permission denied"),
     "http_port=80: cannot serve metrics on h:80 (Permission denied: ports below 1024 need privileges)"),
    (OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"),
     "http_host='h': cannot serve metrics on h:80 (Cannot assign requested address: not an address of this "
     "machine)"),
    (socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
     "http_host='h': cannot serve metrics on h:80 (cannot resolve the host name: Name or service not known)"),
    (OSError(errno.ENETDOWN, "Network is down"),
     "http_host='h', http_port=80: cannot serve metrics on h:80 (Network is down)"),
], ids=["in-use", "no-permission", "not-local", "unresolvable", "other"])
def test_a_bind_failure_names_the_setting_at_fault(error: OSError, expected: str) -> None:
    assert str(_bind_error("h", 80, error)) == expected


def _file(tmp_path: Path) -> str:
    path = tmp_path / "a-file"
    path.write_text("not a directory")
    return str(path)


def _under_a_file(tmp_path: Path) -> str:
    return os.path.join(_file(tmp_path), "metrics")


@pytest.mark.parametrize("make_directory", [_file, _under_a_file], ids=["a-file", "under-a-file"])
def test_a_directory_that_cannot_be_written_fails_the_start_naming_directory(
    make_directory: Any, tmp_path: Path, handler_factory: HandlerFactory
) -> None:
    directory = make_directory(tmp_path)
    handler = handler_factory([make_worker("sync", TASK)], MetricsSettings(directory=directory), start=False)
    threads_before = thread_names()

    with pytest.raises(MetricsSettingsError, match="directory=") as raised:
        handler.start_processes()

    assert directory in str(raised.value)
    assert_nothing_started(handler, threads_before)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_fails_the_start_naming_directory(
    tmp_path: Path, handler_factory: HandlerFactory
) -> None:
    directory = tmp_path / "read-only"
    directory.mkdir()
    directory.chmod(0o555)
    try:
        handler = handler_factory([make_worker("sync", TASK)], MetricsSettings(directory=str(directory)), start=False)
        with pytest.raises(MetricsSettingsError, match="directory="):
            handler.start_processes()
        assert handler.status() == []
    finally:
        directory.chmod(0o755)


def test_without_port_or_directory_the_official_default_directory_is_used() -> None:
    settings = MetricsSettings()
    assert settings.directory == f"{Path.home()}/tmp/" and not settings.http_mode


@pytest.mark.parametrize("port", [-1, 65536, 8080.0, "8080", True])
def test_a_bad_port_is_named(port: Any) -> None:
    with pytest.raises(MetricsSettingsError, match=r"http_port="):
        MetricsSettings(http_port=port)


def test_an_empty_directory_is_named() -> None:
    with pytest.raises(MetricsSettingsError, match="directory="):
        MetricsSettings(directory="")


@pytest.mark.parametrize("name", ["update_interval", "quantile_window"])
@pytest.mark.parametrize("value", [0, -1.0, math.nan, math.inf, True, "1"])
def test_a_bad_interval_is_named(name: str, value: Any) -> None:
    with pytest.raises(MetricsSettingsError, match=rf"{name}="):
        MetricsSettings(http_port=0, **{name: value})


@pytest.mark.parametrize("file_name", ["", "sub/m.prom"])
def test_a_file_name_that_is_not_a_plain_name_is_named(file_name: str, tmp_path: Path) -> None:
    with pytest.raises(MetricsSettingsError, match="file_name="):
        MetricsSettings(directory=str(tmp_path), file_name=file_name)


def test_good_settings_pass() -> None:
    assert MetricsSettings(http_port=0).http_mode
    assert not MetricsSettings(directory="metrics-dir").http_mode
    assert MetricsSettings(http_port=65535, update_interval=0.5, quantile_window=1).quantile_window == 1
