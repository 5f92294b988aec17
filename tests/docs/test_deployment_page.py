"""``docs/deployment.md``: the systemd unit, the environment file and the Kubernetes manifests it
shows are well-formed, agree with each other and with the code's numbers, and their commands
start the example app (with ``--list``, which checks everything a real start reads).

The shutdown budget is computed from ``SupervisionSettings`` read from the page's own
environment, so changing a default in code or a value on the page re-checks every timeout.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
from _support.docs_tools import block_content, page_text, prepare_workdir, run_argv, titled_block, worker_processes
from docs._manifests import ManifestError, parse_env_file, parse_unit, parse_yaml, size_mib

from conductor_actors import RuntimeSettings, SupervisionSettings
from conductor_actors.cli import EXIT_BOOT_FAILURE, EXIT_USAGE, build_parser
from conductor_actors.settings import settings_from_env

PAGE = "deployment.md"
TEXT = page_text(PAGE)
UNIT = "/etc/systemd/system/my-app-workers.service"
ENV_FILE = "/etc/conductor-actors/my-app-workers.env"
MANIFEST = "my-app-workers.yaml"
POD_MONITOR = "my-app-workers-podmonitor.yaml"
STATEFUL_SET = "my-app-workers-statefulset.yaml"
#: What the page reserves for the parent and its helper process in a memory limit.
PARENT_MEMORY_MIB = 100.0

KNOWN_DIRECTIVES = {
    "Unit": {"Description", "Documentation", "Wants", "Requires", "After"},
    "Service": {
        "Type", "User", "Group", "WorkingDirectory", "EnvironmentFile", "Environment", "StateDirectory",
        "StateDirectoryMode", "ExecStart", "KillMode", "KillSignal", "TimeoutStopSec", "Restart", "RestartSec",
        "RestartPreventExitStatus", "SuccessExitStatus", "MemoryMax",
    },
    "Install": {"WantedBy"},
}
REPEATABLE = {"Environment", "Wants", "After", "Requires"}


def titled(title: str) -> str:
    return block_content(titled_block(TEXT, title))


def budget(env: dict[str, str]) -> float:
    """Longest graceful stop of a tree configured by ``env``, parent included."""
    s = settings_from_env(SupervisionSettings, env)
    return s.shutdown_deadlines().total


def cli_options(argv: list[str]) -> Any:
    """The parsed options of ``python -m conductor_actors ...`` given as an argv."""
    assert Path(argv[0]).name == "python" and argv[1:3] == ["-m", "conductor_actors"], argv
    return build_parser().parse_args(argv[3:])


def test_the_page_states_the_default_worst_case() -> None:
    worst = SupervisionSettings().shutdown_deadlines().total
    assert worst < 30.0, "the default stop must fit the 30 s that Kubernetes gives by default"
    assert f"That is {worst:g} s with the defaults" in " ".join(TEXT.split())


# ---------------------------------------------------------------------------------------------- systemd


def unit() -> dict[str, list[tuple[str, str]]]:
    return parse_unit(titled(UNIT))


def directive(name: str, section: str = "Service") -> str:
    values = [v for k, v in unit()[section] if k == name]
    assert len(values) == 1, f"{UNIT}: expected one {name}=, found {values}"
    return values[0]


def unit_environment() -> dict[str, str]:
    pairs = [v.split("=", 1) for k, v in unit()["Service"] if k == "Environment"]
    return {name: value for name, value in pairs}


def test_unit_uses_known_directives_once_each() -> None:
    sections = unit()
    assert set(sections) == set(KNOWN_DIRECTIVES)
    for section, pairs in sections.items():
        keys = [k for k, _ in pairs]
        assert set(keys) <= KNOWN_DIRECTIVES[section], f"[{section}] unknown: {set(keys) - KNOWN_DIRECTIVES[section]}"
        repeated = {k for k in keys if keys.count(k) > 1} - REPEATABLE
        assert not repeated, f"[{section}] sets {repeated} more than once"


def test_unit_stops_with_sigterm_within_the_budget() -> None:
    env = parse_env_file(titled(ENV_FILE))
    assert directive("KillSignal") == "SIGTERM"
    assert directive("KillMode") == "mixed", "SIGTERM must reach the parent only"
    assert float(directive("TimeoutStopSec")) >= budget(env)


def test_unit_restarts_only_what_a_restart_can_fix() -> None:
    assert directive("Restart") == "on-failure"
    assert {int(c) for c in directive("RestartPreventExitStatus").split()} == {EXIT_USAGE, EXIT_BOOT_FAILURE}
    assert {int(c) for c in directive("SuccessExitStatus").split()} == {130, 143}
    assert float(directive("RestartSec")) > 0
    assert directive("WantedBy", "Install")


def test_unit_keeps_the_outbox_in_its_state_directory_and_secrets_in_the_file() -> None:
    assert unit_environment()["CONDUCTOR_ACTORS_STATE_DIR"] == "/var/lib/" + directive("StateDirectory")
    assert directive("EnvironmentFile") == ENV_FILE
    secrets = {"CONDUCTOR_AUTH_KEY", "CONDUCTOR_AUTH_SECRET"}
    assert secrets <= set(parse_env_file(titled(ENV_FILE)))
    assert not secrets & set(unit_environment()), "credentials belong in the environment file"


def test_unit_command_serves_metrics_for_the_example_app() -> None:
    options = cli_options(shlex.split(directive("ExecStart")))
    assert options.metrics_port is not None and options.dev_server is None
    assert options.modules == ["my_app.workers"]


def test_unit_memory_cap_leaves_room_for_recycling(tmp_path: Path) -> None:
    prepare_workdir(tmp_path, PAGE)
    env = parse_env_file(titled(ENV_FILE))
    processes = sum(worker_processes(tmp_path, env).values())
    max_rss = settings_from_env(RuntimeSettings, env).max_rss_mb
    assert max_rss > 0, "the page's example recycles worker processes"
    assert size_mib(directive("MemoryMax")) >= PARENT_MEMORY_MIB + (processes + 1) * max_rss


def test_unit_command_accepts_its_environment(tmp_path: Path) -> None:
    """ExecStart, with this interpreter and ``--list``, under the unit's environment: exit 0."""
    prepare_workdir(tmp_path, PAGE)
    env = {**parse_env_file(titled(ENV_FILE)), **unit_environment()}
    env.pop("CONDUCTOR_ACTORS_STATE_DIR")  # stays in the test's directory
    argv = shlex.split(directive("ExecStart"))
    done = run_argv([sys.executable, *argv[1:], "--list"], tmp_path, env)
    assert done.returncode == 0, done.stdout
    assert "name=process_order" in done.stdout and "name=send-email" in done.stdout


# ------------------------------------------------------------------------------------------- Kubernetes


def documents(title: str) -> list[dict[str, Any]]:
    parsed = parse_yaml(titled(title))
    for document in parsed:
        assert isinstance(document, dict) and document.get("apiVersion") and document.get("kind"), document
        assert document["metadata"]["name"], "every object has a name"
    return parsed


def of_kind(kind: str, title: str = MANIFEST) -> dict[str, Any]:
    found = [d for d in documents(title) if d["kind"] == kind]
    assert len(found) == 1, f"{title}: expected one {kind}"
    return found[0]


def container() -> dict[str, Any]:
    containers = of_kind("Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def container_env() -> dict[str, str]:
    """The container's variables, secrets resolved from the manifest's Secret."""
    secret = of_kind("Secret")
    env = {}
    for item in container()["env"]:
        if "value" in item:
            assert isinstance(item["value"], str), f"{item['name']}: env values must be strings (quote numbers)"
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secret["metadata"]["name"], f"{item['name']}: unknown secret"
            env[item["name"]] = secret["stringData"][ref["key"]]
    return env


def metrics_port() -> int:
    port = cli_options(container()["command"]).metrics_port
    assert port is not None, "the container must serve /metrics and /health"
    return int(port)


def test_manifests_parse_as_strict_yaml() -> None:
    assert [d["kind"] for d in documents(MANIFEST)] == ["Secret", "Deployment"]
    assert [d["kind"] for d in documents(POD_MONITOR)] == ["PodMonitor"]
    assert [d["kind"] for d in documents(STATEFUL_SET)] == ["StatefulSet"]


def test_deployment_selects_its_own_pods() -> None:
    spec = of_kind("Deployment")["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_termination_grace_covers_the_shutdown_budget() -> None:
    pod = of_kind("Deployment")["spec"]["template"]["spec"]
    assert isinstance(pod["terminationGracePeriodSeconds"], int)
    assert pod["terminationGracePeriodSeconds"] >= budget(container_env())
    assert "sh" not in Path(container()["command"][0]).name, "python itself must be the main process"


def test_probes_and_scraping_use_the_metrics_port() -> None:
    port = metrics_port()
    ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    assert ports == {"metrics": port}
    annotations = of_kind("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": str(port),
                           "prometheus.io/path": "/metrics"}
    for probe, path in (("startupProbe", "/health"), ("readinessProbe", "/ready"), ("livenessProbe", "/health")):
        get = container()[probe]["httpGet"]
        assert get["path"] == path and ports.get(get["port"], get["port"]) == port, probe


def test_probe_timings_fit_the_supervisor() -> None:
    """Startup waits as long as a worker may take to boot; liveness outlasts a restart (the longest
    backoff, jitter included, plus boot), which the supervisor handles while /health answers 503."""
    supervision = settings_from_env(SupervisionSettings, container_env())

    def window(probe: str) -> float:
        p = container()[probe]
        return float(p["periodSeconds"] * p["failureThreshold"])

    assert window("startupProbe") >= supervision.boot_timeout
    longest_backoff = supervision.restart_backoff_cap * (1 + supervision.restart_jitter)
    assert window("livenessProbe") > longest_backoff + supervision.boot_timeout
    assert window("readinessProbe") < window("livenessProbe")


def test_outbox_state_directory_is_a_volume() -> None:
    state_dir = container_env()["CONDUCTOR_ACTORS_STATE_DIR"]
    mounts = {m["mountPath"]: m["name"] for m in container()["volumeMounts"]}
    assert state_dir in mounts, "the outbox must be on a volume"
    volumes = {v["name"]: v for v in of_kind("Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes[mounts[state_dir]]
    claims = of_kind("StatefulSet", STATEFUL_SET)["spec"]["volumeClaimTemplates"]
    assert [c["metadata"]["name"] for c in claims] == [mounts[state_dir]]
    assert claims[0]["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_pod_monitor_scrapes_the_deployment() -> None:
    monitor = of_kind("PodMonitor", POD_MONITOR)["spec"]
    labels = of_kind("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert monitor["selector"]["matchLabels"].items() <= labels.items()
    assert [(e["port"], e["path"]) for e in monitor["podMetricsEndpoints"]] == [("metrics", "/metrics")]


def test_memory_limit_leaves_room_for_recycling(tmp_path: Path) -> None:
    prepare_workdir(tmp_path, PAGE)
    env = container_env()
    processes = sum(worker_processes(tmp_path, env).values())
    resources = container()["resources"]
    max_rss = settings_from_env(RuntimeSettings, env).max_rss_mb
    assert max_rss > 0
    assert size_mib(resources["limits"]["memory"]) >= PARENT_MEMORY_MIB + (processes + 1) * max_rss
    assert size_mib(resources["requests"]["memory"]) <= size_mib(resources["limits"]["memory"])
    assert resources["requests"]["cpu"]


def test_the_page_counts_the_example_processes(tmp_path: Path) -> None:
    prepare_workdir(tmp_path, PAGE)
    processes = worker_processes(tmp_path, container_env())
    assert processes == {"process_order": 2, "send-email": 1}
    assert "The example runs three worker processes" in " ".join(TEXT.split())


def test_container_command_accepts_its_environment(tmp_path: Path) -> None:
    prepare_workdir(tmp_path, PAGE)
    env = container_env()
    env.pop("CONDUCTOR_ACTORS_STATE_DIR")
    done = run_argv([sys.executable, *container()["command"][1:], "--list"], tmp_path, env)
    assert done.returncode == 0, done.stdout


# ----------------------------------------------------------------------------------- the parsers themselves


@pytest.mark.parametrize("text", [
    "a:\n\tb: 1\n",
    "a: 1\na: 2\n",
    "a:\n  - b\n   - c\n",
    "a: &anchor 1\n",
    "a: |\n  text\n",
    "a: [1, 2]\n",
    "a: b: c\n",
    "a:\n  b: 1\n c: 2\n",
])
def test_yaml_parser_rejects_what_it_does_not_understand(text: str) -> None:
    with pytest.raises(ManifestError):
        parse_yaml(text)


def test_yaml_parser_reads_the_subset() -> None:
    text = "# c\na: 1\nb: \"2\"\nc:\n  - x\n  - k: v\n    n: 3\n  - - nested\nd: {}\n---\ne: true # note\n"
    assert parse_yaml(text) == [{"a": 1, "b": "2", "c": ["x", {"k": "v", "n": 3}, ["nested"]], "d": {}},
                                {"e": True}]


def test_unit_and_env_parsers_reject_malformed_lines() -> None:
    with pytest.raises(ManifestError):
        parse_unit("Key=value\n")
    with pytest.raises(ManifestError):
        parse_unit("[Service]\nnot a directive\n")
    with pytest.raises(ManifestError):
        parse_env_file('NAME="quoted"\n')
    with pytest.raises(ManifestError):
        parse_env_file("A=1\nA=2\n")
    assert size_mib("2Gi") == 2048 and size_mib("512Mi") == 512 and size_mib("2G") == 2048
