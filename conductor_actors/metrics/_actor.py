"""The MetricsActor (owns the one Prometheus registry) and the sink that feeds it.

Children's metric deltas arrive in the ``EventBatch`` each child's relay (its one writer on the
pipe) sends; the supervisor thread hands them to ``MetricsSink.on_batch``. Other parent actors
record their own series with ``MetricsSink.record`` on their own threads. Both are put in the
sink's inbox (a deque shared with every instance of the actor) and the actor is woken to merge
them. The actor renders the registry for a scrape (an ``ask``, which merges what waits first) and,
in file mode, rewrites the metrics file on a timer. It runs under the parent's ActorSupervisor: a
crash restarts it with the same state and the same inbox, so the totals survive and data that
arrived during the restart is merged by the fresh instance. Only the one item being merged at the
moment of the crash can be lost (or partly counted). Scrapes keep working during a worker
process's restart (they never touch the children); during the actor's own restart they answer 503.

Threads: the actor runs on its own thread (merging, rendering, writing the file); the HTTP
server's answering threads ask it for the text; ``MetricsSink.start`` and ``close`` run on the
thread that starts and stops the parent's actors. An exception in the actor restarts it (see
above); a scrape whose ask fails is answered 503; the sink's feeding methods never raise.

Worker processes and a parent without metrics import this package too (for the accumulator, and
through its root), so ``prometheus_client`` and the exposition module are imported where the
parent starts metrics (``MetricsSink.start``, ``MetricsActor``), never at module level.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..actors import ActorRef, ActorSupervisor, ThreadActor
from ..settings import MetricsSettings
from ._catalog import MetricsDelta, MetricsState

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from ._exposition import HealthProbe, MetricsHTTPServer

__all__ = ["MetricsActor", "MetricsSink"]

_log = logging.getLogger("conductor_actors.metrics")

#: Most items kept waiting for the actor (while it restarts, or if it was given up): beyond that
#: the oldest are dropped, with a warning, instead of growing without bound.
MAX_WAITING = 10_000


@dataclass(frozen=True)
class ChildMetrics:
    source: str
    delta: MetricsDelta


@dataclass(frozen=True)
class ParentMetric:
    """A series owned by a parent actor: ``kind`` is "gauge" (set) or "counter" (add)."""

    kind: str
    name: str
    labels: tuple[str, ...]
    value: float


@dataclass(frozen=True)
class _Render:
    """Asked: the exposition text."""


@dataclass(frozen=True)
class _WriteFile:
    """Timer (file mode): rewrite the metrics file."""


@dataclass(frozen=True)
class _Drain:
    """From the sink: data waits in the shared inbox."""


#: What waits in the inbox.
Pending = ChildMetrics | ParentMetric


class _StateCollector:
    """The registry's one collector: the actor's state, as families, at scrape time."""

    def __init__(self, produce: Callable[[], Iterable[Metric]]) -> None:
        self._produce = produce

    def collect(self) -> Iterable[Metric]:
        return self._produce()


class MetricsActor(ThreadActor):
    """Owns the registry; runs on its own thread. ``ask(_Render())`` returns the exposition text.

    ``inbox`` is where data waits to be merged: the sink's, shared across restarts (like ``state``).
    """

    def __init__(
        self,
        settings: MetricsSettings,
        state: MetricsState,
        statuses: Callable[[], Sequence[Any]],
        inbox: deque[Pending],
    ) -> None:
        from prometheus_client import CollectorRegistry, generate_latest  # see the module docstring

        from ._exposition import write_atomically

        self._generate_latest = generate_latest
        self._write_atomically = write_atomically
        self.settings = settings
        self.state = state
        self.statuses = statuses
        self.inbox = inbox
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_StateCollector(self._families))  # type: ignore[arg-type]
        self.file_path = (
            os.path.join(os.path.abspath(settings.directory), settings.file_name)
            if settings.directory and not settings.http_mode else None
        )

    def _families(self) -> Iterable[Metric]:
        return self.state.families(self.statuses(), quantiles=self.settings.quantiles)

    def on_start(self) -> None:
        self._drain()  # what arrived before this instance (e.g. during a restart)
        if self.file_path is not None:
            self.send_after(self.settings.update_interval, _WriteFile())

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _Drain):
            self._drain()
        elif isinstance(message, _Render):
            self._drain()
            return self._generate_latest(self.registry)
        elif isinstance(message, _WriteFile):
            self._drain()
            self.write_file()
            self.send_after(self.settings.update_interval, _WriteFile())
        return None

    def _drain(self) -> None:
        """Merge everything waiting in the inbox, oldest first (an item leaves it as it is merged)."""
        while True:
            try:
                item = self.inbox.popleft()
            except IndexError:
                return
            self._apply(item)

    def _apply(self, item: Pending) -> None:
        if isinstance(item, ChildMetrics):
            self.state.merge(item.source, item.delta)
        elif item.kind == "gauge":
            self.state.set_gauge(item.name, item.labels, item.value)
        else:
            self.state.inc(item.name, item.labels, item.value)

    def write_file(self) -> None:
        if self.file_path is None:
            return
        try:
            self._write_atomically(self.file_path, self._generate_latest(self.registry))
        except OSError as exc:
            _log.warning("could not write the metrics file %s: %s", self.file_path, exc)

    def on_stop(self) -> None:
        self._drain()
        self.write_file()  # the last numbers (every child has exited by now)


class MetricsSink:
    """The parent's metrics: starts the actor and the HTTP server or file writer; feeds the actor.

    Args:
        settings: where metrics go.
        probe: the supervisor's view (healthy?, statuses); called from the HTTP and actor threads.
        task_types: shown with zero values from the start.
    """

    def __init__(self, settings: MetricsSettings, probe: HealthProbe, task_types: Iterable[str] = ()) -> None:
        self.settings = settings
        self.probe = probe
        self.state = MetricsState(quantile_window=settings.quantile_window if settings.quantiles else None)
        self.state.declare_task_types(task_types)
        #: Data not merged yet: appended by the sink (any thread), taken by the actor.
        self.inbox: deque[Pending] = deque(maxlen=MAX_WAITING)
        self._dropped = 0
        self.ref: ActorRef | None = None
        self.http: MetricsHTTPServer | None = None

    @property
    def url(self) -> str | None:
        """``http://host:port`` of the HTTP server (None in file mode)."""
        if self.http is None:
            return None
        host = "127.0.0.1" if self.http.host in ("0.0.0.0", "") else self.http.host
        return f"http://{host}:{self.http.port}"

    def start(self, supervisor: ActorSupervisor) -> None:
        """Check the destination first (raises ``MetricsSettingsError`` naming the setting), then start."""
        from ._exposition import MetricsHTTPServer, check_writable_directory  # see the module docstring

        settings = self.settings
        if not settings.http_mode and settings.directory is not None:
            check_writable_directory(settings.directory)
        state, probe, inbox = self.state, self.probe, self.inbox
        self.ref = supervisor.start_child(
            lambda: MetricsActor(settings, state, lambda: probe()[1], inbox), name="metrics"
        )
        if settings.http_mode:
            ref = self.ref
            try:
                self.http = MetricsHTTPServer(
                    settings.http_host, settings.http_port or 0, lambda: ref.ask(_Render(), timeout=10), probe
                )
            except Exception:
                ref.stop(timeout=5)
                self.ref = None
                raise

    def render(self) -> bytes:
        """The current exposition text (for tests and the CLI)."""
        assert self.ref is not None
        return self.ref.ask(_Render(), timeout=10)  # type: ignore[no-any-return]

    def record(self, kind: str, name: str, labels: tuple[str, ...], value: float) -> None:
        """For other parent actors: set a gauge or add to a counter (thread-safe, never blocks)."""
        self._hand(ParentMetric(kind, name, labels, value))

    def on_batch(self, status: Any, batch: Any) -> None:
        """Supervisor thread: a child's metric deltas go to the inbox (never blocks, never raises)."""
        if batch.metrics:
            self._hand(ChildMetrics(status.key, batch.metrics))

    def _hand(self, item: Pending) -> None:
        """Any thread: put ``item`` in the inbox and wake the actor (if it is restarting, the
        fresh instance merges what waits when it starts)."""
        if len(self.inbox) == MAX_WAITING:
            self._dropped += 1
            if self._dropped == 1 or self._dropped % MAX_WAITING == 0:
                _log.warning("the metrics actor is not taking data; dropped the oldest of %d waiting item(s) "
                             "(%d so far)", MAX_WAITING, self._dropped)
        self.inbox.append(item)
        if self.ref is not None:
            try:
                self.ref.tell(_Drain())
            except Exception as exc:  # restarting: what waits is merged once it is back
                _log.debug("metrics actor not running (%s); %d item(s) wait", exc, len(self.inbox))

    def on_undelivered(self, status: Any, message: Any) -> bool:
        return False

    def on_child_state(self, status: Any) -> None:
        """Statuses are read at scrape time; nothing to do on a change."""

    def close(self) -> None:
        if self.http is not None:
            self.http.close()
