"""An embedded, in-memory, Conductor-compatible server for local development and tests.

Not for production: it keeps everything in memory and loses its state when it stops. It answers
what the real Conductor server answers for the task-worker endpoints (polls with long-poll, update
v1/v2, logs, task definitions, workflow definitions, token auth) and the workflow-management ones
(start, get, terminate, pause/resume, restart, retry, rerun, skip, remove, search, ...), runs the
common system task types (SWITCH, FORK_JOIN, DO_WHILE, SUB_WORKFLOW, WAIT, HTTP, INLINE, ...), keeps
time on a clock tests can advance (``advance_clock``), serves a web page at ``/`` to watch and steer
workflows (``DevServer.ui_url``), and has switches for fault injection and request counters (see
docs/devserver.md)::

    from conductor_actors.devserver import DevServer

    with DevServer() as server:
        server.register_workflow({...})
        workflow_id = server.start_workflow("wf", {"x": 1})
        ...  # point workers at server.url

``python -m conductor_actors.devserver --port 8080`` runs one from the command line.

One deliberate difference from the real server: a batch poll (``count`` > 1) answers as soon as at
least one task is ready, with up to ``count`` of them. The real server's SQL queue DAOs (SQLite,
Postgres, MySQL) keep polling until they have ``count`` tasks or ``timeout`` has passed, so there a
batch poll with fewer ready tasks than ``count`` waits about ``timeout``. Answering early is what the
server's own API documentation promises ("until timeout or at least 1 task is available") and keeps
local runs and tests fast; a worker must not rely on either behaviour.
"""

from __future__ import annotations

from ._faults import Fault, FaultInjector
from ._server import DevServer

__all__ = ["DevServer", "Fault", "FaultInjector"]
