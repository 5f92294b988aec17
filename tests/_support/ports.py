"""Loopback ports for tests: one nobody listens on, and whether a given one is free to bind."""

from __future__ import annotations

import socket

__all__ = ["free_port", "port_is_free"]


def free_port() -> int:
    """A loopback port nobody listens on (free when this returns; bound and released at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a server can bind ``port`` on the loopback interface right now: nothing listens
    there. Bound with ``SO_REUSEADDR``, as the dev server binds, so connections of an earlier server
    left in TIME_WAIT (up to a minute) do not count."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
