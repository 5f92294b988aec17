"""Handlers of the metadata endpoints: task definitions, workflow definitions and schemas.

Returns ``Response`` objects; raises ``ApiError`` for error answers. Runs on the loop thread.
"""

from __future__ import annotations

from collections.abc import Callable

from ._errors import ApiError
from ._http import Outcome, Request
from ._metadata import Metadata
from ._payloads import EMPTY_OK, json_body, json_response, query_bool, query_int

__all__ = ["MetadataApi"]

Handler = Callable[[Request, "tuple[str, ...]"], Outcome]


class MetadataApi:
    """The ``/api/metadata/*`` and ``/api/schema`` endpoints over one registry."""

    def __init__(self, metadata: Metadata) -> None:
        self._metadata = metadata

    def handlers(self) -> dict[str, Handler]:
        """Endpoint name -> handler."""
        return {
            "taskdefs_register": self.taskdefs_register,
            "taskdef_update": self.taskdef_update,
            "taskdef_get": self.taskdef_get,
            "taskdefs_list": self.taskdefs_list,
            "taskdef_delete": self.taskdef_delete,
            "workflow_def_register": self.workflow_def_register,
            "workflow_def_update": self.workflow_def_update,
            "workflow_def_get": self.workflow_def_get,
            "workflow_defs_list": self.workflow_defs_list,
            "workflow_def_delete": self.workflow_def_delete,
            "schema_save": self.schema_save,
        }

    def taskdefs_register(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``POST /api/metadata/taskdefs`` with a list: upsert; 200 empty."""
        self._metadata.register_task_defs(json_body(request))
        return EMPTY_OK

    def taskdef_update(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``PUT /api/metadata/taskdefs`` with one def: 404 when it does not exist."""
        self._metadata.update_task_def(json_body(request))
        return EMPTY_OK

    def taskdef_get(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``GET /api/metadata/taskdefs/{name}``: the def with server defaults, or 404."""
        return json_response(self._metadata.get_task_def(params[0]))

    def taskdefs_list(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``GET /api/metadata/taskdefs``: every def."""
        return json_response(list(self._metadata.task_defs.values()))

    def taskdef_delete(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``DELETE /api/metadata/taskdefs/{name}``: 200 empty, 404 when missing."""
        self._metadata.delete_task_def(params[0])
        return EMPTY_OK

    def workflow_def_register(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``POST /api/metadata/workflow[?overwrite=true]``: 409 if it exists and overwrite is off."""
        overwrite = query_bool(request.query, "overwrite", False)
        self._metadata.register_workflow_def(json_body(request), overwrite=overwrite)
        return EMPTY_OK

    def workflow_def_update(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``PUT /api/metadata/workflow`` with a list: upsert; the bulk response."""
        return json_response(self._metadata.update_workflow_defs(json_body(request)))

    def workflow_def_get(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``GET /api/metadata/workflow/{name}?version=``: that version or the latest; 404."""
        version = query_int(request.query, "version", None)
        return json_response(self._metadata.get_workflow_def(params[0], version))

    def workflow_defs_list(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``GET /api/metadata/workflow``: every version of every definition, by name then version."""
        return json_response(self._metadata.all_workflow_defs())

    def workflow_def_delete(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``DELETE /api/metadata/workflow/{name}/{version}``: 200 empty; 404 when there is none."""
        name, raw_version = params
        try:
            version = int(raw_version)
        except ValueError:
            raise ApiError(400, f"version must be an integer, got {raw_version!r}") from None
        self._metadata.delete_workflow_def(name, version)
        return EMPTY_OK

    def schema_save(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``POST /api/schema`` with one schema or a list: stored; 200 empty."""
        body = json_body(request)
        if not isinstance(body, (dict, list)):
            raise ApiError(400, "Schema body must be a JSON object or a list of objects")
        self._metadata.save_schemas(body)
        return EMPTY_OK
