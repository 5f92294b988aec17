"""Which CA certificates HTTPS trusts: one rule for every transport of both flavours.

``Configuration.ssl_ca_cert``, then ``REQUESTS_CA_BUNDLE``, then ``SSL_CERT_FILE``, then
``SSL_CERT_DIR``, then the default bundle. Tested against a real TLS server on loopback whose
certificate is signed by a CA made for the test with the ``openssl`` command line; a second CA
that signed nothing stands for "the wrong bundle".
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from client._driver import Driver, configuration_for
from client._scripted import OK_EMPTY_LIST, ScriptedServer, answer

from conductor_actors.client import ConductorTransportError, ConfigurationError
from conductor_actors.client._http11 import CA_SOURCES, trusted_cas


def _openssl(*args: str, cwd: Path) -> str:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _make_ca(directory: Path, name: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
        "-keyout", f"{name}.key", "-out", f"{name}.pem",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with ``ca.pem`` (signed the server's certificate), ``other.pem`` (signed
    nothing), ``server.pem``/``server.key`` (for 127.0.0.1) and ``cadir/`` (``ca.pem`` under its
    OpenSSL hash name, as ``SSL_CERT_DIR`` expects)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command line is needed to make a test CA")
    directory = tmp_path_factory.mktemp("pki")
    _make_ca(directory, "ca")
    _make_ca(directory, "other")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", "server.key", "-out", "server.csr", cwd=directory)
    (directory / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    )
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-out", "server.pem", "-extfile", "server.ext", cwd=directory)
    cadir = directory / "cadir"
    cadir.mkdir()
    digest = _openssl("x509", "-hash", "-noout", "-in", "ca.pem", cwd=directory).strip()
    shutil.copy(directory / "ca.pem", cadir / f"{digest}.0")
    return directory


@pytest.fixture
def tls_server(pki: Path) -> Iterator[ScriptedServer]:
    """A loopback HTTPS server presenting the certificate ``ca.pem`` signed; one answer."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "server.pem", pki / "server.key")
    server = ScriptedServer([answer(OK_EMPTY_LIST)], tls=context)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _no_ca_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CA_SOURCES:
        monkeypatch.delenv(name, raising=False)


#: case -> (ssl_ca_cert, {variable: which file}, trusted?) ; "ca" signed the server, "other" did not
CASES: dict[str, tuple[str | None, dict[str, str], bool]] = {
    "ssl_ca_cert": ("ca", {}, True),
    "REQUESTS_CA_BUNDLE": (None, {"REQUESTS_CA_BUNDLE": "ca"}, True),
    "CURL_CA_BUNDLE": (None, {"CURL_CA_BUNDLE": "ca"}, True),
    "SSL_CERT_FILE": (None, {"SSL_CERT_FILE": "ca"}, True),
    "SSL_CERT_DIR": (None, {"SSL_CERT_DIR": "cadir"}, True),
    "ssl_ca_cert-over-REQUESTS_CA_BUNDLE": ("ca", {"REQUESTS_CA_BUNDLE": "other"}, True),
    "REQUESTS_CA_BUNDLE-over-SSL_CERT_FILE": (None, {"REQUESTS_CA_BUNDLE": "other", "SSL_CERT_FILE": "ca"}, False),
    "SSL_CERT_FILE-over-SSL_CERT_DIR": (None, {"SSL_CERT_FILE": "other", "SSL_CERT_DIR": "cadir"}, False),
    "default-bundle": (None, {}, False),
}


def _path(pki: Path, which: str) -> str:
    return str(pki / which) if which == "cadir" else str(pki / f"{which}.pem")


@pytest.mark.parametrize("case", list(CASES))
def test_every_transport_trusts_the_same_ca_certificates(
    case: str, pki: Path, tls_server: ScriptedServer, make_driver: Callable[..., Driver],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    explicit, variables, trusted = CASES[case]
    for name, which in variables.items():
        monkeypatch.setenv(name, _path(pki, which))
    configuration = configuration_for(tls_server.api_url, ssl_ca_cert=_path(pki, explicit) if explicit else None)
    client = make_driver(configuration)
    if trusted:
        assert client.batch_poll("secure", count=1, timeout_ms=0) == []
    else:
        with pytest.raises(ConductorTransportError, match="CERTIFICATE_VERIFY_FAILED"):
            client.batch_poll("secure", count=1, timeout_ms=0)


@pytest.mark.parametrize("source", ["ssl_ca_cert", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_a_ca_bundle_that_cannot_be_loaded_is_a_configuration_error_naming_where_it_came_from(
    source: str, tmp_path: Path, make_driver: Callable[..., Driver], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = str(tmp_path / "no-such-bundle.pem")
    if source != "ssl_ca_cert":
        monkeypatch.setenv(source, missing)
    configuration = configuration_for(
        "https://127.0.0.1:9/api", ssl_ca_cert=missing if source == "ssl_ca_cert" else None
    )
    with pytest.raises(ConfigurationError, match=f"^{source}=.*no-such-bundle.pem.*cannot load CA certificates"):
        make_driver(configuration)


def test_the_rule_in_order() -> None:
    env = {"SSL_CERT_DIR": "/d", "SSL_CERT_FILE": "/f", "CURL_CA_BUNDLE": "/c", "REQUESTS_CA_BUNDLE": "/r"}
    assert trusted_cas("/x", env) == ("/x", "ssl_ca_cert")
    assert trusted_cas(None, env) == ("/r", "REQUESTS_CA_BUNDLE")
    del env["REQUESTS_CA_BUNDLE"]
    assert trusted_cas(None, env) == ("/c", "CURL_CA_BUNDLE")
    del env["CURL_CA_BUNDLE"]
    assert trusted_cas(None, env) == ("/f", "SSL_CERT_FILE")
    del env["SSL_CERT_FILE"]
    assert trusted_cas(None, env) == ("/d", "SSL_CERT_DIR")
    assert trusted_cas(None, {"SSL_CERT_FILE": ""}) is None  # empty = unset
