"""The dev server's web page in a real browser: headless Chromium driven through chromedriver.

The test speaks the W3C WebDriver protocol (plain HTTP) to Debian's ``chromedriver`` with httpx. It
loads the page, finds a completed workflow and its tasks' outputs, starts a workflow from the page
(an invalid JSON input first) and terminates and restarts a running one. Every wait is on a
condition in the page or the server, with a deadline. Skipped, saying why, only where Chromium or
chromedriver is not installed (``.ci/run`` installs them as root with apt-get).

Run as a script, the module writes the screenshots of docs/devserver.md into a folder::

    PYTHONPATH=tests python -m devserver.test_ui_browser docs
"""

from __future__ import annotations

import base64
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _support.waiting import wait_until

from conductor_actors.devserver import DevServer

#: Upper bound (s) for one wait in the page; never reached when the page works.
PAGE_WAIT = 15.0
_ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference

ORDER_PIPELINE: dict[str, Any] = {
    "name": "order_pipeline", "version": 1, "schemaVersion": 2,
    "tasks": [
        {"name": "validate_order", "taskReferenceName": "validate", "type": "SIMPLE",
         "inputParameters": {"order_id": "${workflow.input.order_id}", "amount": "${workflow.input.amount}"}},
        {"name": "charge_payment", "taskReferenceName": "charge", "type": "SIMPLE",
         "inputParameters": {"order_id": "${validate.output.order_id}", "amount": "${validate.output.amount}"}},
        {"name": "send_confirmation", "taskReferenceName": "confirm", "type": "SIMPLE",
         "inputParameters": {"order_id": "${validate.output.order_id}", "payment_id": "${charge.output.payment_id}"}},
    ],
    "outputParameters": {"payment_id": "${charge.output.payment_id}", "receipt": "${confirm.output.receipt}"},
}

APPROVAL: dict[str, Any] = {
    "name": "refund_approval", "version": 1, "schemaVersion": 2,
    "tasks": [{"name": "approve", "taskReferenceName": "approve", "type": "HUMAN",
               "inputParameters": {"order_id": "${workflow.input.order_id}"}}],
}

#: A workflow input that would run script if the page put data into HTML.
HOSTILE = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'


def _executable(name: str) -> str | None:
    return shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None)


class Browser:
    """A WebDriver session on chromedriver; every call runs on the test's thread.

    Raises ``AssertionError`` naming the WebDriver error when a command fails.
    """

    def __init__(self, chromium: str, chromedriver: str, profile: str) -> None:
        env = {**os.environ, "TZ": "UTC"}  # the page shows local times: the same on every machine
        self._driver = subprocess.Popen([chromedriver, "--port=0"], stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, env=env)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(lines,), daemon=True).start()
        port = None
        try:
            while port is None:
                line = lines.get(timeout=PAGE_WAIT)
                if "started successfully on port" in line:
                    port = int(line.rstrip(". \n").rsplit(" ", 1)[1])
        except queue.Empty:
            self._driver.kill()
            raise AssertionError("chromedriver did not say which port it listens on") from None
        self._http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60.0)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--force-device-scale-factor=1", "--hide-scrollbars", "--lang=en-US",
                "--window-size=1280,900", f"--user-data-dir={profile}"]
        try:
            answer = self._command("POST", "/session", {"capabilities": {"alwaysMatch": {
                "browserName": "chrome", "goog:chromeOptions": {"binary": chromium, "args": args}}}})
        except BaseException:
            self.close()
            raise
        self._session = f"/session/{answer['sessionId']}"

    def _pump(self, lines: queue.Queue[str]) -> None:
        assert self._driver.stdout is not None
        for line in self._driver.stdout:
            lines.put(line)

    def _command(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        reply = self._http.request(method, path, json=body if body is not None or method == "POST" else None)
        value = reply.json().get("value")
        if reply.status_code != 200:
            raise AssertionError(f"WebDriver {method} {path}: {reply.status_code} {value}")
        return value

    def session(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One command of this session (``path`` after ``/session/{id}``)."""
        return self._command(method, self._session + path, body if body is not None else ({} if method == "POST"
                                                                                         else None))

    def close(self) -> None:
        """End the session and chromedriver (which ends Chromium)."""
        try:
            if hasattr(self, "_session"):
                self._command("DELETE", self._session)
        finally:
            if hasattr(self, "_http"):
                self._http.close()
            self._driver.terminate()
            try:
                self._driver.wait(timeout=PAGE_WAIT)
            except subprocess.TimeoutExpired:
                self._driver.kill()
                self._driver.wait()

    # -- what the tests do -----------------------------------------------------------------
    def open(self, url: str) -> None:
        self.session("POST", "/url", {"url": url})

    def js(self, script: str, *args: Any) -> Any:
        """The value of ``script`` (a function body) run in the page."""
        return self.session("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait(self, script: str, what: str, *args: Any) -> Any:
        """Wait until ``script`` gives something true in the page and return it."""
        return wait_until(lambda: self.js(script, *args), what, timeout=PAGE_WAIT, interval=0.05)

    def element(self, css: str) -> str:
        """The reference of the element ``css`` finds once it is there."""
        found = wait_until(lambda: self.session("POST", "/elements", {"using": "css selector", "value": css}),
                           f"an element {css!r}", timeout=PAGE_WAIT, interval=0.05)
        return str(found[0][_ELEMENT])

    def click(self, css: str) -> None:
        self.session("POST", f"/element/{self.element(css)}/click")

    def type(self, css: str, text: str) -> None:
        """Replace the text of the field ``css`` as a user would type it."""
        element = self.element(css)
        self.session("POST", f"/element/{element}/clear")
        self.session("POST", f"/element/{element}/value", {"text": text})

    def text(self, css: str) -> str:
        return str(self.session("GET", f"/element/{self.element(css)}/text"))

    def resize(self, width: int, height: int) -> None:
        self.session("POST", "/window/rect", {"width": width, "height": height})

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.session("GET", "/screenshot")))


class Conductor:
    """Plays the workers over the dev server's HTTP API (poll, then update with a worker id)."""

    def __init__(self, server: DevServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=10.0)

    def close(self) -> None:
        self.http.close()

    def work(self, task_type: str, worker_id: str, status: str, output: dict[str, Any] | None = None,
             logs: tuple[str, ...] = (), reason: str | None = None, seconds: float = 0.0) -> dict[str, Any]:
        """Poll one ``task_type`` task as ``worker_id`` and finish it with ``status`` after ``seconds``
        on the server clock (so the page shows durations a real run would have)."""
        task = self.http.get(f"/tasks/poll/{task_type}", params={"workerid": worker_id}).json()
        self.server.advance_clock(seconds)
        result = {"taskId": task["taskId"], "workflowInstanceId": task["workflowInstanceId"], "status": status,
                  "workerId": worker_id, "outputData": output or {},
                  "logs": [{"log": line, "taskId": task["taskId"]} for line in logs]}
        if reason is not None:
            result["reasonForIncompletion"] = reason
        self.http.post("/tasks", json=result).raise_for_status()
        return dict(task)


def build_scene(server: DevServer, note: str = HOSTILE) -> dict[str, str]:
    """Workflows in every state the page shows: completed (a task retried once), failed, running.
    ``note`` is part of the completed workflow's input."""
    server.register_task_def({"name": "charge_payment", "retryCount": 2, "retryDelaySeconds": 0,
                              "retryLogic": "FIXED", "timeoutSeconds": 60, "responseTimeoutSeconds": 30})
    server.register_workflow(ORDER_PIPELINE)
    server.register_workflow(APPROVAL)
    conductor = Conductor(server)
    try:
        done = server.start_workflow("order_pipeline", {"order_id": "A-100", "amount": 42.5, "note": note},
                                     correlation_id="customer-7")
        conductor.work("validate_order", "validator-1", "COMPLETED", {"order_id": "A-100", "amount": 42.5},
                       seconds=0.04)
        conductor.work("charge_payment", "payments-2", "FAILED", logs=("gateway answered 503",),
                       reason="payment gateway unavailable", seconds=1.2)
        conductor.work("charge_payment", "payments-1", "COMPLETED", {"payment_id": "pay-A-100"},
                       logs=("charging 42.50 for A-100", "gateway answered 200"), seconds=0.8)
        conductor.work("send_confirmation", "mailer-1", "COMPLETED", {"receipt": "rcpt-A-100"}, seconds=0.3)
        failed = server.start_workflow("order_pipeline", {"order_id": "A-101", "amount": -1})
        conductor.work("validate_order", "validator-1", "FAILED_WITH_TERMINAL_ERROR",
                       reason="order A-101: amount must be positive, got -1", seconds=0.02)
        server.advance_clock(5)
        running = server.start_workflow("order_pipeline", {"order_id": "A-102", "amount": 10})
        conductor.work("validate_order", "validator-1", "COMPLETED", {"order_id": "A-102", "amount": 10},
                       seconds=0.05)
        server.advance_clock(2)
        waiting = server.start_workflow("refund_approval", {"order_id": "A-099"}, correlation_id="customer-3")
    finally:
        conductor.close()
    assert server.workflow_statuses([done, failed, running, waiting]) == {
        done: "COMPLETED", failed: "FAILED", running: "RUNNING", waiting: "RUNNING"}
    return {"completed": done, "failed": failed, "running": running, "waiting": waiting}


def _start_browser(profile: str) -> Browser:
    chromium = _executable("chromium") or _executable("chromium-browser")
    chromedriver = _executable("chromedriver")
    if chromium is None or chromedriver is None:
        pytest.skip("the browser tests need Debian's chromium and chromium-driver packages "
                    "(apt-get install chromium chromium-driver; .ci/run installs them as root): "
                    f"chromium {'found' if chromium else 'missing'}, chromedriver "
                    f"{'found' if chromedriver else 'missing'}")
    return Browser(chromium, chromedriver, profile)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One headless Chromium for the module (starting it is the slow part)."""
    session = _start_browser(str(tmp_path_factory.mktemp("chromium-profile")))
    yield session
    session.close()


@pytest.fixture
def scene(dev_server: DevServer) -> dict[str, str]:
    return build_scene(dev_server)


#: A JavaScript expression: the workflow ids of the list's rows, top to bottom.
_ROW_IDS = "[...document.querySelectorAll('#workflow-rows tr[data-workflow-id]')].map(r => r.dataset.workflowId)"


def test_the_list_finds_a_completed_workflow_and_its_task_outputs(
        browser: Browser, dev_server: DevServer, scene: dict[str, str]) -> None:
    browser.open(dev_server.ui_url)
    every = [scene["waiting"], scene["running"], scene["failed"], scene["completed"]]
    assert browser.wait(f"const ids = ({_ROW_IDS}); return ids.length === 4 && ids",
                        "the four workflows listed") == every  # newest first

    # The list refreshes by itself: a workflow started elsewhere shows up without a reload.
    late = dev_server.start_workflow("refund_approval", {"order_id": "A-103"})
    browser.wait(f"return ({_ROW_IDS})[0] === arguments[0]", "the new workflow listed", late)

    # Filter by status, then by name.
    browser.click("#filter-status option[value='COMPLETED']")
    assert browser.wait(f"const ids = ({_ROW_IDS}); return ids.length === 1 && ids",
                        "only the completed workflow") == [scene["completed"]]
    browser.click("#filter-status option[value='']")
    browser.type("#filter-name", "refund_approval\n")
    assert browser.wait(f"const ids = ({_ROW_IDS}); return ids.length === 2 && ids",
                        "only the approvals") == [late, scene["waiting"]]
    browser.type("#filter-name", "\n")
    browser.wait(f"return ({_ROW_IDS}).length === 5", "every workflow again")

    # Open the completed one: its status, input (shown as text), tasks in order with their details.
    browser.click(f"#workflow-rows tr[data-workflow-id='{scene['completed']}'] a")
    browser.wait("return document.querySelector('#workflow-status')?.textContent === 'COMPLETED'",
                 "the workflow view")
    assert HOSTILE.replace('"', '\\"') in browser.text("#workflow-head .io pre")
    refs = browser.wait("const r = [...document.querySelectorAll('#task-list .ref')].map(e => e.textContent);"
                        "return r.length === 4 && r", "four tasks")
    assert refs == ["validate", "charge", "charge", "confirm"]
    statuses = browser.js("return [...document.querySelectorAll('#task-list summary .status')].map(e => e.textContent)")
    assert statuses == ["COMPLETED", "FAILED", "COMPLETED", "COMPLETED"]
    browser.click("#task-list li:nth-child(3) summary")
    charge = "#task-list li:nth-child(3)"
    browser.wait(f"return document.querySelector('{charge} .log-lines li:nth-child(2)')", "the task's logs")
    assert '"payment_id": "pay-A-100"' in browser.text(f"{charge} .task-output pre")
    details = browser.text(f"{charge} .task-body")
    assert "payments-1" in details and "charging 42.50 for A-100" in details and "gateway answered 200" in details
    assert "Retries\n1" in details or "Retries 1" in details
    # The hostile input stayed text: no element or script came out of it.
    assert browser.js("return document.querySelectorAll('main img, main script').length") == 0
    assert browser.js("return document.title") == "Conductor dev server"


def test_a_workflow_starts_from_the_page_and_bad_json_is_an_error_on_it(
        browser: Browser, dev_server: DevServer, scene: dict[str, str]) -> None:
    browser.open(dev_server.ui_url)
    browser.wait("return document.querySelectorAll('#start-definition option').length === 2", "the definitions")
    # A definition registered while the page is open joins the choices.
    dev_server.register_workflow({**APPROVAL, "version": 2})
    browser.wait("return [...document.querySelectorAll('#start-definition option')].map(o => o.textContent)"
                 ".join() === 'order_pipeline v1,refund_approval v2,refund_approval v1'", "the new version listed")
    browser.click("#start-definition option[value='[\"refund_approval\",1]']")
    browser.type("#start-input", '{"order_id": "A-200",')
    browser.click("#start-button")
    error = browser.wait("const e = document.querySelector('#start-error');"
                         "return !e.hidden && e.textContent", "the JSON error")
    assert error.startswith("The input is not valid JSON")
    browser.type("#start-input", '["not", "an object"]')
    browser.click("#start-button")
    browser.wait("return document.querySelector('#start-error').textContent.includes('must be a JSON object')",
                 "the not-an-object error")
    assert len(dev_server.workflow_statuses(scene.values())) == 4  # nothing started

    browser.type("#start-input", '{"order_id": "A-200", "reason": "damaged"}')
    browser.type("#start-correlation", "customer-9")
    browser.click("#start-button")
    started = browser.wait("return location.hash.startsWith('#/workflow/') && "
                           "document.querySelector('#workflow-view')?.dataset.workflowId", "the new workflow's view")
    workflow = dev_server.get_workflow(started)
    assert (workflow["workflowName"], workflow["workflowVersion"], workflow["input"], workflow["correlationId"]) == (
        "refund_approval", 1, {"order_id": "A-200", "reason": "damaged"}, "customer-9")
    browser.wait("return document.querySelector('#task-list .ref')?.textContent === 'approve'", "its first task")


def test_a_running_workflow_is_terminated_then_restarted_from_the_page(
        browser: Browser, dev_server: DevServer, scene: dict[str, str]) -> None:
    running = scene["running"]
    browser.open(f"{dev_server.ui_url}#/workflow/{running}")
    browser.wait("return document.querySelector('#workflow-status')?.textContent === 'RUNNING'", "the running view")
    assert browser.js("return document.querySelector('#retry').disabled") is True
    browser.click("#terminate")
    browser.wait("return document.querySelector('#workflow-status')?.textContent === 'TERMINATED'",
                 "the terminated status on the page")
    assert dev_server.get_workflow(running)["reasonForIncompletion"] == "Terminated from the dev server page"
    assert browser.js("return document.querySelector('#task-list li:nth-child(2) .status').textContent") == "CANCELED"

    browser.click("#restart")
    browser.wait("return document.querySelector('#workflow-status')?.textContent === 'RUNNING' && "
                 "document.querySelectorAll('#task-list summary').length === 1", "the restarted workflow")
    assert dev_server.workflow_statuses([running]) == {running: "RUNNING"}

    # A failed workflow is retried from its failed task.
    browser.open(f"{dev_server.ui_url}#/workflow/{scene['failed']}")
    browser.wait("return document.querySelector('#workflow-status')?.textContent === 'FAILED'", "the failed view")
    browser.click("#retry")
    browser.wait("return document.querySelector('#workflow-status')?.textContent === 'RUNNING'", "the retried workflow")
    assert dev_server.workflow_statuses([scene["failed"]]) == {scene["failed"]: "RUNNING"}


def test_a_server_with_auth_asks_for_key_and_secret_once(browser: Browser) -> None:
    with DevServer(auth_key="dev-key", auth_secret="dev-secret") as server:
        server.register_workflow(APPROVAL)
        waiting = server.start_workflow("refund_approval", {"order_id": "A-300"})
        browser.open(server.ui_url)
        browser.wait("return document.querySelector('#login .error')?.textContent", "the token form")
        browser.type("#login-key", "dev-key")
        browser.type("#login-secret", "wrong")
        browser.click("#login button")
        browser.wait("return document.querySelector('#login .error').textContent.startsWith('401')",
                     "the refusal of a wrong secret")
        browser.type("#login-secret", "dev-secret")
        browser.click("#login button")
        assert browser.wait(f"const ids = ({_ROW_IDS}); return ids.length === 1 && ids",
                            "the list with the token") == [waiting]
        browser.js("sessionStorage.clear()")


def write_screenshots(folder: Path) -> None:
    """The screenshots of docs/devserver.md: the list and a workflow, desktop and narrow (made
    smaller with ``pngquant`` when it is installed)."""
    with tempfile.TemporaryDirectory() as profile, DevServer() as server:
        ids = build_scene(server, note="leave at the door")
        browser = _start_browser(profile)
        try:
            for width, height, suffix in ((1280, 860, "desktop"), (390, 1100, "narrow")):
                browser.resize(width, height)
                browser.open(server.ui_url)
                browser.wait(f"return ({_ROW_IDS}).length === 4", "the list")
                browser.screenshot(folder / f"devserver-ui-list-{suffix}.png")
                browser.open(f"{server.ui_url}#/workflow/{ids['completed']}")
                browser.wait("return document.querySelectorAll('#task-list summary').length === 4", "the tasks")
                browser.click("#task-list li:nth-child(3) summary")
                browser.wait("return document.querySelector('#task-list li:nth-child(3) .log-lines li:nth-child(2)')",
                             "the logs")
                browser.screenshot(folder / f"devserver-ui-workflow-{suffix}.png")
        finally:
            browser.close()
    squeeze = shutil.which("pngquant")  # 256 colours: a quarter of the size, same look for a page
    if squeeze is not None:
        for png in folder.glob("devserver-ui-*.png"):
            subprocess.run([squeeze, "--force", "--skip-if-larger", "--quality=70-95", "--strip",
                            "--output", str(png), "--", str(png)], check=False)


if __name__ == "__main__":
    write_screenshots(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
