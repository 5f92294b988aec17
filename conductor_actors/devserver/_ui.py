"""The dev server's web page: static files shipped in the package, served outside ``/api``.

``GET /`` answers ``ui/index.html``; ``GET /ui/<name>`` answers one of the files of the package's
``ui`` folder. The files are read once, when the server is built, into a table keyed by file name,
and a request is answered only from that table: a path is never joined onto a directory, so no
request can reach another file (``..``, encoded slashes and the like are just unknown names, 404).
Every answer has its content type and headers that keep the page to its own origin (no inline
script, no framing, no sniffing). The page itself talks to the API under ``/api`` like any client.

Pure data after construction; ``handle`` runs on the loop thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

from ._errors import ApiError
from ._http import Request, Response

__all__ = ["UI_PREFIX", "StaticFiles"]

#: The first path segment of the page's files (the page itself is at ``/``).
UI_PREFIX = "ui"

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

#: Headers of every page answer: same-origin everything, no inline code, no framing, no sniffing.
_HEADERS = (
    ("Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
     "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-cache"),
)


def _load() -> dict[str, tuple[bytes, str]]:
    """File name -> (bytes, content type) for every file of the ``ui`` folder with a known type."""
    folder = resources.files("conductor_actors.devserver").joinpath(UI_PREFIX)
    files: dict[str, tuple[bytes, str]] = {}
    for entry in folder.iterdir():
        suffix = entry.name[entry.name.rfind("."):] if "." in entry.name else ""
        if entry.is_file() and suffix in _CONTENT_TYPES:
            files[entry.name] = (entry.read_bytes(), _CONTENT_TYPES[suffix])
    if "index.html" not in files:
        raise RuntimeError(f"the dev server's page is missing from the package (no {UI_PREFIX}/index.html)")
    return files


class StaticFiles:
    """Answers the page's requests from the files read at construction.

    Raises ``RuntimeError`` at construction when the package was installed without its ``ui`` folder.
    """

    def __init__(self) -> None:
        self._files = _load()

    @property
    def names(self) -> tuple[str, ...]:
        """The file names served under ``/ui/``."""
        return tuple(sorted(self._files))

    def handle(self, request: Request, segments: Sequence[str]) -> Response:
        """Answer ``GET /`` or ``GET /ui/<name>``. Raises ``ApiError`` 404 for anything else, 405
        for another method on a page path."""
        path = tuple(segments)
        if path in (("",), ()):
            name = "index.html"
        elif len(path) == 2 and path[0] == UI_PREFIX and path[1] in self._files:
            name = path[1]
        else:
            raise ApiError(404, f"No static resource {'/'.join(path)}. The API is under /api, the page at /.")
        if request.method != "GET":
            raise ApiError(405, f"Request method '{request.method}' is not supported")
        body, content_type = self._files[name]
        return Response(200, body, content_type, headers=_HEADERS)
