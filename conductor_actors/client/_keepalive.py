"""Keep-alive housekeeping shared by both lean transports (stdlib only, no HTTP library)."""

from __future__ import annotations

import select
import socket

__all__ = ["socket_dropped"]


def socket_dropped(sock: socket.socket) -> bool:
    """An idle keep-alive socket that is readable has been closed (or sent garbage): do not reuse it."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
