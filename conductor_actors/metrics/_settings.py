"""``MetricsSettings``: how the parent exposes the merged metrics of every worker process.

The official SDK's names are kept. HTTP mode (``http_port`` set) serves ``/metrics`` and
``/health``; file mode (``http_port`` None) rewrites ``<directory>/<file_name>`` every
``update_interval`` seconds. ``directory`` defaults to the official SDK's ``~/tmp/``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MetricsSettings", "MetricsSettingsError"]


_log = logging.getLogger("conductor_actors.metrics")


def default_metrics_directory() -> str:
    """The official SDK's default metrics directory: ``tmp/`` under the user's home directory."""
    return f"{Path.home()}/tmp/"


class MetricsSettingsError(ValueError):
    """A metrics setting cannot work; the message names the setting and its value."""


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
            value: Any = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise MetricsSettingsError(f"{name}={value!r}: must be a positive number of seconds")

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
