"""A client on the lean transport works without loading requests or httpx (worker start-up and memory).

Each case runs in a fresh interpreter against the dev server: it builds the flavour's client, makes
a real call, and reports which HTTP libraries ended up in ``sys.modules``. The transport comes from
the ``http_transport`` fixture (CONDUCTOR_ACTORS_HTTP_TRANSPORT, inherited): the standard one, and a
proxy in the environment on either, must load the library. The last case only imports the client
package and builds a client: what that loads in a fresh interpreter, per flavour and transport.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conductor_actors.devserver import DevServer

_PROBE = """
import asyncio, json, sys
from conductor_actors.client import AsyncConductorClient, Configuration, ConductorClient, ConductorError

url = sys.argv[1]

async def poll_async():
    async with AsyncConductorClient(Configuration(server_api_url=url)) as client:
        return await client.batch_poll("lean_imports_probe", count=1, timeout_ms=0)

try:
    if sys.argv[2] == "sync":
        with ConductorClient(Configuration(server_api_url=url)) as client:
            answer = len(client.batch_poll("lean_imports_probe", count=1, timeout_ms=0))
    else:
        answer = len(asyncio.run(poll_async()))
except ConductorError as exc:
    answer = str(exc)
loaded = [name for name in ("requests", "urllib3", "httpx", "httpcore", "urllib.request") if name in sys.modules]
print(json.dumps({"answer": answer, "loaded": loaded}))
"""


def _probe(dev_server: DevServer, flavour: str, **env: str) -> dict[str, object]:
    environment = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    environment.update(env)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, dev_server.url, flavour],
        env=environment, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _library(flavour: str) -> str:
    return "requests" if flavour == "sync" else "httpx"


def test_only_the_standard_transport_loads_the_http_library(
    dev_server: DevServer, flavour: str, http_transport: str
) -> None:
    result = _probe(dev_server, flavour)
    assert result["answer"] == 0
    if http_transport == "lean":
        assert result["loaded"] == []  # not even urllib.request, with no proxy variable set
    else:
        assert _library(flavour) in result["loaded"]  # type: ignore[operator]


@pytest.mark.parametrize("variable", ["http_proxy", "HTTP_PROXY"])
def test_a_proxy_that_applies_sends_through_the_library(dev_server: DevServer, flavour: str, variable: str) -> None:
    # The proxy is this same server, which refuses the absolute-form target a proxy is sent: that
    # refusal shows the request went through the proxy.
    result = _probe(dev_server, flavour, **{variable: dev_server.base_url, "no_proxy": ""})
    assert "Request target must be an absolute path: 'http://" in str(result["answer"])
    assert _library(flavour) in result["loaded"]  # type: ignore[operator]


def test_a_proxy_bypassed_by_no_proxy_is_not_used(dev_server: DevServer, flavour: str, http_transport: str) -> None:
    result = _probe(dev_server, flavour, http_proxy="http://127.0.0.1:9", no_proxy="127.0.0.1,localhost")
    assert result["answer"] == 0  # port 9 would refuse: the proxy was not used
    assert (_library(flavour) in result["loaded"]) == (http_transport == "standard")  # type: ignore[operator]


_BUILD = """
import json, sys
import conductor_actors.client as client

kind = client.ConductorClient if sys.argv[1] == "sync" else client.AsyncConductorClient
kind(client.Configuration(server_api_url="http://127.0.0.1:9/api", http_transport=sys.argv[2]))
heavy = ("asyncio", "requests", "httpx", "uuid", "decimal")
print(json.dumps([name for name in heavy if name in sys.modules]))
"""


def test_importing_the_client_and_building_one_loads_only_what_its_transport_needs(
    flavour: str, http_transport: str
) -> None:
    """A sync worker on the lean transport never loads asyncio, requests, httpx, uuid or decimal;
    the async client adds asyncio; the standard transport adds its own library, nothing else."""
    done = subprocess.run(
        [sys.executable, "-c", _BUILD, flavour, http_transport],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    expected = {
        ("sync", "lean"): [],
        ("sync", "standard"): ["requests"],
        ("async", "lean"): ["asyncio"],
        ("async", "standard"): ["asyncio", "httpx"],
    }[(flavour, http_transport)]
    assert json.loads(done.stdout) == expected


_SNIFFIO = """
import asyncio, importlib.util, json, sys
import httpcore._synchronization as synchronization
from conductor_actors.client import _standard_async  # noqa: F401

async def library():
    return synchronization.current_async_library()

print(json.dumps({"recorded_missing": "sniffio" in sys.modules and sys.modules["sniffio"] is None,
                  "library": asyncio.run(library())}))
"""


@pytest.mark.parametrize("installed", [False, True])
def test_the_httpx_transport_looks_for_a_missing_sniffio_only_once(tmp_path: Path, installed: bool) -> None:
    """httpcore imports sniffio at every lock it sets up; a missing one is recorded as not importable
    (so each later import fails without searching sys.path), an installed one is left alone, and
    httpcore runs on asyncio either way."""
    if importlib.util.find_spec("sniffio") is not None and not installed:
        pytest.skip("sniffio is installed in this environment")
    if installed:
        (tmp_path / "sniffio.py").write_text("def current_async_library():\n    return 'asyncio'\n")
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    environment = dict(os.environ, PYTHONPATH=path)
    done = subprocess.run(
        [sys.executable, "-c", _SNIFFIO], env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"recorded_missing": not installed, "library": "asyncio"}
