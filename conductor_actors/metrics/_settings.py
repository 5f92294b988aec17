"""``MetricsSettings``: how the parent exposes the merged metrics of every worker process.

The feature document's names are kept. HTTP mode (``http_port`` set) serves ``/metrics`` and
``/health``; file mode (``http_port`` None and ``directory`` set) rewrites
``<directory>/<file_name>`` every ``update_interval`` seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["MetricsSettings", "MetricsSettingsError"]


class MetricsSettingsError(ValueError):
    """A metrics setting cannot work; the message names the setting and its value."""


@dataclass(frozen=True)
class MetricsSettings:
    """Where metrics go.

    Attributes:
        directory: file mode: the directory of the metrics file (created if missing).
        file_name: file mode: the file name (written atomically: a temporary file renamed over it).
        update_interval: file mode: seconds between rewrites.
        http_port: HTTP mode: the port for ``/metrics`` and ``/health`` (0 = any free port).
        http_host: HTTP mode: the address to listen on.
        quantiles: also serve poll, execute and update times as summaries with quantiles
            0.5/0.75/0.9/0.95/0.99 over a sliding window (merged samples of all processes).
        quantile_window: seconds of samples the quantiles are computed over.
    """

    directory: str | None = None
    file_name: str = "metrics.prom"
    update_interval: float = 0.1
    http_port: int | None = None
    http_host: str = "0.0.0.0"
    quantiles: bool = False
    quantile_window: float = 60.0

    def __post_init__(self) -> None:
        if self.directory is not None and not self.directory.strip():
            raise MetricsSettingsError(f"directory={self.directory!r}: must name a directory (or be None)")
        if self.http_port is None and self.directory is None:
            raise MetricsSettingsError(
                "MetricsSettings needs http_port (serve /metrics over HTTP) or directory (write a file)"
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
    def http_mode(self) -> bool:
        return self.http_port is not None
