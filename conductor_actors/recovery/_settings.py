"""``RecoverySettings``: where the outbox lives and how long it keeps trying."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["RecoverySettings", "RecoverySettingsError", "default_state_dir"]

STATE_DIR_VARIABLE = "CONDUCTOR_ACTORS_STATE_DIR"


class RecoverySettingsError(ValueError):
    """A recovery setting cannot work; the message names it."""


def default_state_dir(env: Mapping[str, str] | None = None) -> str:
    """``$CONDUCTOR_ACTORS_STATE_DIR``, else ``$XDG_STATE_HOME/conductor-actors``, else
    ``~/.local/state/conductor-actors`` (per user)."""
    env = os.environ if env is None else env
    if env.get(STATE_DIR_VARIABLE):
        return env[STATE_DIR_VARIABLE]
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "conductor-actors")


@dataclass(frozen=True)
class RecoverySettings:
    """The durable outbox for results whose update failed after every attempt.

    Every field can be set from the environment as ``CONDUCTOR_ACTORS_RECOVERY_<FIELD>`` (e.g.
    ``CONDUCTOR_ACTORS_RECOVERY_MAX_AGE=3600``); the state directory also as
    ``CONDUCTOR_ACTORS_STATE_DIR``.

    Attributes:
        enabled: run the built-in RecoveryActor (switch it off to handle ``TaskUpdateFailure`` with
            your own parent-side actor).
        state_dir: directory of the journal file ``outbox.sqlite3`` (default: ``default_state_dir()``).
        max_age: seconds after which an undelivered entry is given up: logged at ERROR and kept in
            the ``dead`` table (default 24 h).
        retry_backoff_base / retry_backoff_cap: the first delivery is tried ``base`` seconds after the
            result was journalled; after the n-th failed attempt the next comes
            ``min(cap, base * 2**(n-1))`` seconds later.
        check_interval: the longest the actor waits before looking at the journal again (picks up
            entries made due from the command line).
    """

    enabled: bool = True
    state_dir: str | None = None
    max_age: float = 24 * 3600.0
    retry_backoff_base: float = 1.0
    retry_backoff_cap: float = 300.0
    check_interval: float = 5.0

    def __post_init__(self) -> None:
        for name in ("max_age", "retry_backoff_base", "retry_backoff_cap", "check_interval"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise RecoverySettingsError(f"{name}={value!r}: must be a positive number of seconds")
        if self.retry_backoff_cap < self.retry_backoff_base:
            raise RecoverySettingsError("retry_backoff_cap must be >= retry_backoff_base")

    def journal_dir(self, env: Mapping[str, str] | None = None) -> str:
        return os.path.abspath(os.path.expanduser(self.state_dir or default_state_dir(env)))
