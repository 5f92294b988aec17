"""Official-SDK behaviours that its own unit tests lean on: ``Worker.execute`` given a task-like
object (a test double of ``Task`` that has only the attributes the test set), the official
predicates ``is_callable_input_parameter_a_task`` / ``is_callable_return_value_of_type`` and the
``Worker`` flags named after them, the official schema generator's helpers
(``_type_to_json_schema``, ``_generate_input_schema``, ``_generate_output_schema``) under their
official names, ``generate_json_schema_from_function``'s official all-or-nothing answers, the
official resolver's keyword ``worker_name=`` and helpers (``_parse_env_value``, ``_get_env_value``),
``register_decorated_fn``, and decorating one task name again from a function defined inside a test.

The typing spellings (``Optional``, ``List``, ``Union``...) are the ones official worker code uses."""

# ruff: noqa: UP006, UP007, UP035, UP045


import dataclasses
import inspect
import os
from collections.abc import Iterator
from typing import Any, Callable, Dict, List, Optional, Tuple, Union
from unittest.mock import MagicMock

import pytest

from conductor_actors import (
    Task,
    TaskResult,
    TaskResultStatus,
    Worker,
    register_decorated_fn,
    resolve_worker_config,
    worker_task,
)
from conductor_actors.worker import (
    TaskInProgress,
    WorkerConfigError,
    WorkerRegistrationError,
    _generate_input_schema,
    _generate_output_schema,
    _get_env_value,
    _parse_env_value,
    _type_to_json_schema,
    generate_json_schema_from_function,
    get_registered_workers,
    is_callable_input_parameter_a_task,
    is_callable_return_value_of_type,
)
from conductor_actors.worker import _discovery as _registry

DRAFT_07 = "http://json-schema.org/draft-07/schema#"


@pytest.fixture(autouse=True)
def _isolated_registry() -> Iterator[None]:
    saved = dict(_registry._registry)
    yield
    _registry._registry.clear()
    _registry._registry.update(saved)


def greet(name: str, times: int = 1) -> dict:
    return {"greeting": " ".join([f"hello {name}"] * times)}


def fail_for_good(name: str) -> dict:
    raise ValueError(f"no {name}")


# --- Worker.execute with a task-like object ----------------------------------------------------


def task_double(**input_data: Any) -> MagicMock:
    """What the official tests pass: a mock with the spec of Task and only a few attributes set."""
    task = MagicMock(spec=Task)
    task.task_id = "t-1"
    task.workflow_instance_id = "wf-1"
    task.task_def_name = "greet"
    task.input_data = input_data
    return task


def test_execute_builds_its_result_from_the_task_attributes_of_a_test_double() -> None:
    result = Worker("greet", greet).execute(task_double(name="ada", times=2))

    assert isinstance(result, TaskResult)
    assert (result.task_id, result.workflow_instance_id) == ("t-1", "wf-1")
    assert result.status == TaskResultStatus.COMPLETED
    assert result.output_data == {"greeting": "hello ada hello ada"}


def test_a_failure_with_a_test_double_is_a_failed_result_with_the_reason() -> None:
    result = Worker("fail", fail_for_good).execute(task_double(name="luck"))

    assert isinstance(result, TaskResult)
    assert result.status == TaskResultStatus.FAILED
    assert result.reason_for_incompletion == "no luck"
    assert result.task_id == "t-1"


# --- the official predicates and Worker flags --------------------------------------------------


def takes_task(task: Task) -> dict:
    return {}


def takes_anything(thing):  # type: ignore[no-untyped-def]
    return {}


def returns_result(name: str) -> TaskResult:
    return TaskResult()


@pytest.mark.parametrize(
    ("func", "expected"),
    [(takes_task, True), (takes_anything, True), (greet, False), (returns_result, False), (lambda: 1, False)],
)
def test_is_callable_input_parameter_a_task_answers_as_the_official_helper(
    func: Callable[..., Any], expected: bool
) -> None:
    assert is_callable_input_parameter_a_task(func, Task) is expected


def test_is_callable_return_value_of_type_compares_the_return_annotation() -> None:
    assert is_callable_return_value_of_type(returns_result, TaskResult) is True
    assert is_callable_return_value_of_type(greet, TaskResult) is False
    assert is_callable_return_value_of_type(takes_anything, TaskResult) is False


def test_the_worker_flags_follow_the_function_assigned() -> None:
    worker = Worker("flags", greet)
    assert worker._is_execute_function_input_parameter_a_task is False
    assert worker._is_execute_function_return_value_a_task_result is False

    worker.execute_function = takes_task
    assert worker._is_execute_function_input_parameter_a_task is True

    worker.execute_function = returns_result
    assert worker._is_execute_function_input_parameter_a_task is False
    assert worker._is_execute_function_return_value_a_task_result is True


# --- the official schema helpers -----------------------------------------------------------------


@dataclasses.dataclass
class Address:
    street: str
    zip_code: Optional[str] = None
    tags: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class HasCallback:
    name: str
    callback: Callable[[], None]


class Plain:
    pass


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (str, {"type": "string"}),
        (dict, {"type": "object"}),
        (list, {"type": "array"}),
        (type(None), {"type": "null"}),
        (Any, {}),
        (Optional[int], {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
        (Optional[Any], {}),
        (List[int], {"type": "array", "items": {"type": "integer"}}),
        (Dict[str, bool], {"type": "object", "additionalProperties": {"type": "boolean"}}),
        (Dict[int, bool], {"type": "object"}),
        (
            Address,
            {
                "type": "object",
                "properties": {
                    "street": {"type": "string"},
                    "zip_code": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
                "additionalProperties": True,
                "required": ["street"],
            },
        ),
        # where the official generator gives up
        (Union[int, str], None),
        (Union[dict, TaskInProgress], None),
        (Tuple[str, int], None),
        (complex, None),
        (Plain, None),
        (HasCallback, None),
    ],
)
def test_type_to_json_schema_gives_the_official_answer(annotation: Any, expected: Any) -> None:
    assert _type_to_json_schema(annotation) == expected


def test_type_to_json_schema_strict_closes_dataclasses() -> None:
    assert _type_to_json_schema(Address, strict_schema=True)["additionalProperties"] is False  # type: ignore[index]


def order(item: str, quantity: int = 1, note: Optional[str] = None) -> dict:
    return {}


def untyped(item, quantity: int):  # type: ignore[no-untyped-def]
    return {}


def test_generate_input_schema_is_the_official_all_or_nothing_schema() -> None:
    assert _generate_input_schema(inspect.signature(order), "order") == {
        "$schema": DRAFT_07,
        "type": "object",
        "properties": {
            "item": {"type": "string"},
            "quantity": {"type": "integer"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "additionalProperties": True,
        "required": ["item"],
    }
    assert _generate_input_schema(inspect.signature(untyped), "untyped") is None


def test_generate_output_schema_takes_the_dict_member_of_a_union() -> None:
    assert _generate_output_schema(Union[dict, TaskInProgress], "x") == {"$schema": DRAFT_07, "type": "object"}
    assert _generate_output_schema(str, "x") == {"$schema": DRAFT_07, "type": "string"}
    assert _generate_output_schema(inspect.Signature.empty, "x") is None
    assert _generate_output_schema(Plain, "x") is None


# --- decorating one task name again ---------------------------------------------------------------


def test_a_function_decorated_inside_a_test_replaces_an_earlier_one_of_the_same_name() -> None:
    @worker_task(task_definition_name="parity_same_name")
    def first(a: int) -> dict:
        return {"first": a}

    @worker_task(task_definition_name="parity_same_name")
    def second(a: int) -> dict:
        return {"second": a}

    (worker,) = [w for w in get_registered_workers() if w.task_definition_name == "parity_same_name"]
    assert worker.execute_function is second.__wrapped__  # type: ignore[attr-defined]


def test_two_module_level_functions_claiming_one_task_name_is_still_an_error() -> None:
    worker_task(task_definition_name="parity_taken")(greet)
    with pytest.raises(WorkerRegistrationError, match="already registered by"):
        worker_task(task_definition_name="parity_taken")(fail_for_good)


def test_register_decorated_fn_registers_a_worker_with_the_official_keywords() -> None:
    register_decorated_fn(name="parity_registered", poll_interval=250, domain="blue", worker_id="w-9", func=greet)

    (worker,) = [w for w in get_registered_workers() if w.task_definition_name == "parity_registered"]
    assert worker.execute_function is greet
    assert (worker.poll_interval, worker.domain, worker.worker_id) == (250, "blue", "w-9")
    assert worker.register_schema is False


# --- generate_json_schema_from_function: the official answers ------------------------------------


def anything(a: Any, b: int = 1) -> dict:
    return {}


def string_annotations(a: "int", note: "Optional[str]" = None) -> "None":
    return None


@pytest.mark.parametrize("func", [untyped, takes_task, takes_anything])
def test_the_input_schema_is_none_when_one_parameter_cannot_be_described(func: Callable[..., Any]) -> None:
    schemas = generate_json_schema_from_function(func, "x")
    assert schemas is not None
    assert schemas["input"] is None


def test_a_parameter_annotated_any_is_required_as_there() -> None:
    schemas = generate_json_schema_from_function(anything, "anything")
    assert schemas is not None
    assert schemas["input"]["properties"] == {"a": {}, "b": {"type": "integer"}}
    assert schemas["input"]["required"] == ["a"]


def test_string_annotations_are_resolved_and_none_returns_no_output_schema() -> None:
    schemas = generate_json_schema_from_function(string_annotations, "strings")
    assert schemas == {
        "input": {
            "$schema": DRAFT_07,
            "type": "object",
            "properties": {"a": {"type": "integer"}, "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
            "additionalProperties": True,
            "required": ["a"],
        },
        "output": None,
    }


# --- the official resolver's form and helpers ---------------------------------------------------


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.lower().startswith("conductor"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_resolve_worker_config_takes_the_official_worker_name_keyword(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("conductor.worker.all.thread_count", "4")
    config = resolve_worker_config(worker_name="parity_cfg", poll_interval=300, domain="dev")
    assert (config["poll_interval"], config["domain"], config["thread_count"]) == (300, "dev", 4)


def test_an_empty_domain_variable_reads_as_empty_in_the_official_form(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("conductor.worker.parity_cfg.domain", "")
    assert resolve_worker_config(worker_name="parity_cfg", domain="dev")["domain"] == ""


def test_parse_env_value_parses_as_there_and_refuses_what_does_not_parse() -> None:
    assert [_parse_env_value(v, bool) for v in ("TRUE", "yes", "on", "1", "no", "0")] == [
        True, True, True, True, False, False]
    assert (_parse_env_value("-10", int), _parse_env_value("2.5", float), _parse_env_value("x", str)) == (-10, 2.5, "x")
    assert _parse_env_value(None, int) is None
    with pytest.raises(WorkerConfigError, match="'lots' is not a valid int"):
        _parse_env_value("lots", int)


def test_get_env_value_finds_the_highest_precedence_variable(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("conductor.worker.all.poll_interval", "500")
    environ.setenv("conductor.worker.parity_cfg.poll_interval", "250")
    assert _get_env_value("parity_cfg", "poll_interval", float) == 250.0
    assert _get_env_value("other", "poll_interval", float) == 500.0
    assert _get_env_value("parity_cfg", "no_such_property") is None


# --- TaskDef's checked fields ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [("timeout_policy", "TIME_OUT_WF", "NEVER"), ("retry_logic", "EXPONENTIAL_BACKOFF", "SOMETIMES")],
)
def test_taskdef_checks_the_choices_assigned_in_code(field: str, good: str, bad: str) -> None:
    from conductor_actors import TaskDef

    assert getattr(TaskDef(name="n", **{field: good}), field) == good
    with pytest.raises(ValueError, match=f"Invalid value for `{field}` \\({bad}\\)"):
        TaskDef(name="n", **{field: bad})
    definition = TaskDef(name="n", **{field: good})
    with pytest.raises(ValueError, match=f"Invalid value for `{field}`"):
        setattr(definition, field, bad)
    assert getattr(definition, field) == good


def test_taskdef_keeps_a_choice_read_from_the_server_as_sent() -> None:
    from conductor_actors import TaskDef

    definition = TaskDef.from_dict({"name": "n", "timeoutPolicy": "NEWER_POLICY", "retryLogic": "NEWER_LOGIC"})
    assert (definition.timeout_policy, definition.retry_logic) == ("NEWER_POLICY", "NEWER_LOGIC")


# --- the decorators' parameters, in the official order -------------------------------------------


def test_worker_task_takes_its_arguments_in_the_official_order() -> None:
    worker_task("parity_positional", 250, "green", "w-7", 3, True, 800)(greet)

    (worker,) = [w for w in get_registered_workers() if w.task_definition_name == "parity_positional"]
    assert (worker.poll_interval, worker.domain, worker.worker_id, worker.thread_count) == (250, "green", "w-7", 3)
    assert (worker.register_task_def, worker.poll_timeout) == (True, 800)


def test_legacy_worker_task_takes_register_schema_in_the_official_place() -> None:
    from conductor_actors import WorkerTask

    WorkerTask("parity_legacy", 250, "green", "w-8", 0, 2, False, 900, True, True)(fail_for_good)

    (worker,) = [w for w in get_registered_workers() if w.task_definition_name == "parity_legacy"]
    assert (worker.poll_interval, worker.domain, worker.worker_id, worker.thread_count) == (250, "green", "w-8", 2)
    assert (worker.poll_timeout, worker.lease_extend_enabled, worker.register_schema) == (900, True, True)
    assert worker.overwrite_task_def is True


def test_the_official_helpers_import_from_the_package_root_too() -> None:
    import conductor_actors
    import conductor_actors.worker as worker_package

    for name in (
        "generate_json_schema_from_function", "get_worker_config_summary", "get_worker_config_oneline",
        "is_callable_input_parameter_a_task", "is_callable_return_value_of_type", "register_decorated_fn",
        "_type_to_json_schema", "_generate_input_schema", "_generate_output_schema", "_get_env_value",
        "_parse_env_value",
    ):
        assert getattr(conductor_actors, name) is getattr(worker_package, name), name
