"""Worker configuration: environment forms, precedence, aliases, validation, summaries."""

from __future__ import annotations

import dataclasses
import os
import pickle
import socket

import pytest

from conductor_actors.worker import (
    Worker,
    WorkerConfig,
    WorkerConfigError,
    WorkerInterface,
    default_worker_id,
    get_worker_config_oneline,
    get_worker_config_summary,
    resolve_worker_config,
    worker_task,
)
from conductor_actors.worker._config import PROPERTIES, PROPERTY_NAMES


def charge(amount: float) -> dict:
    return {}


def charge_worker(**code: object) -> Worker:
    return Worker("charge", charge, **code)  # type: ignore[arg-type]


def test_defaults_and_sources():
    config = resolve_worker_config(charge_worker(), env={})
    assert config == WorkerConfig("charge")
    assert (config.poll_interval_millis, config.thread_count, config.poll_timeout) == (100.0, 1, 100)
    assert (config.domain, config.worker_id, config.paused, config.processes) == (None, None, False, 1)
    assert config.overwrite_task_def is True and config.register_schema is False
    assert set(config.sources.values()) == {"default"}


def test_the_declared_defaults_mirror_the_property_table():
    """``WorkerConfig`` fields and ``WorkerInterface`` class attributes repeat ``PROPERTIES`` (for
    typing): same names, same order in the config, same defaults."""
    fields = {f.name: f.default for f in dataclasses.fields(WorkerConfig)}
    assert list(fields)[1:-1] == list(PROPERTY_NAMES)  # between task_definition_name and sources
    assert {name: fields[name] for name in PROPERTY_NAMES} == {n: p.default for n, p in PROPERTIES.items()}
    # worker_id is a property (the host name when unset, as in the official SDK) over _worker_id
    declared = {n: getattr(WorkerInterface, "_worker_id" if n == "worker_id" else n) for n in PROPERTY_NAMES}
    assert declared == {n: p.default for n, p in PROPERTIES.items()}


def test_code_values_are_used_and_marked_code():
    config = resolve_worker_config(charge_worker(thread_count=7, domain="eu", poll_interval=250), env={})
    assert (config.thread_count, config.domain, config.poll_interval_millis) == (7, "eu", 250.0)
    assert config.sources["thread_count"] == "code"
    assert config.sources["domain"] == "code"
    assert config.sources["poll_timeout"] == "default"


@pytest.mark.parametrize(
    "variable",
    [
        "conductor.worker.charge.thread_count",
        "conductor_worker_charge_thread_count",
        "CONDUCTOR_WORKER_CHARGE_THREAD_COUNT",
        "CONDUCTOR_WORKER_charge_THREAD_COUNT",
        "conductor.worker.all.thread_count",
        "CONDUCTOR_WORKER_ALL_THREAD_COUNT",
    ],
)
def test_every_env_form_is_read(variable):
    config = resolve_worker_config(charge_worker(thread_count=2), env={variable: "9"})
    assert config.thread_count == 9
    assert config.sources["thread_count"] == variable


def test_name_with_other_characters_is_sanitised_in_upper_case_form():
    worker = Worker("billing.charge-v2", charge)
    env = {"CONDUCTOR_WORKER_BILLING_CHARGE_V2_DOMAIN": "blue"}
    assert resolve_worker_config(worker, env=env).domain == "blue"
    env = {"CONDUCTOR_WORKER_BILLING.CHARGE-V2_DOMAIN": "green"}  # upper-cased as written
    assert resolve_worker_config(worker, env=env).domain == "green"


def test_precedence_order_of_the_forms():
    forms = [
        "conductor.worker.charge.thread_count",
        "conductor_worker_charge_thread_count",
        "CONDUCTOR_WORKER_CHARGE_THREAD_COUNT",
        "conductor.worker.all.thread_count",
        "CONDUCTOR_WORKER_ALL_THREAD_COUNT",
    ]
    env = {name: str(10 + i) for i, name in enumerate(forms)}
    worker = charge_worker(thread_count=2)
    for i, name in enumerate(forms):
        config = resolve_worker_config(worker, env=env)
        assert (config.thread_count, config.sources["thread_count"]) == (10 + i, name)
        del env[name]
    assert resolve_worker_config(worker, env=env).thread_count == 2


def test_worker_specific_beats_global_and_global_beats_code():
    worker = charge_worker(domain="code-domain", thread_count=3)
    env = {
        "conductor.worker.all.domain": "production",
        "conductor.worker.all.thread_count": "20",
        "conductor.worker.charge.thread_count": "50",
    }
    config = resolve_worker_config(worker, env=env)
    assert (config.domain, config.thread_count) == ("production", 50)


def test_other_workers_variables_do_not_apply():
    config = resolve_worker_config(charge_worker(), env={"CONDUCTOR_WORKER_REFUND_THREAD_COUNT": "4"})
    assert config.thread_count == 1


@pytest.mark.parametrize("spelling", ["poll_interval_millis", "poll_interval", "polling_interval"])
@pytest.mark.parametrize(
    "template",
    [
        "conductor.worker.charge.{p}",
        "conductor_worker_charge_{p}",
        "CONDUCTOR_WORKER_CHARGE_{P}",
        "CONDUCTOR_WORKER_ALL_{P}",
        "conductor.worker.all.{p}",
    ],
)
def test_poll_interval_aliases_in_every_form(spelling, template):
    variable = template.format(p=spelling, P=spelling.upper())
    config = resolve_worker_config(charge_worker(), env={variable: "1500"})
    assert config.poll_interval_millis == 1500.0
    assert config.poll_interval_seconds == 1.5
    assert config.sources["poll_interval_millis"] == variable


def test_worker_specific_alias_beats_global_canonical_name():
    env = {"conductor.worker.all.poll_interval_millis": "300", "CONDUCTOR_WORKER_CHARGE_POLLING_INTERVAL": "700"}
    assert resolve_worker_config(charge_worker(), env=env).poll_interval_millis == 700.0


def test_register_schemas_global_default():
    worker = charge_worker()
    assert resolve_worker_config(worker, env={"CONDUCTOR_REGISTER_SCHEMAS": "true"}).register_schema is True
    env = {"CONDUCTOR_REGISTER_SCHEMAS": "true", "CONDUCTOR_WORKER_ALL_REGISTER_SCHEMA": "false"}
    config = resolve_worker_config(worker, env=env)
    assert config.register_schema is False
    assert config.sources["register_schema"] == "CONDUCTOR_WORKER_ALL_REGISTER_SCHEMA"


@pytest.mark.parametrize(
    "raw, expected",
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("On", True), ("false", False), ("0", False),
     ("No", False), ("OFF", False), (" true ", True)],
)
def test_boolean_spellings(raw, expected):
    assert resolve_worker_config(charge_worker(), env={"CONDUCTOR_WORKER_ALL_PAUSED": raw}).paused is expected


@pytest.mark.parametrize(
    "prop, raw, rule",
    [
        ("THREAD_COUNT", "ten", "thread_count must be an integer >= 1"),
        ("THREAD_COUNT", "0", "thread_count must be an integer >= 1"),
        ("THREAD_COUNT", "2.5", "thread_count must be an integer >= 1"),
        ("PROCESSES", "-1", "processes must be an integer >= 1"),
        ("POLL_TIMEOUT", "5001", "poll_timeout must be an integer number of milliseconds from 0 to 5000"),
        ("POLL_TIMEOUT", "-1", "poll_timeout must be an integer number of milliseconds from 0 to 5000"),
        ("POLL_INTERVAL", "0", "poll_interval_millis must be a number of milliseconds > 0"),
        ("POLL_INTERVAL", "fast", "poll_interval_millis must be a number of milliseconds > 0"),
        ("POLL_INTERVAL", "nan", "poll_interval_millis must be a number of milliseconds > 0"),
        ("PAUSED", "maybe", "paused must be a boolean (true/false, 1/0, yes/no, on/off)"),
        ("LEASE_EXTEND_ENABLED", "", "lease_extend_enabled must be a boolean"),
        ("REGISTER_TASK_DEF", "2", "register_task_def must be a boolean"),
        ("OVERWRITE_TASK_DEF", "y", "overwrite_task_def must be a boolean"),
        ("STRICT_SCHEMA", "strict", "strict_schema must be a boolean"),
        ("REGISTER_SCHEMA", "si", "register_schema must be a boolean"),
    ],
)
def test_bad_env_values_name_the_variable_and_value(prop, raw, rule):
    variable = f"CONDUCTOR_WORKER_CHARGE_{prop}"
    with pytest.raises(WorkerConfigError) as info:
        resolve_worker_config(charge_worker(), env={variable: raw})
    assert str(info.value).startswith(f"{variable}={raw!r}: {rule}")
    assert isinstance(info.value, ValueError)


def test_the_documented_message():
    with pytest.raises(WorkerConfigError) as info:
        resolve_worker_config(charge_worker(), env={"CONDUCTOR_WORKER_CHARGE_THREAD_COUNT": "ten"})
    assert str(info.value) == "CONDUCTOR_WORKER_CHARGE_THREAD_COUNT='ten': thread_count must be an integer >= 1"


def test_a_bad_global_value_fails_even_when_code_sets_the_property():
    with pytest.raises(WorkerConfigError, match=r"conductor\.worker\.all\.poll_timeout='soon'"):
        resolve_worker_config(charge_worker(poll_timeout=200), env={"conductor.worker.all.poll_timeout": "soon"})


@pytest.mark.parametrize(
    "winner, loser, raw, rule",
    [
        (("CONDUCTOR_WORKER_CHARGE_THREAD_COUNT", "4"), "CONDUCTOR_WORKER_ALL_THREAD_COUNT", "ten",
         "thread_count must be an integer >= 1"),
        (("conductor.worker.charge.thread_count", "4"), "CONDUCTOR_WORKER_CHARGE_THREAD_COUNT", "0",
         "thread_count must be an integer >= 1"),
        (("conductor.worker.all.paused", "true"), "CONDUCTOR_WORKER_ALL_PAUSED", "maybe",
         "paused must be a boolean (true/false, 1/0, yes/no, on/off)"),
        (("CONDUCTOR_WORKER_CHARGE_POLL_INTERVAL", "250"), "conductor.worker.all.polling_interval", "fast",
         "poll_interval_millis must be a number of milliseconds > 0"),
        (("CONDUCTOR_WORKER_CHARGE_POLL_INTERVAL_MILLIS", "250"), "CONDUCTOR_WORKER_CHARGE_POLLING_INTERVAL", "-5",
         "poll_interval_millis must be a number of milliseconds > 0"),
        (("CONDUCTOR_WORKER_ALL_REGISTER_SCHEMA", "true"), "CONDUCTOR_REGISTER_SCHEMAS", "si",
         "register_schema must be a boolean (true/false, 1/0, yes/no, on/off)"),
    ],
)
def test_a_bad_overridden_value_is_still_an_error(winner, loser, raw, rule):
    env = {winner[0]: winner[1], loser: raw}
    with pytest.raises(WorkerConfigError) as info:
        resolve_worker_config(charge_worker(), env=env)
    assert str(info.value) == f"{loser}={raw!r}: {rule}"


def test_overridden_values_that_parse_keep_the_precedence():
    env = {
        "CONDUCTOR_WORKER_CHARGE_THREAD_COUNT": "4",
        "CONDUCTOR_WORKER_ALL_THREAD_COUNT": "10",
        "conductor.worker.all.thread_count": "12",
    }
    config = resolve_worker_config(charge_worker(thread_count=2), env=env)
    assert (config.thread_count, config.sources["thread_count"]) == (4, "CONDUCTOR_WORKER_CHARGE_THREAD_COUNT")


def test_the_highest_bad_value_is_reported_first():
    env = {"CONDUCTOR_WORKER_CHARGE_THREAD_COUNT": "four", "CONDUCTOR_WORKER_ALL_THREAD_COUNT": "ten"}
    with pytest.raises(WorkerConfigError, match=r"^CONDUCTOR_WORKER_CHARGE_THREAD_COUNT='four': "):
        resolve_worker_config(charge_worker(), env=env)


def test_empty_domain_and_worker_id_mean_none():
    env = {"CONDUCTOR_WORKER_ALL_DOMAIN": "", "CONDUCTOR_WORKER_CHARGE_WORKER_ID": "  "}
    config = resolve_worker_config(charge_worker(domain="eu", worker_id="me"), env=env)
    assert config.domain is None and config.worker_id is None
    assert config.effective_worker_id() == default_worker_id()


@pytest.mark.parametrize(
    "keyword, value, message",
    [
        ("thread_count", 0, "thread_count=0: thread_count must be an integer >= 1 (worker 'charge')"),
        ("thread_count", "many", "thread_count='many': thread_count must be an integer >= 1"),
        ("processes", 0, "processes=0: processes must be an integer >= 1"),
        ("poll_timeout", 6000, "poll_timeout=6000: poll_timeout must be an integer number of milliseconds"),
        ("poll_interval", -5, "poll_interval_millis=-5: poll_interval_millis must be a number of milliseconds > 0"),
        ("lease_extend_enabled", "perhaps", "lease_extend_enabled='perhaps': lease_extend_enabled must be a boolean"),
        ("domain", 5, "domain=5: domain must be a string"),
    ],
)
def test_code_values_are_validated_naming_the_keyword(keyword, value, message):
    with pytest.raises(WorkerConfigError) as info:
        charge_worker(**{keyword: value})
    assert message in str(info.value)


def test_decorator_values_are_validated():
    with pytest.raises(WorkerConfigError, match="thread_count=-2"):
        worker_task("bad_threads", thread_count=-2)(charge)


class ClassWorker(WorkerInterface):
    thread_count = 4
    domain = "class-domain"

    def execute(self, task):
        return None


def test_class_based_worker_properties_and_env():
    worker = ClassWorker("class_task", poll_interval_millis=40)
    config = resolve_worker_config(worker, env={"CONDUCTOR_WORKER_CLASS_TASK_PROCESSES": "3"})
    assert (config.thread_count, config.domain, config.poll_interval_millis, config.processes) == (
        4,
        "class-domain",
        40.0,
        3,
    )
    worker.thread_count = 0  # attributes set later are validated when resolved
    with pytest.raises(WorkerConfigError, match="thread_count=0"):
        resolve_worker_config(worker, env={})


def test_resolution_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("CONDUCTOR_WORKER_CHARGE_THREAD_COUNT", "6")
    assert resolve_worker_config(charge_worker()).thread_count == 6


def test_with_overrides_validates_and_marks_the_source():
    config = resolve_worker_config(charge_worker(), env={})
    changed = config.with_overrides(thread_count=5, polling_interval=20)
    assert (changed.thread_count, changed.poll_interval_millis) == (5, 20.0)
    assert changed.sources["thread_count"] == "override"
    assert changed.sources["poll_interval_millis"] == "override"
    assert config.thread_count == 1  # the original is unchanged
    with pytest.raises(WorkerConfigError, match="thread_count=0"):
        config.with_overrides(thread_count=0)
    with pytest.raises(WorkerConfigError, match="unknown worker property"):
        config.with_overrides(colour="red")


def test_config_is_frozen_hashable_and_picklable():
    config = resolve_worker_config(charge_worker(domain="x"), env={"CONDUCTOR_WORKER_ALL_PAUSED": "on"})
    with pytest.raises(AttributeError):
        config.thread_count = 3  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(config)) == config
    assert hash(config) == hash(pickle.loads(pickle.dumps(config)))


def test_oneline_format():
    config = resolve_worker_config(
        charge_worker(poll_interval=1000, domain="production", thread_count=50), env={}
    )
    assert config.oneline(pid=12345) == (
        "Conductor Worker[name=charge, pid=12345, status=active, poll_interval=1000ms, domain=production,"
        " thread_count=50, poll_timeout=100ms, lease_extend=false, register_task_def=false]"
    )
    paused = config.with_overrides(paused=True, domain=None, lease_extend_enabled=True, poll_interval_millis=12.5)
    assert get_worker_config_oneline("charge", paused, pid=1) == (
        "Conductor Worker[name=charge, pid=1, status=paused, poll_interval=12.5ms, thread_count=50,"
        " poll_timeout=100ms, lease_extend=true, register_task_def=false]"
    )
    assert f"pid={os.getpid()}," in config.oneline()


def test_summary_lists_values_and_sources():
    config = resolve_worker_config(charge_worker(thread_count=3), env={"conductor.worker.all.domain": "eu"})
    summary = get_worker_config_summary("charge", config)
    lines = summary.splitlines()
    assert lines[0] == "Worker 'charge' configuration:"
    assert any(line.split() == ["thread_count", "=", "3", "(code)"] for line in lines)
    assert any(line.split() == ["domain", "=", "eu", "(conductor.worker.all.domain)"] for line in lines)
    assert any(line.split() == ["poll_timeout", "=", "100", "(default)"] for line in lines)
    assert len(lines) == 1 + 12


def test_default_worker_id_is_unique_per_process():
    assert default_worker_id() == f"{socket.gethostname()}-{os.getpid()}"
    worker = charge_worker()
    assert worker.get_identity() == default_worker_id()
    assert charge_worker(worker_id="fixed").get_identity() == "fixed"


def test_config_constructed_directly_is_validated():
    with pytest.raises(WorkerConfigError, match="thread_count=0"):
        WorkerConfig("x", thread_count=0)
