"""The dev server's route table: endpoint names, fault groups and path matching.

Matching follows Spring MVC's behaviour: among the routes whose path pattern matches, the most
specific one that accepts the method wins (literal segments beat variables, earlier first); a path
that matches only with other methods is 405, a path that matches nothing is 404. Pure data and
functions, used on the loop thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ._errors import ApiError

__all__ = [
    "ENDPOINTS",
    "FAULT_GROUPS",
    "ROUTES",
    "Route",
    "Router",
    "expand_endpoint",
]

H = TypeVar("H")

#: Paths remembered by the router (task ids make paths unbounded, so the memo is cleared when full).
_CACHE_LIMIT = 4096

#: (method, path pattern under the root, endpoint name). ``{}`` is a path variable.
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/api/tasks/poll/batch/{}", "poll_batch"),
    ("GET", "/api/tasks/poll/{}", "poll_single"),
    ("POST", "/api/tasks", "update_v1"),
    ("POST", "/api/tasks/update-v2", "update_v2"),
    ("POST", "/api/tasks/{}/log", "task_log_append"),
    ("GET", "/api/tasks/{}/log", "task_log_get"),
    ("GET", "/api/tasks/{}", "task_get"),
    ("GET", "/api/tasks/queue/size", "queue_size"),
    ("GET", "/api/tasks/queue/sizes", "queue_sizes"),
    ("GET", "/api/tasks/queue/all", "queue_all"),
    ("GET", "/api/tasks/queue/polldata", "poll_data"),
    ("POST", "/api/metadata/taskdefs", "taskdefs_register"),
    ("PUT", "/api/metadata/taskdefs", "taskdef_update"),
    ("GET", "/api/metadata/taskdefs/{}", "taskdef_get"),
    ("GET", "/api/metadata/taskdefs", "taskdefs_list"),
    ("DELETE", "/api/metadata/taskdefs/{}", "taskdef_delete"),
    ("POST", "/api/metadata/workflow", "workflow_def_register"),
    ("PUT", "/api/metadata/workflow", "workflow_def_update"),
    ("GET", "/api/metadata/workflow/{}", "workflow_def_get"),
    ("POST", "/api/workflow/{}", "workflow_start"),
    ("POST", "/api/workflow", "workflow_start_request"),
    ("GET", "/api/workflow/{}", "workflow_get"),
    ("GET", "/api/workflow/{}/status", "workflow_status"),
    ("DELETE", "/api/workflow/{}", "workflow_terminate"),
    ("DELETE", "/api/workflow/{}/remove", "workflow_remove"),
    ("GET", "/api/workflow/running/{}", "workflow_running"),
    ("GET", "/api/workflow/{}/correlated/{}", "workflow_correlated"),
    ("POST", "/api/workflow/{}/correlated", "workflow_correlated_batch"),
    ("GET", "/api/workflow/search", "workflow_search"),
    ("PUT", "/api/workflow/{}/pause", "workflow_pause"),
    ("PUT", "/api/workflow/{}/resume", "workflow_resume"),
    ("POST", "/api/workflow/{}/restart", "workflow_restart"),
    ("POST", "/api/workflow/{}/retry", "workflow_retry"),
    ("POST", "/api/workflow/{}/rerun", "workflow_rerun"),
    ("PUT", "/api/workflow/{}/skiptask/{}", "workflow_skip_task"),
    ("POST", "/api/workflow/{}/resetcallbacks", "workflow_reset_callbacks"),
    ("POST", "/api/workflow/{}/variables", "workflow_variables"),
    ("POST", "/api/workflow/execute/{}/{}", "workflow_execute"),
    ("GET", "/api/tasks/search", "task_search"),
    ("POST", "/api/tasks/{}/{}/{}", "task_update_by_ref"),
    ("GET", "/api/metadata/workflow", "workflow_defs_list"),
    ("DELETE", "/api/metadata/workflow/{}/{}", "workflow_def_delete"),
    ("POST", "/api/schema", "schema_save"),
    ("POST", "/api/token", "token"),
)

#: Every endpoint name, in table order.
ENDPOINTS: tuple[str, ...] = tuple(name for _, _, name in ROUTES)

#: Names that stand for several endpoints when adding a fault.
FAULT_GROUPS: dict[str, tuple[str, ...]] = {
    "poll": ("poll_batch", "poll_single"),
    "update": ("update_v1", "update_v2"),
    "taskdefs": ("taskdefs_register", "taskdef_update", "taskdef_get", "taskdefs_list", "taskdef_delete"),
    "*": ENDPOINTS,
}


def expand_endpoint(name: str) -> frozenset[str]:
    """The endpoint names ``name`` stands for. Raises ``ValueError`` naming the valid choices."""
    if name in FAULT_GROUPS:
        return frozenset(FAULT_GROUPS[name])
    if name in ENDPOINTS:
        return frozenset((name,))
    choices = ", ".join(sorted(FAULT_GROUPS) + sorted(ENDPOINTS))
    raise ValueError(f"unknown endpoint {name!r}; expected one of: {choices}")


@dataclass(frozen=True)
class Route(Generic[H]):
    """One method + pattern bound to its handler."""

    method: str
    pattern: tuple[str | None, ...]
    endpoint: str
    handler: H

    @property
    def rank(self) -> tuple[bool, ...]:
        """Higher ranks are more specific: literal segments beat variables, leftmost first."""
        return tuple(part is not None for part in self.pattern)


def _compile(path: str) -> tuple[str | None, ...]:
    return tuple(None if part == "{}" else part for part in path.split("/")[1:])


class Router(Generic[H]):
    """Finds the route for a method and decoded path segments."""

    def __init__(self, handlers: dict[str, H]) -> None:
        missing = [name for name in ENDPOINTS if name not in handlers]
        if missing:
            raise ValueError(f"no handler for endpoints: {', '.join(missing)}")
        by_length: dict[int, list[Route[H]]] = {}
        for method, path, name in ROUTES:
            route = Route(method, _compile(path), name, handlers[name])
            by_length.setdefault(len(route.pattern), []).append(route)
        for routes in by_length.values():
            routes.sort(key=lambda r: r.rank, reverse=True)
        self._by_length = by_length
        self._cache: dict[tuple[str, ...], list[tuple[Route[H], tuple[str, ...]]]] = {}

    def match(self, method: str, segments: Sequence[str]) -> tuple[Route[H], tuple[str, ...]]:
        """The best route and its path variables. Raises ``ApiError`` 404 or 405."""
        candidates = self._candidates(segments)
        for route, params in candidates:
            if route.method == method:
                return route, params
        path = "/".join(segments)
        if candidates:
            raise ApiError(405, f"Request method '{method}' is not supported")
        raise ApiError(404, f"No static resource {path}.")

    def _candidates(self, segments: Sequence[str]) -> list[tuple[Route[H], tuple[str, ...]]]:
        """Routes whose pattern fits, most specific first (memoised per path, bounded)."""
        key = tuple(segments)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        found: list[tuple[Route[H], tuple[str, ...]]] = []
        for route in self._by_length.get(len(key), ()):
            params: list[str] = []
            for part, seg in zip(route.pattern, key):
                if part is None:
                    params.append(seg)
                elif part != seg:
                    break
            else:
                found.append((route, tuple(params)))
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = found
        return found
