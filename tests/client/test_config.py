"""Client configuration: defaults, where the URL and the credentials come from, and what is refused.

The environment is set per test with ``monkeypatch.setenv`` (and cleared with ``delenv``), so the
machine's own variables never leak in.
"""

from __future__ import annotations

import pickle
import re

import pytest

from conductor_actors.client import AuthenticationSettings, Configuration, ConfigurationError

ENV_NAMES = ("CONDUCTOR_SERVER_URL", "CONDUCTOR_AUTH_KEY", "CONDUCTOR_AUTH_SECRET", "CONDUCTOR_ACTORS_HTTP_TRANSPORT")
SECRET = "s3cr3t-value-never-shown"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    config = Configuration()
    assert config.server_api_url == config.host == "http://localhost:8080/api"
    assert config.authentication_settings is None
    assert (config.connect_timeout, config.read_timeout) == (5.0, 30.0)
    assert config.auth_token_ttl_min == 45.0 and config.auth_token_ttl_seconds == 2700.0
    assert config.http_transport == "lean"


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://conductor:8080", "http://conductor:8080/api"),
        ("https://conductor.example.com/", "https://conductor.example.com/api"),
        ("http://gateway/conductor", "http://gateway/conductor/api"),
    ],
)
def test_base_url_gets_api_appended(base_url: str, expected: str) -> None:
    assert Configuration(base_url).server_api_url == expected
    assert Configuration(base_url=base_url).server_api_url == expected


def test_the_environment_url_is_used_as_given_when_nothing_is_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUCTOR_SERVER_URL", "https://conductor.example.com/api/")
    assert Configuration().server_api_url == "https://conductor.example.com/api"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://conductor:8080/api\n", "whitespace ('\\n' at position 25)"),  # a secret file's last line
        (" http://conductor:8080/api", "whitespace (' ' at position 0)"),
        ("http://conductor:8080/my api", "whitespace (' ' at position 24)"),
        ("http://conduc\ttor:8080/api", "whitespace ('\\t' at position 13)"),
        ("http://conductor:8080/api\x00", "a control character ('\\x00' at position 25)"),
        ("http://conductor:8080/a\x7fpi", "a control character ('\\x7f' at position 23)"),
    ],
)
def test_a_url_with_whitespace_or_a_control_character_is_a_configuration_error(
    url: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sent as is, such a URL makes a malformed request line; it is refused where it is configured."""
    for given in ({"server_api_url": url}, {"base_url": url}):
        with pytest.raises(ConfigurationError, match=re.escape(problem)) as caught:
            Configuration(**given, env={})
        assert str(caught.value).startswith(f"{next(iter(given))}=")
    if "\x00" in url:
        return  # no environment variable can hold a NUL
    monkeypatch.setenv("CONDUCTOR_SERVER_URL", url)
    with pytest.raises(ConfigurationError, match="^CONDUCTOR_SERVER_URL=.*" + re.escape(problem)):
        Configuration()


@pytest.mark.parametrize("attribute", ["server_api_url", "host"])
@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://conductor:8080/api\n", "whitespace ('\\n' at position 25)"),
        ("http://conductor:8080/api\x01", "a control character ('\\x01' at position 25)"),
        ("ftp://conductor/api", "must start with http:// or https://"),
    ],
)
def test_assigning_a_bad_url_to_a_configuration_is_refused_and_changes_nothing(
    attribute: str, url: str, problem: str
) -> None:
    """Code that sets the URL after building the configuration gets the same check as the
    constructor, instead of a malformed request line on every call later."""
    config = Configuration(server_api_url="http://conductor:8080/api", env={})
    with pytest.raises(ConfigurationError, match=f"^{attribute}=.*" + re.escape(problem)):
        setattr(config, attribute, url)
    assert config.server_api_url == config.host == "http://conductor:8080/api"
    setattr(config, attribute, "https://other.example.com/api/")
    assert config.server_api_url == config.host == "https://other.example.com/api"


def test_explicit_urls_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUCTOR_SERVER_URL", "http://from-env:8080/api")
    assert Configuration(server_api_url="http://explicit:1/api").server_api_url == "http://explicit:1/api"
    assert Configuration(base_url="http://explicit:2").server_api_url == "http://explicit:2/api"
    # server_api_url (the full root) wins over base_url.
    both = Configuration(base_url="http://base:3", server_api_url="http://full:4/api")
    assert both.server_api_url == "http://full:4/api"


def test_credentials_come_from_the_environment_when_both_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUCTOR_AUTH_KEY", "env-key-id")
    monkeypatch.setenv("CONDUCTOR_AUTH_SECRET", SECRET)
    assert Configuration().authentication_settings == AuthenticationSettings("env-key-id", SECRET)


def test_explicit_credentials_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = AuthenticationSettings("explicit-key", "explicit-secret")
    monkeypatch.setenv("CONDUCTOR_AUTH_KEY", "env-key-id")
    monkeypatch.setenv("CONDUCTOR_AUTH_SECRET", SECRET)
    assert Configuration(authentication_settings=explicit).authentication_settings == explicit
    # With explicit credentials the environment's pair is not read at all, even a half one.
    monkeypatch.delenv("CONDUCTOR_AUTH_SECRET")
    assert Configuration(authentication_settings=explicit).authentication_settings == explicit


@pytest.mark.parametrize(
    ("present", "missing"),
    [("CONDUCTOR_AUTH_KEY", "CONDUCTOR_AUTH_SECRET"), ("CONDUCTOR_AUTH_SECRET", "CONDUCTOR_AUTH_KEY")],
)
def test_only_one_of_key_and_secret_is_an_error_naming_the_missing_one(
    monkeypatch: pytest.MonkeyPatch, present: str, missing: str
) -> None:
    # Running without auth would only show up later as 401s; the official SDK ignores the half pair.
    monkeypatch.setenv(present, SECRET)
    with pytest.raises(ConfigurationError, match=f"{present} is set but {missing} is not") as caught:
        Configuration()
    assert SECRET not in str(caught.value)


def test_empty_credentials_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUCTOR_AUTH_KEY", "")
    monkeypatch.setenv("CONDUCTOR_AUTH_SECRET", "")
    assert Configuration().authentication_settings is None
    with pytest.raises(ConfigurationError, match="both key_id and key_secret"):
        AuthenticationSettings("key-id", "")


@pytest.mark.parametrize(
    ("kwargs", "env_url", "message"),
    [
        ({"server_api_url": "ftp://conductor/api"}, None,
         "server_api_url='ftp://conductor/api': the Conductor URL must start with http:// or https://"),
        ({"base_url": "conductor:8080"}, None,
         "base_url='conductor:8080': the Conductor URL must start with http:// or https://"),
        ({}, "conductor.example.com/api",
         "CONDUCTOR_SERVER_URL='conductor.example.com/api': the Conductor URL must start with http:// or https://"),
        ({"server_api_url": "http://"}, None, "server_api_url='http://': the Conductor URL has no host"),
        ({"base_url": "http://:8080"}, None, "base_url='http://:8080': the Conductor URL has no host"),
        ({"server_api_url": "http://conductor:http/api"}, None,
         "server_api_url='http://conductor:http/api': not a valid URL"),
        ({"server_api_url": 8080}, None, "server_api_url=8080: the Conductor URL must be a string"),
    ],
    ids=["ftp", "no_scheme", "env_no_scheme", "no_host", "port_only", "bad_port", "not_text"],
)
def test_a_url_that_is_not_http_is_refused_naming_its_source_and_value(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, object], env_url: str | None, message: str
) -> None:
    if env_url is not None:
        monkeypatch.setenv("CONDUCTOR_SERVER_URL", env_url)
    with pytest.raises(ConfigurationError) as caught:
        Configuration(**kwargs)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("name", ["connect_timeout", "read_timeout", "auth_token_ttl_min"])
@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), True, "5"])
def test_timeouts_must_be_positive_numbers(name: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Configuration(**{name: value})  # type: ignore[arg-type]


def test_the_transport_comes_from_the_argument_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUCTOR_ACTORS_HTTP_TRANSPORT", "standard")
    assert Configuration().http_transport == "standard"
    assert Configuration(http_transport="lean").http_transport == "lean"
    monkeypatch.setenv("CONDUCTOR_ACTORS_HTTP_TRANSPORT", "fast")
    with pytest.raises(ConfigurationError, match="CONDUCTOR_ACTORS_HTTP_TRANSPORT='fast'"):
        Configuration()


def test_secrets_never_appear_in_a_repr_even_after_pickling() -> None:
    settings = AuthenticationSettings("key-id-123456", SECRET)
    config = Configuration(server_api_url="http://conductor:8080/api", authentication_settings=settings)
    copy = pickle.loads(pickle.dumps(config))  # worker processes receive the configuration pickled
    assert copy == config and copy.authentication_settings.key_secret == SECRET  # type: ignore[union-attr]
    for text in (repr(settings), str(settings), repr(config), str(config), repr(copy)):
        assert SECRET not in text
        assert "key-id-123456" not in text  # the key id is shown masked
    assert "key_secret='***'" in repr(settings) and "key-***" in repr(settings)


def test_an_explicit_env_mapping_replaces_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUCTOR_SERVER_URL", "http://from-process:1/api")
    config = Configuration(env={"CONDUCTOR_SERVER_URL": "http://from-mapping:2/api"})
    assert config.server_api_url == "http://from-mapping:2/api"
    assert Configuration(env={}).server_api_url == "http://localhost:8080/api"
