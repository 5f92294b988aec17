"""Which proxy, if any, the environment names for the server (read once, when a client is built).

The standard library's rules: ``*_proxy`` variables, ``no_proxy`` honoured; with
``system_settings`` also the platform's proxy configuration (macOS, Windows), as ``requests``
reads it. Knowing this without importing ``requests`` or ``httpx`` lets a client that needs no
proxy start on the lean transport alone.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit

__all__ = ["proxy_for"]


def proxy_for(url: str, *, system_settings: bool) -> str | None:
    """The proxy URL that applies to ``url``, or ``None``; runs on the caller's thread, never raises."""
    platform_settings = system_settings and sys.platform in ("darwin", "win32")
    if not platform_settings and not any(name.lower().endswith("_proxy") for name in os.environ):
        return None  # the common case, answered without loading urllib.request (and http.client, email...)
    import urllib.request

    proxies = urllib.request.getproxies() if system_settings else urllib.request.getproxies_environment()
    if not proxies:
        return None
    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):  # honours no_proxy when *_proxy is set
        return None
    return proxies.get(parts.scheme) or proxies.get("all")
