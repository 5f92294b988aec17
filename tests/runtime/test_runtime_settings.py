"""``RuntimeSettings`` refuses bad values and names the setting."""

from __future__ import annotations

import pytest

from conductor_actors.settings import RuntimeSettings, RuntimeSettingsError


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"update_retry_delays": (10.0, -1.0)}, "update_retry_delays=-1.0"),
        ({"shutdown_grace": float("nan")}, "shutdown_grace=nan"),
        ({"heartbeat_interval": 0}, "heartbeat_interval=0"),
        ({"updater_concurrency": -2}, "updater_concurrency=-2"),
        ({"backoff_jitter": 1.5}, "backoff_jitter=1.5"),
        ({"auth_backoff_base": 10.0, "auth_backoff_cap": 1.0}, "auth_backoff_cap"),
    ],
)
def test_bad_runtime_settings_name_the_setting(kwargs: dict, fragment: str) -> None:
    with pytest.raises(RuntimeSettingsError, match=fragment.replace("(", r"\(").replace(".", r"\.")):
        RuntimeSettings(**kwargs)
