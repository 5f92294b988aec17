"""Keep-alive housekeeping shared by both lean transports (stdlib only, no HTTP library)."""

from __future__ import annotations

import select
import socket

__all__ = ["TRUSTED_IDLE", "socket_dropped"]

#: Seconds an idle keep-alive connection is reused without checking that the server kept it open.
TRUSTED_IDLE = 1.0


def socket_dropped(sock: socket.socket) -> bool:
    """An idle keep-alive socket that is readable has been closed (or sent garbage): do not reuse it."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
