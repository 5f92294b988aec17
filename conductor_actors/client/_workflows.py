"""Workflow and metadata clients with the official SDK's names and signatures, sync and async.

What a worker-side user does besides running workers: register and read task and workflow
definitions (``MetadataClient``, official ``OrkesMetadataClient``), start, read and terminate
workflows (``WorkflowClient``, official ``OrkesWorkflowClient``), and the official
``WorkflowExecutor`` facade over both; ``OrkesClients`` hands them out as the official factory does.
``AsyncMetadataClient``, ``AsyncWorkflowClient`` and ``AsyncWorkflowExecutor`` are the same calls
as coroutines (the official SDK has none).

Each call is built once, without I/O, by the ``_call_*`` functions below (arguments checked before
anything is sent: ``ValueError`` naming the bad one) and sent through ``ConductorClient`` /
``AsyncConductorClient``, so authentication, timeouts, transports and errors are the task client's
(``conductor_actors.client`` error tree: ``NotFoundError`` for an unknown name or id, ...).

A client built from a configuration owns its connection pool: ``close()`` (``aclose()``) or a
``with`` block releases it. A client given ``client=`` shares that client and leaves it open.
Sync clients may be shared by threads; an async client belongs to one event loop.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from . import _calls as calls
from ._answers import ensure_success, parse_nothing, parse_workflow, parse_workflow_id
from ._calls import Call, HttpRequest, json_request, optional_text, path_segment, query_params, whole_number
from ._clients import AsyncClosing, AsyncConductorClient, ConductorClient, SyncClosing
from ._config import Configuration
from ._errors import InvalidResponseError
from ._models import TaskDef
from ._workflow_models import StartWorkflowRequest, Workflow, WorkflowDef, WorkflowRun

__all__ = [
    "AsyncMetadataClient",
    "AsyncWorkflowClient",
    "AsyncWorkflowExecutor",
    "MetadataClient",
    "OrkesClients",
    "OrkesMetadataClient",
    "OrkesWorkflowClient",
    "WorkflowClient",
    "WorkflowExecutor",
]

T = TypeVar("T")

# ----------------------------------------------------------------------------------------------
# The calls, without I/O


def _workflow_def_body(workflow_def: WorkflowDef | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(workflow_def, WorkflowDef):
        body = workflow_def.to_wire()
    elif isinstance(workflow_def, Mapping):
        body = dict(workflow_def)
    else:
        raise ValueError(f"expected a WorkflowDef, got {type(workflow_def).__name__}")
    if not isinstance(body.get("name"), str) or not body["name"]:
        raise ValueError("a WorkflowDef needs a name")
    return body


def _call_register_workflow_def(workflow_def: WorkflowDef | Mapping[str, Any], overwrite: bool | None) -> Call[None]:
    """``POST /metadata/workflow?overwrite=``: 409 when it exists and ``overwrite`` is false."""
    body = _workflow_def_body(workflow_def)
    query = query_params(("overwrite", None if overwrite is None else bool(overwrite)))
    request = json_request("POST", "/metadata/workflow", f"workflow definition {body['name']!r}", body,
                           query=query, accept="*/*")
    return Call(request, parse_nothing)


def _call_update_workflow_defs(workflow_defs: Sequence[WorkflowDef | Mapping[str, Any]],
                               overwrite: bool | None) -> Call[None]:
    """``PUT /metadata/workflow?overwrite=`` with a list: create or replace each definition."""
    body = [_workflow_def_body(d) for d in workflow_defs]
    query = query_params(("overwrite", None if overwrite is None else bool(overwrite)))
    request = json_request("PUT", "/metadata/workflow", "workflow definitions", body, query=query, accept="*/*")
    return Call(request, parse_nothing)


def _parse_workflow_def(request: HttpRequest, status: int, body: bytes) -> WorkflowDef:
    return WorkflowDef.from_dict(parse_workflow(request, status, body))


def _call_get_workflow_def(name: str, version: int | None) -> Call[WorkflowDef]:
    """``GET /metadata/workflow/{name}?version=``: that version, or the latest when None."""
    path = "/metadata/workflow/" + path_segment("name", name)
    query = query_params(("version", None if version is None else whole_number("version", version, 1)))
    return Call(HttpRequest("GET", path, query, template="/metadata/workflow/{name}"), _parse_workflow_def)


def _parse_workflow_defs(request: HttpRequest, status: int, body: bytes) -> list[WorkflowDef]:
    """A JSON list of definitions; anything else raises ``InvalidResponseError``."""
    ensure_success(request, status, body)
    try:
        items = json.loads(body)
    except (ValueError, RecursionError):
        items = None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InvalidResponseError("expected a JSON list of workflow definitions",
                                   body=body.decode("utf-8", "replace"), method=request.method, path=request.path)
    return [WorkflowDef.from_dict(item) for item in items]


def _call_get_all_workflow_defs() -> Call[list[WorkflowDef]]:
    """``GET /metadata/workflow``: every workflow definition."""
    return Call(HttpRequest("GET", "/metadata/workflow"), _parse_workflow_defs)


def _call_unregister_workflow_def(name: str, version: int) -> Call[None]:
    """``DELETE /metadata/workflow/{name}/{version}``."""
    path = f"/metadata/workflow/{path_segment('name', name)}/{whole_number('version', version, 1)}"
    return Call(HttpRequest("DELETE", path, accept="*/*", template="/metadata/workflow/{name}/{version}"),
                parse_nothing)


def _call_unregister_task_def(task_type: str) -> Call[None]:
    """``DELETE /metadata/taskdefs/{name}``."""
    path = "/metadata/taskdefs/" + path_segment("task_type", task_type)
    return Call(HttpRequest("DELETE", path, accept="*/*", template="/metadata/taskdefs/{name}"), parse_nothing)


def _start_body(request: StartWorkflowRequest) -> dict[str, Any]:
    if not isinstance(request, StartWorkflowRequest):
        raise ValueError(f"expected a StartWorkflowRequest, got {type(request).__name__}")
    path_segment("StartWorkflowRequest.name", request.name)  # type: ignore[arg-type]
    if request.version is not None:
        whole_number("StartWorkflowRequest.version", request.version, 1)
    if request.input is not None and not isinstance(request.input, Mapping):
        raise ValueError(f"StartWorkflowRequest.input must be a dict, got {type(request.input).__name__}")
    return request.to_wire()


def _call_start_workflow(request: StartWorkflowRequest) -> Call[str]:
    """``POST /workflow`` with the request; the answer is the workflow id as bare text."""
    body = _start_body(request)
    http = json_request("POST", "/workflow", f"start request of workflow {request.name!r}", body, accept="text/plain")
    return Call(http, parse_workflow_id)


def _call_start_workflow_by_name(name: str, input: Mapping[str, Any] | None, version: int | None,
                                 correlation_id: str | None, priority: int | None) -> Call[str]:
    """``POST /workflow/{name}?version&correlationId&priority`` with the input as the body."""
    path = "/workflow/" + path_segment("name", name)
    if input is not None and not isinstance(input, Mapping):
        raise ValueError(f"workflow input must be a dict, got {type(input).__name__}")
    query = query_params(
        ("version", None if version is None else whole_number("version", version, 1)),
        ("correlationId", optional_text("correlation_id", correlation_id)),
        ("priority", None if priority is None else whole_number("priority", priority, 0)),
    )
    request = json_request("POST", path, f"input of workflow {name!r}", dict(input or {}), query=query,
                           accept="text/plain")
    return Call(dataclasses.replace(request, template="/workflow/{name}"), parse_workflow_id)


def _parse_workflow_model(request: HttpRequest, status: int, body: bytes) -> Workflow:
    return Workflow.from_dict(parse_workflow(request, status, body))


def _call_get_workflow(workflow_id: str, include_tasks: bool | None) -> Call[Workflow]:
    """``GET /workflow/{id}?includeTasks=``."""
    path = "/workflow/" + path_segment("workflow_id", workflow_id)
    query = query_params(("includeTasks", True if include_tasks is None else bool(include_tasks)))
    return Call(HttpRequest("GET", path, query, template="/workflow/{workflowId}"), _parse_workflow_model)


def _parse_workflow_run(request: HttpRequest, status: int, body: bytes) -> WorkflowRun:
    return WorkflowRun.from_dict(parse_workflow(request, status, body))


def _call_execute_workflow(request: StartWorkflowRequest, request_id: str | None, wait_until_task_ref: str | None,
                           wait_for_seconds: int) -> Call[WorkflowRun]:
    """``POST /workflow/execute/{name}/{version}?requestId&waitUntilTaskRef&waitForSeconds``: the
    server holds the answer until the workflow ends, the task is reached or the wait runs out."""
    body = _start_body(request)
    if request.version is None:
        raise ValueError("executing a workflow needs StartWorkflowRequest.version")
    wait = whole_number("wait_for_seconds", wait_for_seconds, 0)
    path = f"/workflow/execute/{path_segment('name', request.name)}/{request.version}"  # type: ignore[arg-type]
    query = query_params(
        ("requestId", optional_text("request_id", request_id)),
        ("waitUntilTaskRef", optional_text("wait_until_task_ref", wait_until_task_ref)),
        ("waitForSeconds", wait),
    )
    http = json_request("POST", path, f"start request of workflow {request.name!r}", body, query=query)
    # The server may hold the answer for the whole wait: it adds to the read timeout, like a long poll.
    return Call(dataclasses.replace(http, long_poll_seconds=float(wait), template="/workflow/execute/{name}/{version}"),
                _parse_workflow_run)


def _execute_request(name: str, version: int, workflow_input: Any, correlation_id: str | None,
                     domain: str | None) -> StartWorkflowRequest:
    """The request ``WorkflowExecutor.execute`` sends (a ``domain`` applies to every task)."""
    return StartWorkflowRequest(name=name, version=version, input=dict(workflow_input or {}),
                                correlation_id=correlation_id,
                                task_to_domain={"*": domain} if domain is not None else None)


def _call_terminate_workflow(workflow_id: str, reason: str | None, trigger_failure_workflow: bool | None) -> Call[None]:
    """``DELETE /workflow/{id}?reason=&triggerFailureWorkflow=``."""
    path = "/workflow/" + path_segment("workflow_id", workflow_id)
    query = query_params(
        ("reason", optional_text("reason", reason)),
        ("triggerFailureWorkflow", True if trigger_failure_workflow else None),
    )
    return Call(HttpRequest("DELETE", path, query, accept="*/*", template="/workflow/{workflowId}"), parse_nothing)


def _call_delete_workflow(workflow_id: str, archive_workflow: bool | None) -> Call[None]:
    """``DELETE /workflow/{id}/remove?archiveWorkflow=``: remove a workflow from the server."""
    path = f"/workflow/{path_segment('workflow_id', workflow_id)}/remove"
    query = query_params(("archiveWorkflow", None if archive_workflow is None else bool(archive_workflow)))
    return Call(HttpRequest("DELETE", path, query, accept="*/*", template="/workflow/{workflowId}/remove"),
                parse_nothing)


# ----------------------------------------------------------------------------------------------
# Owning or sharing the task client


_Client = TypeVar("_Client", ConductorClient, AsyncConductorClient)


class _OnClient(Generic[_Client]):
    """Holds the task client the calls go through (built from the configuration, or shared when
    given); each call runs with that client's ``perform``: its auth, transport and errors."""

    def __init__(self, configuration: Configuration | None, client: _Client | None, kind: type[_Client]) -> None:
        self._owns = client is None
        self.configuration = client.configuration if client is not None else (
            configuration if configuration is not None else Configuration())
        self._client: _Client = client if client is not None else kind(self.configuration)


class _SyncBase(SyncClosing, _OnClient[ConductorClient]):
    """A sync workflow-side client over a ``ConductorClient``."""

    def __init__(self, configuration: Configuration | None, client: ConductorClient | None) -> None:
        super().__init__(configuration, client, ConductorClient)

    def _call(self, call: Call[T]) -> T:
        return self._client.perform(call)

    def close(self) -> None:
        """Release the connections of a client this object built. Idempotent."""
        if self._owns:
            self._client.close()


class _AsyncBase(AsyncClosing, _OnClient[AsyncConductorClient]):
    """An async workflow-side client over an ``AsyncConductorClient``."""

    def __init__(self, configuration: Configuration | None, client: AsyncConductorClient | None) -> None:
        super().__init__(configuration, client, AsyncConductorClient)

    async def _call(self, call: Call[T]) -> T:
        return await self._client.perform(call)

    async def aclose(self) -> None:
        """Release the connections of a client this object built. Idempotent."""
        if self._owns:
            await self._client.aclose()


# ----------------------------------------------------------------------------------------------
# Metadata


class MetadataClient(_SyncBase):
    """Task and workflow definitions (official ``OrkesMetadataClient`` names and arguments).

    ``MetadataClient(configuration)`` (default: ``Configuration()`` from the environment), or
    ``MetadataClient(client=a_conductor_client)`` to share one. Methods run on the calling thread
    and raise from the client error tree.
    """

    def __init__(self, configuration: Configuration | None = None, *, client: ConductorClient | None = None) -> None:
        super().__init__(configuration, client)

    def register_workflow_def(self, workflow_def: WorkflowDef, overwrite: bool | None = True) -> None:
        """Create a workflow definition; with ``overwrite`` (default) replace an existing one."""
        self._call(_call_register_workflow_def(workflow_def, overwrite))

    def update_workflow_def(self, workflow_def: WorkflowDef, overwrite: bool | None = True) -> None:
        """Create or replace a workflow definition."""
        self._call(_call_update_workflow_defs([workflow_def], overwrite))

    def get_workflow_def(self, name: str, version: int | None = None) -> WorkflowDef:
        """A workflow definition: ``version``, or the latest (``NotFoundError`` when unknown)."""
        return self._call(_call_get_workflow_def(name, version))

    def get_all_workflow_defs(self) -> list[WorkflowDef]:
        """Every workflow definition."""
        return self._call(_call_get_all_workflow_defs())

    def unregister_workflow_def(self, name: str, version: int) -> None:
        """Delete one version of a workflow definition."""
        self._call(_call_unregister_workflow_def(name, version))

    def register_task_def(self, task_def: TaskDef) -> None:
        """Create or replace a task definition."""
        self._call(calls.register_task_defs([task_def]))

    def update_task_def(self, task_def: TaskDef) -> None:
        """Replace an existing task definition (``NotFoundError`` when it does not exist)."""
        self._call(calls.update_task_def(task_def))

    def get_task_def(self, task_type: str) -> TaskDef:
        """A task definition (``NotFoundError`` when unknown)."""
        return self._call(calls.get_task_def(task_type))

    def get_all_task_defs(self) -> list[TaskDef]:
        """Every task definition."""
        return self._call(calls.get_task_defs())

    def unregister_task_def(self, task_type: str) -> None:
        """Delete a task definition (``NotFoundError`` when unknown)."""
        self._call(_call_unregister_task_def(task_type))


class AsyncMetadataClient(_AsyncBase):
    """``MetadataClient`` as coroutines, over an ``AsyncConductorClient``."""

    def __init__(self, configuration: Configuration | None = None, *,
                 client: AsyncConductorClient | None = None) -> None:
        super().__init__(configuration, client)

    async def register_workflow_def(self, workflow_def: WorkflowDef, overwrite: bool | None = True) -> None:
        """Create a workflow definition; with ``overwrite`` (default) replace an existing one."""
        await self._call(_call_register_workflow_def(workflow_def, overwrite))

    async def update_workflow_def(self, workflow_def: WorkflowDef, overwrite: bool | None = True) -> None:
        """Create or replace a workflow definition."""
        await self._call(_call_update_workflow_defs([workflow_def], overwrite))

    async def get_workflow_def(self, name: str, version: int | None = None) -> WorkflowDef:
        """A workflow definition: ``version``, or the latest (``NotFoundError`` when unknown)."""
        return await self._call(_call_get_workflow_def(name, version))

    async def get_all_workflow_defs(self) -> list[WorkflowDef]:
        """Every workflow definition."""
        return await self._call(_call_get_all_workflow_defs())

    async def unregister_workflow_def(self, name: str, version: int) -> None:
        """Delete one version of a workflow definition."""
        await self._call(_call_unregister_workflow_def(name, version))

    async def register_task_def(self, task_def: TaskDef) -> None:
        """Create or replace a task definition."""
        await self._call(calls.register_task_defs([task_def]))

    async def update_task_def(self, task_def: TaskDef) -> None:
        """Replace an existing task definition (``NotFoundError`` when it does not exist)."""
        await self._call(calls.update_task_def(task_def))

    async def get_task_def(self, task_type: str) -> TaskDef:
        """A task definition (``NotFoundError`` when unknown)."""
        return await self._call(calls.get_task_def(task_type))

    async def get_all_task_defs(self) -> list[TaskDef]:
        """Every task definition."""
        return await self._call(calls.get_task_defs())

    async def unregister_task_def(self, task_type: str) -> None:
        """Delete a task definition (``NotFoundError`` when unknown)."""
        await self._call(_call_unregister_task_def(task_type))


# ----------------------------------------------------------------------------------------------
# Workflows


class WorkflowClient(_SyncBase):
    """Start, read, terminate and remove workflows (official ``OrkesWorkflowClient`` names).

    Built like ``MetadataClient``. Methods run on the calling thread and raise from the client
    error tree (``NotFoundError`` for an unknown workflow id or definition).
    """

    def __init__(self, configuration: Configuration | None = None, *, client: ConductorClient | None = None) -> None:
        super().__init__(configuration, client)

    def start_workflow(self, start_workflow_request: StartWorkflowRequest) -> str:
        """Start a workflow; returns its id."""
        return self._call(_call_start_workflow(start_workflow_request))

    def start_workflow_by_name(self, name: str, input: dict[str, Any], version: int | None = None,
                               correlationId: str | None = None, priority: int | None = None) -> str:
        """Start the latest (or ``version``) of workflow ``name`` with ``input``; returns its id."""
        return self._call(_call_start_workflow_by_name(name, input, version, correlationId, priority))

    def get_workflow(self, workflow_id: str, include_tasks: bool | None = True) -> Workflow:
        """A workflow execution, with its tasks unless ``include_tasks`` is false."""
        return self._call(_call_get_workflow(workflow_id, include_tasks))

    def execute_workflow(self, start_workflow_request: StartWorkflowRequest, request_id: str | None = None,
                         wait_until_task_ref: str | None = None, wait_for_seconds: int = 30) -> WorkflowRun:
        """Start a workflow and wait (on the server) until it ends, ``wait_until_task_ref`` is
        reached or ``wait_for_seconds`` pass; the run is then RUNNING. The request needs a version."""
        return self._call(_call_execute_workflow(start_workflow_request, request_id, wait_until_task_ref,
                                                 wait_for_seconds))

    def terminate_workflow(self, workflow_id: str, reason: str | None = None,
                           trigger_failure_workflow: bool = False) -> None:
        """Terminate a running workflow (its scheduled tasks are canceled)."""
        self._call(_call_terminate_workflow(workflow_id, reason, trigger_failure_workflow))

    def delete_workflow(self, workflow_id: str, archive_workflow: bool | None = True) -> None:
        """Remove a workflow execution from the server."""
        self._call(_call_delete_workflow(workflow_id, archive_workflow))

    def remove_workflow(self, workflow_id: str) -> None:
        """Remove a workflow execution from the server (the server's default for archiving)."""
        self._call(_call_delete_workflow(workflow_id, None))


class AsyncWorkflowClient(_AsyncBase):
    """``WorkflowClient`` as coroutines, over an ``AsyncConductorClient``."""

    def __init__(self, configuration: Configuration | None = None, *,
                 client: AsyncConductorClient | None = None) -> None:
        super().__init__(configuration, client)

    async def start_workflow(self, start_workflow_request: StartWorkflowRequest) -> str:
        """Start a workflow; returns its id."""
        return await self._call(_call_start_workflow(start_workflow_request))

    async def start_workflow_by_name(self, name: str, input: dict[str, Any], version: int | None = None,
                                     correlationId: str | None = None,
                                     priority: int | None = None) -> str:
        """Start the latest (or ``version``) of workflow ``name`` with ``input``; returns its id."""
        return await self._call(_call_start_workflow_by_name(name, input, version, correlationId, priority))

    async def get_workflow(self, workflow_id: str, include_tasks: bool | None = True) -> Workflow:
        """A workflow execution, with its tasks unless ``include_tasks`` is false."""
        return await self._call(_call_get_workflow(workflow_id, include_tasks))

    async def execute_workflow(self, start_workflow_request: StartWorkflowRequest, request_id: str | None = None,
                               wait_until_task_ref: str | None = None, wait_for_seconds: int = 30) -> WorkflowRun:
        """Start a workflow and wait (on the server) until it ends, ``wait_until_task_ref`` is
        reached or ``wait_for_seconds`` pass; the run is then RUNNING. The request needs a version."""
        return await self._call(_call_execute_workflow(start_workflow_request, request_id, wait_until_task_ref,
                                                       wait_for_seconds))

    async def terminate_workflow(self, workflow_id: str, reason: str | None = None,
                                 trigger_failure_workflow: bool = False) -> None:
        """Terminate a running workflow (its scheduled tasks are canceled)."""
        await self._call(_call_terminate_workflow(workflow_id, reason, trigger_failure_workflow))

    async def delete_workflow(self, workflow_id: str, archive_workflow: bool | None = True) -> None:
        """Remove a workflow execution from the server."""
        await self._call(_call_delete_workflow(workflow_id, archive_workflow))

    async def remove_workflow(self, workflow_id: str) -> None:
        """Remove a workflow execution from the server (the server's default for archiving)."""
        await self._call(_call_delete_workflow(workflow_id, None))


# ----------------------------------------------------------------------------------------------
# The executor facade and the factory


class WorkflowExecutor(_SyncBase):
    """The official ``WorkflowExecutor`` subset for workers' users: register a workflow, start
    one or many, execute one and wait for its end, read, terminate and remove them.
    ``metadata_client`` and ``workflow_client`` share this executor's connection pool."""

    def __init__(self, configuration: Configuration | None = None, *, client: ConductorClient | None = None) -> None:
        super().__init__(configuration, client)
        self.metadata_client = MetadataClient(client=self._client)
        self.workflow_client = WorkflowClient(client=self._client)

    def register_workflow(self, workflow: WorkflowDef, overwrite: bool | None = None) -> None:
        """Create or replace a workflow definition (``PUT``, as the official executor does)."""
        self._call(_call_update_workflow_defs([workflow], overwrite))

    def start_workflow(self, start_workflow_request: StartWorkflowRequest) -> str:
        """Start a workflow; returns its id."""
        return self.workflow_client.start_workflow(start_workflow_request)

    def start_workflows(self, *start_workflow_request: StartWorkflowRequest) -> list[str]:
        """Start each request in turn; returns the ids in order."""
        return [self.start_workflow(request) for request in start_workflow_request]

    def execute_workflow(self, request: StartWorkflowRequest, wait_until_task_ref: str | None = None,
                         wait_for_seconds: int = 10, request_id: str | None = None) -> WorkflowRun:
        """Start a workflow and wait for it (see ``WorkflowClient.execute_workflow``); a request
        without a version runs the latest one."""
        if request.version is None:  # a copy: the caller's request stays as it was
            request = copy.copy(request)
            request.version = self.metadata_client.get_workflow_def(request.name).version  # type: ignore[arg-type]
        return self.workflow_client.execute_workflow(request, request_id or _request_id(), wait_until_task_ref,
                                                     wait_for_seconds)

    def execute(self, name: str, version: int | None = None, workflow_input: Any = None,
                wait_until_task_ref: str | None = None, wait_for_seconds: int = 10, request_id: str | None = None,
                correlation_id: str | None = None, domain: str | None = None) -> WorkflowRun:
        """Start workflow ``name`` (``version``, else the latest) with ``workflow_input`` and wait for
        it: the run ends COMPLETED/FAILED/..., or is RUNNING when ``wait_for_seconds`` ran out first."""
        if version is None:
            version = self.metadata_client.get_workflow_def(name).version
        request = _execute_request(name, version, workflow_input, correlation_id, domain)  # type: ignore[arg-type]
        return self.execute_workflow(request, wait_until_task_ref, wait_for_seconds, request_id)

    def get_workflow(self, workflow_id: str, include_tasks: bool | None = None) -> Workflow:
        """A workflow execution (with its tasks unless ``include_tasks`` is false)."""
        return self.workflow_client.get_workflow(workflow_id, include_tasks)

    def terminate(self, workflow_id: str, reason: str | None = None,
                  trigger_failure_workflow: bool | None = None) -> None:
        """Terminate a running workflow."""
        self.workflow_client.terminate_workflow(workflow_id, reason, bool(trigger_failure_workflow))

    def remove_workflow(self, workflow_id: str, archive_workflow: bool | None = None) -> None:
        """Remove a workflow execution from the server."""
        self._call(_call_delete_workflow(workflow_id, archive_workflow))


class AsyncWorkflowExecutor(_AsyncBase):
    """``WorkflowExecutor`` as coroutines, over an ``AsyncConductorClient``."""

    def __init__(self, configuration: Configuration | None = None, *,
                 client: AsyncConductorClient | None = None) -> None:
        super().__init__(configuration, client)
        self.metadata_client = AsyncMetadataClient(client=self._client)
        self.workflow_client = AsyncWorkflowClient(client=self._client)

    async def register_workflow(self, workflow: WorkflowDef, overwrite: bool | None = None) -> None:
        """Create or replace a workflow definition."""
        await self._call(_call_update_workflow_defs([workflow], overwrite))

    async def start_workflow(self, start_workflow_request: StartWorkflowRequest) -> str:
        """Start a workflow; returns its id."""
        return await self.workflow_client.start_workflow(start_workflow_request)

    async def start_workflows(self, *start_workflow_request: StartWorkflowRequest) -> list[str]:
        """Start each request in turn; returns the ids in order."""
        return [await self.start_workflow(request) for request in start_workflow_request]

    async def execute_workflow(self, request: StartWorkflowRequest, wait_until_task_ref: str | None = None,
                               wait_for_seconds: int = 10, request_id: str | None = None) -> WorkflowRun:
        """Start a workflow and wait for it (see ``WorkflowClient.execute_workflow``); a request
        without a version runs the latest one."""
        if request.version is None:  # a copy: the caller's request stays as it was
            request = copy.copy(request)
            request.version = (await self.metadata_client.get_workflow_def(request.name)).version  # type: ignore[arg-type]
        return await self.workflow_client.execute_workflow(request, request_id or _request_id(),
                                                           wait_until_task_ref, wait_for_seconds)

    async def execute(self, name: str, version: int | None = None, workflow_input: Any = None,
                      wait_until_task_ref: str | None = None, wait_for_seconds: int = 10,
                      request_id: str | None = None, correlation_id: str | None = None,
                      domain: str | None = None) -> WorkflowRun:
        """Start workflow ``name`` (``version``, else the latest) with ``workflow_input`` and wait for
        it: the run ends COMPLETED/FAILED/..., or is RUNNING when ``wait_for_seconds`` ran out first."""
        if version is None:
            version = (await self.metadata_client.get_workflow_def(name)).version
        request = _execute_request(name, version, workflow_input, correlation_id, domain)  # type: ignore[arg-type]
        return await self.execute_workflow(request, wait_until_task_ref, wait_for_seconds, request_id)

    async def get_workflow(self, workflow_id: str, include_tasks: bool | None = None) -> Workflow:
        """A workflow execution (with its tasks unless ``include_tasks`` is false)."""
        return await self.workflow_client.get_workflow(workflow_id, include_tasks)

    async def terminate(self, workflow_id: str, reason: str | None = None,
                        trigger_failure_workflow: bool | None = None) -> None:
        """Terminate a running workflow."""
        await self.workflow_client.terminate_workflow(workflow_id, reason, bool(trigger_failure_workflow))

    async def remove_workflow(self, workflow_id: str, archive_workflow: bool | None = None) -> None:
        """Remove a workflow execution from the server."""
        await self._call(_call_delete_workflow(workflow_id, archive_workflow))


def _request_id() -> str:
    """A fresh idempotency id for an execution (uuid is imported here: importing the client stays lean)."""
    import uuid

    return str(uuid.uuid4())


#: The official class names.
OrkesMetadataClient = MetadataClient
OrkesWorkflowClient = WorkflowClient


class OrkesClients:
    """The official factory: ``OrkesClients(configuration).get_workflow_client()`` and so on. The
    clients it hands out share one connection pool; ``close()`` releases it."""

    def __init__(self, configuration: Configuration | None = None) -> None:
        self.configuration = configuration if configuration is not None else Configuration()
        self._client = ConductorClient(self.configuration)

    def get_metadata_client(self) -> MetadataClient:
        return MetadataClient(client=self._client)

    def get_workflow_client(self) -> WorkflowClient:
        return WorkflowClient(client=self._client)

    def get_workflow_executor(self) -> WorkflowExecutor:
        return WorkflowExecutor(client=self._client)

    def close(self) -> None:
        """Release the shared connections. Idempotent."""
        self._client.close()
