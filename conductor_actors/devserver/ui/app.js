// The dev server's page: a list of workflows, one workflow with its tasks, and a form that starts
// one. It talks to the server's own API under api/ like any client. Everything shown is built with
// createElement and text nodes, never parsed as HTML: workflow inputs and outputs are user data.
"use strict";

(function () {
  const STATUSES = ["RUNNING", "PAUSED", "COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"];
  const TERMINAL = new Set(["COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"]);
  const REFRESH_MS = 2000;
  const PAGE_SIZE = 100;
  const TOKEN_KEY = "conductor-dev-server-token";

  // Which view is on screen: a refresh scheduled for an older view is dropped.
  let viewNumber = 0;
  let refreshTimer = null;
  // Tasks whose details are open in the workflow view, kept across refreshes.
  const openTasks = new Set();

  // -- building the page ---------------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") element.className = value;
      else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
      else element.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false || child === "") continue;
      element.append(child instanceof Node ? child : String(child));
    }
    return element;
  }

  function workflowLink(id, text) {
    return h("a", { href: "#/workflow/" + encodeURIComponent(id), class: "mono" }, text || id);
  }

  function statusBadge(status) {
    return h("span", { class: "status status-" + String(status).toLowerCase() }, status);
  }

  function json(value) {
    return h("pre", { class: "json" }, JSON.stringify(value === undefined ? null : value, null, 2));
  }

  function pad(number, width) {
    return String(number).padStart(width, "0");
  }

  function formatTime(millis) {
    if (!millis) return "\u2014";
    const t = new Date(typeof millis === "string" ? Date.parse(millis) : millis);
    if (isNaN(t.getTime())) return String(millis);
    return `${t.getFullYear()}-${pad(t.getMonth() + 1, 2)}-${pad(t.getDate(), 2)} ` +
      `${pad(t.getHours(), 2)}:${pad(t.getMinutes(), 2)}:${pad(t.getSeconds(), 2)}.${pad(t.getMilliseconds(), 3)}`;
  }

  function formatDuration(millis) {
    if (millis === null || millis === undefined || millis < 0) return "\u2014";
    if (millis < 1000) return `${millis} ms`;
    const seconds = millis / 1000;
    if (seconds < 60) return `${seconds.toFixed(1)} s`;
    const whole = Math.round(seconds);
    if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
    return `${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
  }

  function facts(pairs) {
    const list = h("dl", { class: "facts" });
    for (const [label, value] of pairs) {
      if (value === null || value === undefined || value === "") continue;
      list.append(h("div", {}, h("dt", {}, label), h("dd", {}, value)));
    }
    return list;
  }

  function showBanner(message) {
    const banner = document.getElementById("banner");
    banner.textContent = message || "";
    banner.hidden = !message;
  }

  // -- the API -------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json, text/plain" };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers["X-Authorization"] = token;
    const options = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch("api" + path, options);
    } catch (error) {
      throw new ApiError(0, "The dev server does not answer (stopped?): " + error.message);
    }
    const text = await response.text();
    if (!response.ok) {
      let message = text || response.statusText;
      try {
        const parsed = JSON.parse(text);
        if (parsed && typeof parsed.message === "string") message = parsed.message;
      } catch (ignored) { /* not JSON: keep the text */ }
      if (response.status === 401) askForCredentials(message);
      throw new ApiError(response.status, `${response.status}: ${message}`);
    }
    const type = response.headers.get("Content-Type") || "";
    return text && type.startsWith("application/json") ? JSON.parse(text) : text;
  }

  // A server started with auth answers 401 until the page has a token for key id and secret.
  function askForCredentials(message) {
    if (document.getElementById("login")) return;
    stopRefresh();
    const keyId = h("input", { id: "login-key", autocomplete: "username", required: true });
    const secret = h("input", { id: "login-secret", type: "password", autocomplete: "current-password",
      required: true });
    const error = h("p", { class: "error", role: "alert" }, message);
    const form = h("form", { id: "login", class: "panel", onsubmit: async (event) => {
      event.preventDefault();
      try {
        const answer = await api("POST", "/token", { keyId: keyId.value, keySecret: secret.value });
        sessionStorage.setItem(TOKEN_KEY, answer.token);
        form.remove();
        route();
      } catch (failure) {
        error.textContent = failure.message;
      }
    } },
    h("h2", {}, "This server asks for a token"),
    h("label", {}, "Key id", keyId), h("label", {}, "Key secret", secret),
    h("button", { type: "submit" }, "Get a token"), error);
    sessionStorage.removeItem(TOKEN_KEY);
    document.getElementById("main").replaceChildren(form);
  }

  // -- refreshing ----------------------------------------------------------------------------------
  function stopRefresh() {
    if (refreshTimer !== null) clearTimeout(refreshTimer);
    refreshTimer = null;
  }

  // Runs refresh() now and again REFRESH_MS after each run ends, while this view is on screen.
  function keepFresh(refresh) {
    const mine = viewNumber;
    const run = async () => {
      refreshTimer = null;
      if (mine !== viewNumber) return;
      try {
        await refresh();
        showBanner("");
      } catch (error) {
        if (error.status !== 401) showBanner(error.message);
        if (error.status === 401) return;
      }
      if (mine === viewNumber && document.getElementById("auto-refresh").checked) {
        refreshTimer = setTimeout(run, REFRESH_MS);
      }
    };
    run();
  }

  // Only the answer to a view's newest request is shown: an answer still on its way when a filter
  // changed or a button acted must not overwrite the later one. Resolves to null for an older one.
  function newestOnly() {
    let issued = 0;
    return async (request) => {
      const ticket = ++issued;
      const value = await request;
      return ticket === issued ? { value } : null;
    };
  }

  // -- the workflow list ---------------------------------------------------------------------------
  function listFilters() {
    const query = new URLSearchParams(location.hash.split("?")[1] || "");
    return { status: query.get("status") || "", name: query.get("name") || "" };
  }

  function searchQuery(filters) {
    const clauses = [];
    if (filters.status) clauses.push(`status IN (${filters.status})`);
    if (filters.name) clauses.push(`workflowType = "${filters.name}"`);
    return clauses.join(" AND ");
  }

  function renderList(main) {
    const filters = listFilters();
    const statusSelect = h("select", { id: "filter-status", name: "status" },
      h("option", { value: "" }, "any status"),
      STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s)));
    const nameInput = h("input", { id: "filter-name", name: "name", type: "search", list: "workflow-names",
      placeholder: "workflow name", value: filters.name, autocomplete: "off" });
    const names = h("datalist", { id: "workflow-names" });
    const summary = h("p", { class: "meta", id: "list-meta" }, "Loading\u2026");
    const rows = h("tbody", { id: "workflow-rows" });
    const table = h("table", { class: "workflows" },
      h("thead", {}, h("tr", {}, ["Name", "Status", "Started", "Duration", "Workflow id", "Correlation id"]
        .map((title) => h("th", { scope: "col" }, title)))),
      rows);

    const newest = newestOnly();
    const startForm = renderStartForm(names);
    const refresh = async () => {
      const params = new URLSearchParams({ start: "0", size: String(PAGE_SIZE) });
      const query = searchQuery(listFilters());
      if (query) params.set("query", query);
      const [answer] = await Promise.all([newest(api("GET", "/workflow/search?" + params.toString())),
        startForm.reload()]);
      if (answer === null) return;
      const page = answer.value;
      rows.replaceChildren(...page.results.map(workflowRow));
      if (!page.results.length) {
        rows.append(h("tr", { class: "empty" }, h("td", { colspan: 6 }, "No workflows match.")));
      }
      const shown = page.results.length < page.totalHits
        ? `Newest ${page.results.length} of ${page.totalHits} workflows` : `${page.totalHits} workflows`;
      const auto = document.getElementById("auto-refresh").checked;
      summary.textContent = `${shown}, newest first${auto ? ` \u00b7 refreshed every ${REFRESH_MS / 1000} s` : ""}`;
    };

    const applyFilters = () => {
      const query = new URLSearchParams();
      if (statusSelect.value) query.set("status", statusSelect.value);
      if (nameInput.value.trim()) query.set("name", nameInput.value.trim());
      const text = query.toString();
      // replaceState: the filters change without building the view again (the inputs keep focus).
      history.replaceState(null, "", "#/" + (text ? "?" + text : ""));
      stopRefresh();
      viewNumber += 1;
      keepFresh(refresh);
    };
    statusSelect.addEventListener("change", applyFilters);
    nameInput.addEventListener("change", applyFilters);

    main.replaceChildren(
      h("section", { class: "panel", id: "workflow-list" },
        h("h2", {}, "Workflows"),
        h("form", { class: "filters", onsubmit: (event) => { event.preventDefault(); applyFilters(); } },
          h("label", {}, "Status ", statusSelect), h("label", {}, "Name ", nameInput), names,
          h("button", { type: "submit" }, "Filter")),
        summary, h("div", { class: "scroll" }, table)),
      startForm.panel);
    keepFresh(refresh);
  }

  function workflowRow(summary) {
    const cell = (label, ...content) => h("td", { "data-label": label }, ...content);
    return h("tr", { "data-workflow-id": summary.workflowId },
      cell("Name", h("strong", {}, summary.workflowType), h("span", { class: "version" }, ` v${summary.version}`)),
      cell("Status", statusBadge(summary.status)),
      cell("Started", formatTime(summary.startTime)),
      cell("Duration", summary.endTime ? formatDuration(summary.executionTime) : "running"),
      cell("Workflow id", workflowLink(summary.workflowId)),
      cell("Correlation id", summary.correlationId || ""));
  }

  // -- starting a workflow -------------------------------------------------------------------------
  // The form, and reload() that lists the definitions again when they changed (keeping the choice).
  function renderStartForm(names) {
    const definition = h("select", { id: "start-definition" });
    const correlation = h("input", { id: "start-correlation", placeholder: "optional", autocomplete: "off" });
    const input = h("textarea", { id: "start-input", rows: 6, spellcheck: "false" }, "{}");
    const error = h("p", { class: "error", id: "start-error", role: "alert", hidden: true });
    const fail = (message) => { error.textContent = message; error.hidden = false; };

    let listed = null;
    const reload = async () => {
      const definitions = await api("GET", "/metadata/workflow");
      definitions.sort((a, b) => a.name.localeCompare(b.name) || b.version - a.version);
      const values = definitions.map((d) => JSON.stringify([d.name, d.version]));
      if (JSON.stringify(values) === listed) return;
      listed = JSON.stringify(values);
      const chosen = definition.value;
      definition.replaceChildren(...definitions.map((d, i) => h("option", { value: values[i] },
        `${d.name} v${d.version}`)));
      if (values.includes(chosen)) definition.value = chosen;
      names.replaceChildren(...[...new Set(definitions.map((d) => d.name))].map((n) => h("option", { value: n })));
      if (!definitions.length) {
        definition.append(h("option", { value: "" }, "no workflow definitions registered"));
      }
    };

    const form = h("form", { id: "start-form", onsubmit: async (event) => {
      event.preventDefault();
      error.hidden = true;
      if (!definition.value) return fail("Register a workflow definition first (POST /api/metadata/workflow).");
      let parsed;
      try {
        parsed = JSON.parse(input.value.trim() || "{}");
      } catch (failure) {
        return fail("The input is not valid JSON: " + failure.message);
      }
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        return fail("The input must be a JSON object, like {\"key\": \"value\"}.");
      }
      const [name, version] = JSON.parse(definition.value);
      const request = { name, version, input: parsed };
      if (correlation.value.trim()) request.correlationId = correlation.value.trim();
      try {
        const id = await api("POST", "/workflow", request);
        location.hash = "#/workflow/" + encodeURIComponent(id);
      } catch (failure) {
        fail("The server refused to start it: " + failure.message);
      }
    } },
    h("label", {}, "Definition", definition),
    h("label", {}, "Correlation id", correlation),
    h("label", { class: "wide" }, "Input (a JSON object)", input),
    h("div", { class: "wide" }, h("button", { type: "submit", id: "start-button" }, "Start workflow"), error));
    return { panel: h("section", { class: "panel", id: "start-panel" }, h("h2", {}, "Start a workflow"), form),
      reload };
  }

  // -- one workflow --------------------------------------------------------------------------------
  function renderWorkflow(main, id) {
    const head = h("div", { id: "workflow-head" }, "Loading\u2026");
    const tasks = h("ol", { class: "tasks", id: "task-list" });
    const taskCount = h("span", { class: "meta" });
    const message = h("p", { class: "meta", id: "action-message", role: "status" });
    let shown = null;

    const act = async (what, method, path) => {
      message.textContent = `${what}\u2026`;
      try {
        await api(method, path);
        message.textContent = `${what}: done.`;
      } catch (failure) {
        message.textContent = `${what} refused: ${failure.message}`;
      }
      shown = null;
      await refresh().catch((failure) => showBanner(failure.message));
    };
    const path = "/workflow/" + encodeURIComponent(id);
    const buttons = {
      terminate: h("button", { id: "terminate", class: "danger", onclick: () =>
        act("Terminate", "DELETE", path + "?reason=" + encodeURIComponent("Terminated from the dev server page")) },
      "Terminate"),
      retry: h("button", { id: "retry", onclick: () => act("Retry", "POST", path + "/retry") }, "Retry"),
      restart: h("button", { id: "restart", onclick: () => act("Restart", "POST", path + "/restart") }, "Restart"),
    };

    const newest = newestOnly();
    const refresh = async () => {
      const answer = await newest(api("GET", path + "?includeTasks=true"));
      if (answer === null) return;
      const workflow = answer.value;
      const text = JSON.stringify(workflow);
      if (text !== shown) {
        shown = text;
        const ended = TERMINAL.has(workflow.status);
        buttons.terminate.disabled = ended;
        buttons.retry.disabled = !ended || workflow.status === "COMPLETED";
        buttons.restart.disabled = !ended;
        head.replaceChildren(...workflowHead(workflow));
        taskCount.textContent = ` (${workflow.tasks.length})`;
        tasks.replaceChildren(...workflow.tasks.map(taskItem));
        if (!workflow.tasks.length) tasks.append(h("li", { class: "empty" }, "No tasks scheduled."));
      }
      await Promise.all([...tasks.querySelectorAll("details[open]")].map(loadLogs));
    };

    main.replaceChildren(
      h("nav", { class: "crumbs" }, h("a", { href: "#/", id: "back" }, "\u2190 All workflows")),
      h("section", { class: "panel", id: "workflow-view", "data-workflow-id": id }, head,
        h("div", { class: "actions" }, buttons.terminate, buttons.retry, buttons.restart, message)),
      h("section", { class: "panel" }, h("h2", {}, "Tasks", taskCount), tasks));
    keepFresh(refresh);
  }

  function workflowHead(workflow) {
    const ended = TERMINAL.has(workflow.status);
    const io = [h("div", {}, h("h3", {}, "Input"), json(workflow.input)),
      h("div", {}, h("h3", {}, "Output"), json(workflow.output))];
    if (workflow.variables && Object.keys(workflow.variables).length) {
      io.push(h("div", {}, h("h3", {}, "Variables"), json(workflow.variables)));
    }
    return [
      h("div", { class: "title" },
        h("h2", {}, workflow.workflowName, h("span", { class: "version" }, ` v${workflow.workflowVersion}`)),
        h("span", { id: "workflow-status" }, statusBadge(workflow.status))),
      facts([
        ["Workflow id", h("span", { class: "mono" }, workflow.workflowId)],
        ["Correlation id", workflow.correlationId],
        ["Parent workflow", workflow.parentWorkflowId ? workflowLink(workflow.parentWorkflowId) : null],
        ["Started", formatTime(workflow.startTime)],
        ["Ended", ended ? formatTime(workflow.endTime) : "running"],
        ["Duration", ended ? formatDuration(workflow.endTime - workflow.startTime) : null],
        ["Last retried", workflow.lastRetriedTime ? formatTime(workflow.lastRetriedTime) : null],
        ["Reason", workflow.reasonForIncompletion],
      ]),
      h("div", { class: "io" }, io),
    ];
  }

  function taskItem(task) {
    const ran = task.startTime && task.endTime ? task.endTime - task.startTime : null;
    const details = h("details", { "data-task-id": task.taskId, open: openTasks.has(task.taskId) },
      h("summary", {},
        h("span", { class: "seq" }, `${task.seq}.`),
        h("span", { class: "ref" }, task.referenceTaskName),
        h("span", { class: "type" }, task.taskType),
        statusBadge(task.status),
        h("span", { class: "worker" }, task.workerId ? `worker ${task.workerId}` : ""),
        h("span", { class: "retries" }, task.retryCount ? `retry ${task.retryCount}` : ""),
        h("span", { class: "took" }, ran === null ? "" : formatDuration(ran))),
      h("div", { class: "task-body" },
        facts([
          ["Task id", h("span", { class: "mono" }, task.taskId)],
          ["Task type", task.taskType],
          ["Worker id", task.workerId || "\u2014"],
          ["Retries", String(task.retryCount)],
          ["Polls", String(task.pollCount)],
          ["Scheduled", formatTime(task.scheduledTime)],
          ["Started", formatTime(task.startTime)],
          ["Ended", formatTime(task.endTime)],
          ["Queue wait", task.startTime ? formatDuration(task.startTime - task.scheduledTime) : null],
          ["Ran for", ran === null ? null : formatDuration(ran)],
          ["Callback after", task.callbackAfterSeconds ? `${task.callbackAfterSeconds} s` : null],
          ["Reason", task.reasonForIncompletion],
          ["Sub-workflow", task.subWorkflowId ? workflowLink(task.subWorkflowId) : null],
          ["Retried task", task.retriedTaskId ? h("span", { class: "mono" }, task.retriedTaskId) : null],
        ]),
        h("div", { class: "io" },
          h("div", { class: "task-input" }, h("h3", {}, "Input"), json(task.inputData)),
          h("div", { class: "task-output" }, h("h3", {}, "Output"), json(task.outputData))),
        h("div", { class: "logs" }, h("h3", {}, "Logs"), h("ol", { class: "log-lines" }))));
    details.addEventListener("toggle", () => {
      if (details.open) {
        openTasks.add(task.taskId);
        loadLogs(details).catch((failure) => showBanner(failure.message));
      } else {
        openTasks.delete(task.taskId);
      }
    });
    return h("li", {}, details);
  }

  async function loadLogs(details) {
    const lines = details.querySelector(".log-lines");
    const logs = await api("GET", "/tasks/" + encodeURIComponent(details.dataset.taskId) + "/log");
    lines.replaceChildren(...(logs || []).map((entry) => h("li", {},
      h("time", {}, formatTime(entry.createdTime)), " ", entry.log)));
    if (!lines.children.length) lines.append(h("li", { class: "empty" }, "No log lines."));
  }

  // -- routing -------------------------------------------------------------------------------------
  function route() {
    stopRefresh();
    viewNumber += 1;
    showBanner("");
    const main = document.getElementById("main");
    const path = location.hash.replace(/^#/, "").split("?")[0];
    const match = /^\/workflow\/(.+)$/.exec(path);
    let workflowId = null;
    try {
      workflowId = match ? decodeURIComponent(match[1]) : null;
    } catch (malformed) {
      showBanner("That address does not name a workflow: " + path);
    }
    if (workflowId !== null) {
      renderWorkflow(main, workflowId);
    } else {
      openTasks.clear();
      renderList(main);
    }
  }

  window.addEventListener("hashchange", route);
  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("auto-refresh").addEventListener("change", (event) => {
      if (event.target.checked) route();
      else stopRefresh();
    });
    route();
  });
})();
