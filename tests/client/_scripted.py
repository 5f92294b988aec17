"""A scripted HTTP server on loopback for the transport tests.

Each request is answered by the next script in line with bytes the test chooses: a framing the
parser must handle, garbage, a reset in the middle, silence, or an answer dripped a byte at a time.
Scripts run on the server's connection threads.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable

Script = Callable[[socket.socket, bytes], bool]  # answers one request; False = close the connection

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
OK_EMPTY_LIST = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]"


class ScriptedServer:
    """Accepts connections on loopback; each request is answered by the next script in line."""

    def __init__(self, scripts: list[Script], host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.scripts = list(scripts)
        self.connections = 0
        self.requests = 0
        self.heads: list[bytes] = []  # each request's head, as it arrived
        self.host, self.tls = host, tls
        self.listener = socket.create_server((host, 0), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.port = self.listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls is not None else 'http'}://{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.origin}/api/tasks/update-v2"

    @property
    def api_url(self) -> str:
        """The API root, for a client's ``Configuration``."""
        return f"{self.origin}/api"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):
                conn.close()
                return  # the client refused the certificate
        with conn:
            try:
                self._answer(conn)
            except OSError:
                return  # the client went away

    def _answer(self, conn: socket.socket) -> None:
        buffer = b""
        while self.scripts:
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            head, _, rest = buffer.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length")), 0)
            while len(rest) < length:
                rest += conn.recv(65536)
            buffer = rest[length:]
            self.requests += 1
            self.heads.append(head)
            if not self.scripts.pop(0)(conn, head + b"\r\n\r\n" + rest[:length]):
                return

    def close(self) -> None:
        self.listener.close()


def answer(raw: bytes, keep: bool = True, then: Callable[[], None] | None = None) -> Script:
    """Send ``raw``; keep the connection open or not; ``then`` runs after a close (to sync tests)."""

    def script(conn: socket.socket, request: bytes) -> bool:
        conn.sendall(raw)
        if not keep and then is not None:
            conn.close()
            then()
        return keep

    return script


def reset_after(raw: bytes) -> Script:
    """Send ``raw``, then reset the connection (RST, not an orderly close)."""

    def script(conn: socket.socket, request: bytes) -> bool:
        conn.sendall(raw)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        return False

    return script


def silence(conn: socket.socket, request: bytes) -> bool:
    """Answer nothing for 2 s, then close (the client gives up first)."""
    threading.Event().wait(2.0)
    return False


def drip(raw: bytes, every: float, *, longest: float = 4.0) -> Script:
    """Send ``raw`` one byte every ``every`` seconds, never finishing within ``longest`` seconds.

    Each byte comes well within any per-read timeout, so only a deadline on the whole answer ends
    the call. Stops when the client closes the connection, or after ``longest`` seconds (then
    closes it: a client without a whole-answer deadline sees a broken answer, late).
    """

    def script(conn: socket.socket, request: bytes) -> bool:
        pace = threading.Event()  # never set: waits pace the bytes
        for index in range(min(len(raw), int(longest / every))):
            try:
                conn.sendall(raw[index : index + 1])
            except OSError:
                return False  # the client gave up and closed the connection
            pace.wait(every)
        return False

    return script
