"""The dev server application: routing, request counters, faults, auth, then the handler.

Order for every ``/api`` request: count it (``total`` and its endpoint name), apply faults (delay,
then status/drop/garbage - so a failed update changes nothing), check the token when auth is on,
run the handler. Handler errors (``ApiError``) become the server's error body; anything unexpected
is logged and answered 500. Other paths are the admin endpoints (``/__devserver__/...``) or the web
page's static files (``StaticFiles``); those are never counted, faulted or checked for a token (the
page asks for key and secret when the API answers it 401).

Runs on the loop thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ._admin import ADMIN_PREFIX, AdminApi
from ._auth import TokenAuthority
from ._errors import ApiError, error_body
from ._faults import FaultInjector, FaultPlan, RequestCounters, fault_response
from ._http import DROP, JSON_TYPE, Drop, Outcome, Request, Response
from ._payloads import json_body, json_response
from ._routes import Router
from ._store import Store, now_ms
from ._tasks import TerminalConflicts
from ._ui import StaticFiles

__all__ = ["DevServerApp"]

_log = logging.getLogger("conductor_actors.devserver")

Handler = Callable[[Request, "tuple[str, ...]"], Outcome]


def _error_response(error: ApiError) -> Response:
    return Response(error.status, error.body(), JSON_TYPE)


class DevServerApp:
    """Implements the HTTP protocol's application interface for the whole server."""

    def __init__(self, handlers: dict[str, Handler], counters: RequestCounters, faults: FaultInjector,
                 auth: TokenAuthority | None, store: Store, conflicts: TerminalConflicts,
                 clock_time: Callable[[], float], advance_clock: Callable[[float], None]) -> None:
        self._counters = counters
        self._faults = faults
        self._auth = auth
        self._admin = AdminApi(counters, faults, store, conflicts, clock_time, advance_clock)
        self._static = StaticFiles()
        self._router: Router[Handler] = Router({**handlers, "token": self._token})

    def error(self, status: int, message: str) -> Response:
        """An error answer in the server's shape (used by the HTTP layer)."""
        return _error_response(ApiError(status, message))

    def handle(self, request: Request) -> Outcome:
        """Answer one request (never raises)."""
        segments = request.segments
        if segments and segments[0] == ADMIN_PREFIX:
            try:
                return self._admin.handle(request, segments[1:])
            except ApiError as exc:
                return _error_response(exc)
        if not segments or segments[0] != "api":
            try:
                return self._static.handle(request, segments)
            except ApiError as exc:
                return _error_response(exc)
        counters = self._counters
        counters.total += 1
        try:
            route, params = self._router.match(request.method, segments)
        except ApiError as exc:
            return _error_response(exc)
        endpoint = route.endpoint
        counters.counts[endpoint] += 1
        plan = self._faults.take(endpoint)
        if plan is not None:
            if plan.delay > 0:
                return self._after_delay(plan, route.handler, endpoint, params, request)
            if plan.fault is not None:
                return self._fault_answer(plan, endpoint)
        return self._run(route.handler, endpoint, params, request)

    def _run(self, handler: Handler, endpoint: str, params: tuple[str, ...], request: Request) -> Outcome:
        if self._auth is not None and endpoint != "token":
            problem = self._auth.check(request.headers.get("x-authorization"))
            if problem is not None:
                code, message = problem
                return Response(401, error_body(401, message, error=code, timestamp=now_ms()), JSON_TYPE)
        try:
            outcome = handler(request, params)
        except ApiError as exc:
            return _error_response(exc)
        except Exception:
            _log.exception("dev server failed on %s %s", request.method, request.path)
            return self.error(500, f"Internal dev server error on {endpoint}")
        if isinstance(outcome, (Response, Drop)):
            return outcome
        return self._guarded(outcome, endpoint, request)

    async def _guarded(self, pending: Awaitable[Response | Drop], endpoint: str, request: Request) -> Response | Drop:
        try:
            return await pending
        except ApiError as exc:
            return _error_response(exc)
        except Exception:
            _log.exception("dev server failed on %s %s", request.method, request.path)
            return self.error(500, f"Internal dev server error on {endpoint}")

    async def _after_delay(self, plan: FaultPlan, handler: Handler, endpoint: str, params: tuple[str, ...],
                           request: Request) -> Response | Drop:
        await asyncio.sleep(plan.delay)
        if plan.fault is not None:
            return self._fault_answer(plan, endpoint)
        outcome = self._run(handler, endpoint, params, request)
        if isinstance(outcome, (Response, Drop)):
            return outcome
        return await outcome

    @staticmethod
    def _fault_answer(plan: FaultPlan, endpoint: str) -> Response | Drop:
        fault = plan.fault
        assert fault is not None
        if fault.drop:
            return DROP
        return fault_response(fault, endpoint)

    def _token(self, request: Request, params: tuple[str, ...]) -> Any:
        """``POST /api/token``: a token for the right credentials; 404 when auth is off (like OSS)."""
        if self._auth is None:
            raise ApiError(404, "No static resource api/token.")
        body = json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "Token request must be a JSON object with keyId and keySecret")
        token = self._auth.issue(body.get("keyId"), body.get("keySecret"))
        if token is None:
            raise ApiError(401, "Invalid credentials: unknown keyId or wrong keySecret")
        return json_response({"token": token})
