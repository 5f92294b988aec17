"""The dev server's web page on the server side: the static files and their headers, paths that must
not reach other files, the workflow log lines, and the address the command lines announce."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
from _support.cli_tree import CLI, DEV_SERVER, CliTree, finish_trees, hermetic_env
from devserver._support import WAIT, Api, one_task_workflow

from conductor_actors.devserver import DevServer

UI_FOLDER = resources.files("conductor_actors.devserver").joinpath("ui")

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


@pytest.fixture
def http(dev_server: DevServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dev_server.base_url, timeout=WAIT) as client:
        yield client


@pytest.mark.parametrize(("path", "file", "content_type"), [
    ("/", "index.html", "text/html; charset=utf-8"),
    ("/ui/index.html", "index.html", "text/html; charset=utf-8"),
    ("/ui/app.js", "app.js", "text/javascript; charset=utf-8"),
    ("/ui/style.css", "style.css", "text/css; charset=utf-8"),
    ("/ui/favicon.svg", "favicon.svg", "image/svg+xml"),
])
def test_the_page_and_its_files_are_served_with_their_types_and_headers(
        http: httpx.Client, dev_server: DevServer, path: str, file: str, content_type: str) -> None:
    reply = http.get(path)
    assert reply.status_code == 200
    assert reply.content == UI_FOLDER.joinpath(file).read_bytes()
    assert reply.headers["content-type"] == content_type
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers[name] == value
    policy = reply.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert dev_server.stats()["total"] == 0  # the page is not an API request: not counted, never faulted


def test_the_page_loads_only_its_own_files() -> None:
    page = UI_FOLDER.joinpath("index.html").read_text("utf-8")
    script = UI_FOLDER.joinpath("app.js").read_text("utf-8")
    assert re.findall(r'(?:src|href)="([^"#]+)"', page) == ["ui/favicon.svg", "ui/style.css", "ui/app.js"]
    assert "<script>" not in page and "style=" not in page  # the policy forbids inline code
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script
    assert "http://" not in script and "https://" not in script  # works offline: nothing from elsewhere


@pytest.mark.parametrize("path", [
    "/ui/../_server.py",
    "/ui/..%2F_server.py",
    "/ui/%2e%2e/_server.py",
    "/ui/%2e%2e%2f%2e%2e%2fsetup.cfg",
    "/ui/../../../etc/passwd",
    "/ui//etc/passwd",
    "/ui/",
    "/ui",
    "/ui/app.js/",
    "/ui/app.js/x",
    "/ui/App.js",
    "/ui/app.js%00.html",
    "/ui/.",
    "/_server.py",
    "/index.html",
    "/ui/__init__.py",
    "/conductor_actors/devserver/_server.py",
])
def test_no_path_reaches_another_file(api: Api, path: str) -> None:
    reply = api.get(path)  # http.client sends the path as it is (no dot segments removed)
    assert reply.status == 404, path
    assert b"No static resource" in reply.body


def test_other_methods_on_the_page_are_refused_and_the_api_is_unchanged(http: httpx.Client, api: Api) -> None:
    assert http.post("/").status_code == 405
    assert http.delete("/ui/app.js").status_code == 405
    missing = http.get("/api/nothing/here")
    assert missing.status_code == 404 and missing.json()["message"] == "No static resource api/nothing/here."
    assert http.get("/api/metadata/workflow").json() == []


def test_ui_url_is_the_root_of_the_server(dev_server: DevServer) -> None:
    assert dev_server.ui_url == dev_server.url.removesuffix("api")


def _took(workflow: dict[str, Any]) -> str:
    """How the log line says the run time of ``workflow`` (its own start and end on the server clock):
    tenths of a second below a minute, minutes and seconds below an hour, then tenths of an hour."""
    seconds = (workflow["endTime"] - workflow["startTime"]) / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{round(seconds) // 60} min {round(seconds) % 60} s"
    return f"{seconds / 3600:.1f} h"


def _workflow_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(record.levelname, record.getMessage()) for record in caplog.records
            if record.name == "conductor_actors.devserver.workflows"]


def test_one_info_line_per_workflow_start_and_end(dev_server: DevServer, api: Api,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="conductor_actors.devserver.workflows")
    one_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("wf", {"x": 1})
    task = api.poll_one("echo")
    dev_server.advance_clock(95.4)
    assert api.update(task).status == 200
    dev_server.wait_for_workflows([workflow_id], timeout=WAIT)
    completed = dev_server.get_workflow(workflow_id)
    assert api.post(f"/api/workflow/{workflow_id}/restart").status == 204
    assert api.delete(f"/api/workflow/{workflow_id}?reason=enough").status == 200
    terminated = dev_server.get_workflow(workflow_id)
    assert _took(completed).startswith("1 min ")
    assert _workflow_lines(caplog) == [
        ("INFO", f"Workflow {workflow_id} (wf v1) started"),
        ("INFO", f"Workflow {workflow_id} (wf v1) COMPLETED after {_took(completed)}"),
        ("INFO", f"Workflow {workflow_id} (wf v1) restarted"),
        ("INFO", f"Workflow {workflow_id} (wf v1) TERMINATED after {_took(terminated)}"),
    ]


def test_long_runs_are_logged_in_hours_and_retries_and_reruns_say_so(dev_server: DevServer, api: Api,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="conductor_actors.devserver.workflows")
    dev_server.register_workflow({"name": "nap", "version": 2, "tasks": [
        {"name": "wait", "taskReferenceName": "wait", "type": "WAIT", "inputParameters": {"duration": "2 hours"}}]})
    one_task_workflow(dev_server)
    napping = dev_server.start_workflow("nap")
    dev_server.advance_clock(7200)
    failing = dev_server.start_workflow("wf", {"x": 1})
    api.update(api.poll_one("echo"), "FAILED_WITH_TERMINAL_ERROR")
    assert dev_server.wait_for_workflows([napping, failing], timeout=WAIT) == {napping: "COMPLETED",
                                                                               failing: "FAILED"}
    failed = dev_server.get_workflow(failing)
    assert api.post(f"/api/workflow/{failing}/retry").status == 204
    assert api.post(f"/api/workflow/{failing}/rerun", {}).status == 200
    assert _workflow_lines(caplog) == [
        ("INFO", f"Workflow {napping} (nap v2) started"),
        ("INFO", f"Workflow {napping} (nap v2) COMPLETED after 2.0 h"),
        ("INFO", f"Workflow {failing} (wf v1) started"),
        ("INFO", f"Workflow {failing} (wf v1) FAILED after {_took(failed)}"),
        ("INFO", f"Workflow {failing} (wf v1) retried"),
        ("INFO", f"Workflow {failing} (wf v1) rerun from the start"),
    ]


def test_a_child_workflow_s_start_line_names_its_parent(dev_server: DevServer,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="conductor_actors.devserver.workflows")
    dev_server.register_workflow({"name": "child", "version": 1, "tasks": [
        {"name": "mark", "taskReferenceName": "mark", "type": "SET_VARIABLE", "inputParameters": {"done": True}}]})
    dev_server.register_workflow({"name": "parent", "version": 3, "tasks": [
        {"name": "run_child", "taskReferenceName": "run_child", "type": "SUB_WORKFLOW",
         "subWorkflowParam": {"name": "child", "version": 1}}]})
    parent_id = dev_server.start_workflow("parent")
    dev_server.wait_for_workflows([parent_id], timeout=WAIT)
    parent = dev_server.get_workflow(parent_id)
    child = dev_server.get_workflow(parent["tasks"][0]["subWorkflowId"])
    child_id = child["workflowId"]
    assert _workflow_lines(caplog) == [
        ("INFO", f"Workflow {parent_id} (parent v3) started"),
        ("INFO", f"Workflow {child_id} (child v1) started, child of {parent_id}"),
        ("INFO", f"Workflow {child_id} (child v1) COMPLETED after {_took(child)}"),
        ("INFO", f"Workflow {parent_id} (parent v3) COMPLETED after {_took(parent)}"),
    ]


def test_the_command_line_server_names_the_page(tmp_path: Path) -> None:
    tree = CliTree([*DEV_SERVER, "--port", "0"], hermetic_env(None, settings={}, flavour=None),
                   tmp_path / "devserver.log")
    try:
        tree.wait_for(r"Web UI at ", "the web page's address in the log")
        first, second = tree.log().splitlines()[:2]
        api_url = re.search(r"listening on (http://\S+)/api", first)
        assert api_url, first
        assert f"Web UI at {api_url.group(1)}/ " in second, second
        reply = httpx.get(api_url.group(1) + "/", timeout=WAIT)
        assert reply.status_code == 200 and "Conductor dev server" in reply.text
        tree.stop()
    finally:
        finish_trees([tree])


def test_the_workers_command_with_dev_server_names_the_page(tmp_path: Path) -> None:
    tree = CliTree([*CLI, "--dev-server=0", "_support.cli_apps.sleepy"], hermetic_env(tmp_path / "state"),
                   tmp_path / "cli.log")
    try:
        found = tree.wait_for(r"dev server web UI at (http://127\.0\.0\.1:\d+/) ",
                              "the web page's address in the log")[0]
        api_url = tree.matches(r"embedded dev server at (\S+)/api")[0].group(1)
        assert found.group(1) == api_url + "/"
        assert httpx.get(found.group(1), timeout=WAIT).status_code == 200
        tree.stop(timeout=60)
    finally:
        finish_trees([tree])
