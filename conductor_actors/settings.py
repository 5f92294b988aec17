"""Every settings section of the runtime, and how each is read from the environment.

One place for the knobs of a process tree: ``RuntimeSettings`` (the pipeline inside each worker
process), ``SupervisionSettings`` (how the parent restarts, watches and stops them),
``MetricsSettings`` (where metrics go) and ``RecoverySettings`` (the durable outbox). Each is a
frozen dataclass validated at construction, so a bad value fails at start-up with a subclass of
``SettingsError`` naming the setting. Every field can also be set from the environment by its
upper-cased name with the ``CONDUCTOR_ACTORS_`` prefix (``settings_from_env``); explicit arguments in
code win over the environment, which wins over the defaults. ``build_tree_settings`` is the one
place that merges code, environment and command line into a ``TreeSettings`` for a process tree.

Runs on whichever thread builds the settings; nothing here does I/O except reading ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import multiprocessing
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from ._logging import level_number

__all__ = [
    "ENV_PREFIX",
    "MAX_UPDATER_CONCURRENCY",
    "PARENT_STOP_TIMEOUT",
    "RECOVERY_ENV_PREFIX",
    "STATE_DIR_VARIABLE",
    "STOP_MARGIN",
    "CommandLine",
    "MetricsSettings",
    "MetricsSettingsError",
    "RecoverySettings",
    "RecoverySettingsError",
    "RuntimeSettings",
    "RuntimeSettingsError",
    "SettingsError",
    "ShutdownDeadlines",
    "SupervisionSettings",
    "SupervisionSettingsError",
    "TreeSettings",
    "build_tree_settings",
    "default_metrics_directory",
    "default_state_dir",
    "env_names",
    "settings_from_env",
]

_log = logging.getLogger("conductor_actors.metrics")


class SettingsError(ValueError):
    """A setting has a value that cannot work; the message names the setting and its value."""


class RuntimeSettingsError(SettingsError):
    """A runtime setting has a value that cannot work; the message names it."""


class SupervisionSettingsError(SettingsError):
    """A supervision setting has a value that cannot work; the message names it."""


class MetricsSettingsError(SettingsError):
    """A metrics setting cannot work; the message names the setting and its value."""


class RecoverySettingsError(SettingsError):
    """A recovery setting cannot work; the message names it."""


def _check_number(
    error: type[SettingsError],
    name: str,
    value: Any,
    *,
    minimum: float = 0.0,
    maximum: float | None = None,
    below: float | None = None,
    positive: bool = False,
    message: str | None = None,
) -> None:
    """Raise ``error`` naming ``name`` unless ``value`` is a finite number within the bounds.

    ``maximum`` is inclusive, ``below`` exclusive; ``message`` replaces the generated wording.
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (
        value < minimum
        or (positive and value <= 0)
        or (maximum is not None and value > maximum)
        or (below is not None and value >= below)
    ):
        ok = False
    if ok:
        return
    if message is None:
        if maximum is not None:
            message = f"must be a number between {minimum} and {maximum}"
        elif below is not None:
            message = f"must be a number >= {minimum} and < {below}"
        else:
            message = "must be a number " + ("> 0" if positive else f">= {minimum}")
    raise error(f"{name}={value!r}: {message}")


def _check_count(error: type[SettingsError], name: str, value: Any) -> None:
    """Raise ``error`` unless ``value`` is an integer >= 0 (a bool is not a count)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise error(f"{name}={value!r}: must be an integer >= 0")


# --- the pipeline inside each worker process ---

#: Most threads of the sync flavour's updater pool.
MAX_UPDATER_CONCURRENCY = 1024


@dataclass(frozen=True)
class RuntimeSettings:
    """How the pipeline inside each worker process behaves.

    Attributes:
        update_retry_delays: seconds to wait before each retry of a failed result update; the number of
            attempts is ``len(update_retry_delays) + 1`` (default 4 attempts: 10, 20, 30 s).
        poll_error_backoff_base / poll_error_backoff_cap: backoff after consecutive failed polls that
            are not auth failures: ``min(cap, base * 2**(n-1))`` seconds.
        auth_backoff_base / auth_backoff_cap: the same after consecutive 401/403 polls.
        backoff_jitter: +-fraction applied to the two poll-failure backoffs (spreads a fleet's retries).
        lease_fraction: with lease extension on, a running task is extended after this fraction of
            its ``responseTimeoutSeconds`` (and again each time that much has passed).
        shutdown_grace: seconds running tasks get to finish after a stop is asked for.
        shutdown_flush: seconds after the grace period to send the remaining results.
        heartbeat_interval: how often each stage loop reports that it is alive.
        relay_interval: how often events and metric deltas are shipped to the parent.
        updater_concurrency: sync flavour: threads of the updater pool, which sends retries,
            hand-backs and the failures of undecodable tasks concurrently (each executor thread
            sends its own result's first attempt); 0 = ``min(thread_count, 16)``, so retries due
            together are not queued behind each other; at most ``MAX_UPDATER_CONCURRENCY``. The
            async flavour has no fixed limit beyond the slots.
        cancel_overdue_async_tasks: cancel an ``async def`` task that outlives its
            ``responseTimeoutSeconds`` without lease extension (the server has given it to another
            worker by then).
        max_rss_mb: recycle a worker process whose resident memory exceeds this many MiB: it stops
            gracefully and the supervisor starts a fresh one at once (0 = no limit). For workers
            that leak.
        max_tasks: recycle a worker process after it executed this many tasks (0 = no limit).
    """

    update_retry_delays: tuple[float, ...] = (10.0, 20.0, 30.0)
    poll_error_backoff_base: float = 0.25
    poll_error_backoff_cap: float = 30.0
    auth_backoff_base: float = 1.0
    auth_backoff_cap: float = 60.0
    backoff_jitter: float = 0.1
    lease_fraction: float = 0.8
    shutdown_grace: float = 20.0
    shutdown_flush: float = 5.0
    heartbeat_interval: float = 1.0
    relay_interval: float = 0.1
    updater_concurrency: int = 0
    cancel_overdue_async_tasks: bool = True
    max_rss_mb: float = 0.0
    max_tasks: int = 0

    def __post_init__(self) -> None:
        delays = tuple(self.update_retry_delays)
        object.__setattr__(self, "update_retry_delays", delays)
        for delay in delays:
            _check_number(RuntimeSettingsError, "update_retry_delays", delay, minimum=0.0)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("update_retry_delays", "cancel_overdue_async_tasks"):
                continue
            if f.name in ("updater_concurrency", "max_tasks"):
                _check_count(RuntimeSettingsError, f.name, value)
                if f.name == "updater_concurrency" and value > MAX_UPDATER_CONCURRENCY:
                    raise RuntimeSettingsError(
                        f"{f.name}={value!r}: must be at most {MAX_UPDATER_CONCURRENCY}"
                        " (threads of the sync updater pool)"
                    )
                continue
            if f.name == "backoff_jitter":
                _check_number(RuntimeSettingsError, f.name, value, minimum=0.0, maximum=1.0)
                continue
            if f.name == "lease_fraction":
                _check_number(RuntimeSettingsError, f.name, value, minimum=0.05, maximum=1.0)
                continue
            may_be_zero = ("shutdown_grace", "shutdown_flush", "max_rss_mb")
            _check_number(RuntimeSettingsError, f.name, value, minimum=0.0, positive=f.name not in may_be_zero)
        if self.poll_error_backoff_cap < self.poll_error_backoff_base:
            raise RuntimeSettingsError("poll_error_backoff_cap must be >= poll_error_backoff_base")
        if self.auth_backoff_cap < self.auth_backoff_base:
            raise RuntimeSettingsError("auth_backoff_cap must be >= auth_backoff_base")

    @property
    def update_attempts(self) -> int:
        """Total attempts for one result update (first try included)."""
        return len(self.update_retry_delays) + 1

    def updater_pool_size(self, thread_count: int) -> int:
        """Threads for concurrent updates in the sync flavour."""
        return self.updater_concurrency or max(1, min(thread_count, 16))



# --- the process supervisor ---

#: Seconds after ``grace + flush`` before worker processes still alive get SIGTERM: time for a
#: child that met its deadlines to send its last messages and exit.
STOP_MARGIN = 1.0
#: Seconds the parent waits for its own actors (user actors, outbox, metrics) to stop once every
#: worker process is gone.
PARENT_STOP_TIMEOUT = 1.0


@dataclass(frozen=True)
class SupervisionSettings:
    """Restart policy, liveness checks and shutdown deadlines of the process supervisor.

    Attributes:
        start_method: the ``multiprocessing`` start method for worker processes ("spawn" by default;
            the parent runs threads, so "fork" is unsafe there).
        restart_backoff_base / restart_backoff_cap: seconds to wait before restarting a crashed
            child: ``min(cap, base * 2**(n-1))`` for its n-th consecutive crash.
        restart_jitter: +-fraction applied to that delay (0.2 = +-20%; below 1).
        restart_reset_after: seconds of uptime after which a child's consecutive-crash count
            goes back to 0.
        max_restarts / restart_window: more than ``max_restarts`` restarts in the whole tree within
            ``restart_window`` seconds = give up (stop everything, exit code 1).
        heartbeat_timeout: a running child that sent no heartbeat, or whose oldest stage loop has
            not run, for this many seconds is wedged: it is killed and restarted.
        boot_timeout: seconds a new child has to say Ready; past that the tree stops (exit code 3).
        kill_timeout: seconds between SIGTERM and SIGKILL.
        shutdown_grace / shutdown_flush: sent to children as ``Stop(grace, flush)`` on a graceful
            stop: running tasks get ``grace`` seconds, then results ``flush`` seconds more.
            Children still alive ``grace + flush + STOP_MARGIN`` seconds after the stop get
            SIGTERM (see ``shutdown_deadlines``).
        fast_shutdown_timeout: on the fast path (a second signal) children get ``Stop(0, 1)``
            and whatever is still alive after this many seconds is killed.
    """

    start_method: str = "spawn"
    restart_backoff_base: float = 0.5
    restart_backoff_cap: float = 30.0
    restart_jitter: float = 0.2
    restart_reset_after: float = 60.0
    max_restarts: int = 10
    restart_window: float = 300.0
    heartbeat_timeout: float = 60.0
    boot_timeout: float = 60.0
    kill_timeout: float = 2.0
    shutdown_grace: float = 20.0
    shutdown_flush: float = 5.0
    fast_shutdown_timeout: float = 3.0

    def __post_init__(self) -> None:
        methods = multiprocessing.get_all_start_methods()
        if self.start_method not in methods:
            raise SupervisionSettingsError(
                f"start_method={self.start_method!r}: must be one of {', '.join(methods)}"
            )
        _check_count(SupervisionSettingsError, "max_restarts", self.max_restarts)
        for f in fields(self):
            if f.name in ("start_method", "max_restarts"):
                continue
            value = getattr(self, f.name)
            if f.name == "restart_jitter":
                _check_number(SupervisionSettingsError, f.name, value, minimum=0.0, below=1.0)
            elif f.name in ("shutdown_grace", "shutdown_flush", "restart_backoff_base"):
                _check_number(SupervisionSettingsError, f.name, value, minimum=0.0)
            else:
                _check_number(SupervisionSettingsError, f.name, value, minimum=0.0, positive=True)
        if self.restart_backoff_cap < self.restart_backoff_base:
            raise SupervisionSettingsError(
                f"restart_backoff_cap={self.restart_backoff_cap!r} must be >= "
                f"restart_backoff_base={self.restart_backoff_base!r}"
            )

    def shutdown_deadlines(self) -> ShutdownDeadlines:
        """When each step of a graceful stop happens at the latest, in seconds after the request."""
        sigterm = self.shutdown_grace + self.shutdown_flush + STOP_MARGIN
        sigkill = sigterm + self.kill_timeout
        return ShutdownDeadlines(sigterm_after=sigterm, sigkill_after=sigkill, total=sigkill + PARENT_STOP_TIMEOUT)


@dataclass(frozen=True)
class ShutdownDeadlines:
    """The worst case of a graceful stop, in seconds after it was asked for.

    ``sigterm_after``: worker processes still alive get SIGTERM; ``sigkill_after``: those still
    alive get SIGKILL; ``total``: the parent has stopped its own actors too (it waits at most
    ``PARENT_STOP_TIMEOUT`` for them). With the defaults: 26, 28 and 29 s, inside the 30 s grace
    period orchestrators commonly give.
    """

    sigterm_after: float
    sigkill_after: float
    total: float



# --- metrics ---

def default_metrics_directory() -> str:
    """The official SDK's default metrics directory: ``tmp/`` under the user's home directory."""
    return f"{Path.home()}/tmp/"


@dataclass(frozen=True)
class MetricsSettings:
    """Where metrics go.

    Attributes:
        directory: file mode: the directory of the metrics file (created if missing); default
            ``~/tmp/`` as in the official SDK.
        file_name: file mode: the file name (written atomically: a temporary file renamed over it);
            default ``metrics.log`` as in the official SDK (the CLI's ``--metrics-dir`` writes
            ``metrics.prom``).
        update_interval: file mode: seconds between rewrites.
        http_port: HTTP mode: the port for ``/metrics`` and ``/health`` (0 = any free port).
        clean_directory, clean_dead_pids: accepted for the official SDK's signature; they change
            nothing here (there are no per-process files to clean), and setting one logs a warning.
        http_host: HTTP mode: the address to listen on.
        quantiles: also serve poll, execute and update times as summaries with quantiles
            0.5/0.75/0.9/0.95/0.99 over a sliding window (merged samples of all processes).
        quantile_window: seconds of samples the quantiles are computed over.
    """

    directory: str | None = None
    file_name: str = "metrics.log"
    update_interval: float = 0.1
    http_port: int | None = None
    clean_directory: bool = False
    clean_dead_pids: bool = False
    http_host: str = "0.0.0.0"
    quantiles: bool = False
    quantile_window: float = 60.0

    def __post_init__(self) -> None:
        if self.directory is not None and not self.directory.strip():
            raise MetricsSettingsError(f"directory={self.directory!r}: must name a directory (or be None)")
        if self.directory is None:
            object.__setattr__(self, "directory", default_metrics_directory())
        ignored = [name for name in ("clean_directory", "clean_dead_pids") if getattr(self, name)]
        if ignored:
            _log.warning(
                "MetricsSettings(%s) changes nothing here: metrics live in the parent process, so there"
                " are no per-process files to clean", ", ".join(f"{name}=True" for name in ignored),
            )
        if self.http_port is not None and (
            isinstance(self.http_port, bool) or not isinstance(self.http_port, int) or not 0 <= self.http_port <= 65535
        ):
            raise MetricsSettingsError(f"http_port={self.http_port!r}: must be an integer port between 0 and 65535")
        if not self.file_name or "/" in self.file_name:
            raise MetricsSettingsError(f"file_name={self.file_name!r}: must be a plain file name")
        for name in ("update_interval", "quantile_window"):
            _check_number(
                MetricsSettingsError, name, getattr(self, name), positive=True,
                message="must be a positive number of seconds",
            )

    @property
    def metrics_directory(self) -> str | None:
        """Where file mode writes (the official SDK's name; no subdirectory here)."""
        return self.directory

    @property
    def is_canonical(self) -> bool:
        """True: the canonical metric names are the only set (the official SDK's name)."""
        return True

    @property
    def http_mode(self) -> bool:
        return self.http_port is not None


# --- the durable outbox ---

STATE_DIR_VARIABLE = "CONDUCTOR_ACTORS_STATE_DIR"


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
            _check_number(
                RecoverySettingsError, name, getattr(self, name), positive=True,
                message="must be a positive number of seconds",
            )
        if self.retry_backoff_cap < self.retry_backoff_base:
            raise RecoverySettingsError("retry_backoff_cap must be >= retry_backoff_base")

    def journal_dir(self, env: Mapping[str, str] | None = None) -> str:
        return os.path.abspath(os.path.expanduser(self.state_dir or default_state_dir(env)))


# --- the environment ---

ENV_PREFIX = "CONDUCTOR_ACTORS_"
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}

S = TypeVar("S")


def env_names(cls: type, prefix: str = ENV_PREFIX) -> dict[str, str]:
    """Field name -> environment variable, for every field of the settings class ``cls``."""
    return {f.name: prefix + f.name.upper() for f in dataclasses.fields(cls)}


def settings_from_env(
    cls: type[S], env: Mapping[str, str] | None = None, *, prefix: str = ENV_PREFIX, **overrides: Any
) -> S:
    """``cls(**values)`` with values from the environment, then ``overrides`` on top.

    Raises ``ValueError`` naming the variable for a value that does not parse, and whatever the
    settings class raises for one that parses but is out of range (its message names the field).
    """
    env = os.environ if env is None else env
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, variable in env_names(cls, prefix).items():
        raw = env.get(variable)
        if raw is None or raw.strip() == "":
            continue
        try:
            values[name] = _parse(hints[name], raw.strip())
        except ValueError as exc:
            raise ValueError(f"{variable}={raw!r}: {exc}") from None
    values.update(overrides)
    try:
        return cls(**values)
    except ValueError as exc:
        named = [v for n, v in env_names(cls, prefix).items() if n in values and n not in overrides and n in str(exc)]
        raise ValueError(f"{named[0]}: {exc}" if named else str(exc)) from None


def _parse(kind: Any, raw: str) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):  # Optional[X]: a set variable gives an X
        kinds = [k for k in typing.get_args(kind) if k is not type(None)]
        if len(kinds) == 1:
            return _parse(kinds[0], raw)
    if kind is bool:
        lowered = raw.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError("expected true/false (or 1/0, yes/no, on/off)")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ValueError("expected an integer") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ValueError("expected a number of seconds") from None
    if origin is tuple:
        try:
            return tuple(float(part) for part in raw.split(",") if part.strip())
        except ValueError:
            raise ValueError("expected comma-separated numbers of seconds, e.g. 10,20,30") from None
    if kind is str:
        return raw
    raise ValueError(f"cannot read a {kind!r} from the environment")


# --- the process tree: code, environment and command line in one place ---

RECOVERY_ENV_PREFIX = ENV_PREFIX + "RECOVERY_"


@dataclass(frozen=True)
class CommandLine:
    """The settings options of ``python -m conductor_actors`` (None or False: not given).

    ``shutdown_timeout`` overrides the environment's ``shutdown_grace``; ``state_dir`` and
    ``no_recovery`` the outbox's ``state_dir`` and ``enabled``; ``metrics_port`` or
    ``metrics_dir`` switch metrics on (HTTP, or the file ``metrics.prom`` in that directory).
    """

    shutdown_timeout: float | None = None
    state_dir: str | None = None
    no_recovery: bool = False
    metrics_port: int | None = None
    metrics_dir: str | None = None


@dataclass(frozen=True)
class TreeSettings:
    """Everything one process tree runs with, as ``build_tree_settings()`` merged it.

    Attributes:
        supervision: restart policy, liveness and the tree's shutdown deadlines.
        runtime: the pipeline settings sent to every worker process; its ``shutdown_grace`` and
            ``shutdown_flush`` are the supervision's (one shutdown budget for the tree).
        metrics: where metrics go; None = no metrics.
        recovery: the durable outbox; None = switched off.
        log_level / log_format / log_tasks: the worker processes' logging.
    """

    supervision: SupervisionSettings
    runtime: RuntimeSettings
    metrics: MetricsSettings | None
    recovery: RecoverySettings | None
    log_level: int
    log_format: str
    log_tasks: bool


def build_tree_settings(
    *,
    supervision: SupervisionSettings | None = None,
    runtime: RuntimeSettings | None = None,
    metrics: MetricsSettings | None = None,
    recovery: RecoverySettings | bool | None = None,
    supervision_changes: Mapping[str, Any] | None = None,
    log_level: int | str | None = None,
    log_format: str = "text",
    log_tasks: bool = False,
    command_line: CommandLine | None = None,
    env: Mapping[str, str] | None = None,
) -> TreeSettings:
    """The one place where code, environment and command line are merged into a tree's settings.

    A section passed in code is used as given; otherwise the environment (``env``, default
    ``os.environ``) fills it, and ``command_line`` options override the environment's values.
    ``recovery`` may also be ``False`` (off) or ``True`` (from the environment, like None).
    ``supervision_changes`` (the official SDK's restart keywords) replace fields of the
    supervision section, whichever way it was made. ``log_level`` None follows the parent's
    ``conductor_actors`` logger when logging is configured, else INFO.

    Raises ``ValueError`` (naming the variable) for an environment value that does not parse, and
    the section's ``SettingsError`` for a value out of range.
    """
    env = os.environ if env is None else env
    cli = command_line if command_line is not None else CommandLine()
    if supervision is None:
        grace: dict[str, Any] = {} if cli.shutdown_timeout is None else {"shutdown_grace": cli.shutdown_timeout}
        supervision = settings_from_env(SupervisionSettings, env, **grace)
    if supervision_changes:
        supervision = dataclasses.replace(supervision, **supervision_changes)
    runtime = runtime if runtime is not None else settings_from_env(RuntimeSettings, env)
    if cli.metrics_port is not None or cli.metrics_dir is not None:
        metrics = MetricsSettings(http_port=cli.metrics_port, directory=cli.metrics_dir, file_name="metrics.prom")
    if recovery is None or recovery is True:
        outbox: dict[str, Any] = {"state_dir": cli.state_dir} if cli.state_dir else {}
        if cli.no_recovery:
            outbox["enabled"] = False
        recovery = settings_from_env(RecoverySettings, env, prefix=RECOVERY_ENV_PREFIX, **outbox)
    return TreeSettings(
        supervision=supervision,
        # One shutdown budget for the tree: a child stopped by SIGTERM alone uses the same times.
        runtime=dataclasses.replace(
            runtime, shutdown_grace=supervision.shutdown_grace, shutdown_flush=supervision.shutdown_flush
        ),
        metrics=metrics,
        recovery=recovery if recovery and recovery.enabled else None,
        log_level=_log_level(log_level),
        log_format=log_format,
        log_tasks=bool(log_tasks),
    )


def _log_level(value: int | str | None) -> int:
    """A logging level from a number or a name; None follows the parent's logging (INFO unset)."""
    if value is None:
        if logging.getLogger().handlers:
            return logging.getLogger("conductor_actors").getEffectiveLevel()
        return logging.INFO
    return level_number(value)
