"""``docs/configuration.md`` cannot drift from the code.

Every list on the page is compared with what the code defines: the worker property table
(``PROPERTIES``), the ``@worker_task`` signature, the variable lookup order, the fields, types and
defaults of the settings dataclasses and their environment variables (set for real and read back
through ``TaskHandler``), ``Configuration``'s and ``TaskHandler``'s arguments, and the command
line's ``argparse`` options and exit codes. A setting missing from the page, a name the code does
not have, or a wrong default fails a test.
"""

from __future__ import annotations

import dataclasses
import inspect
import multiprocessing
import signal
from pathlib import Path
from typing import Any

import pytest
from _support.docs_tools import (
    RECOVERY_ENV_PREFIX,
    code_spans,
    docs_probe,
    first_literal,
    page_text,
    same_value,
    table_under,
)

from conductor_actors import Configuration, MetricsSettings, RuntimeSettings, SupervisionSettings, TaskHandler
from conductor_actors import cli as cli_module
from conductor_actors.cli import _outbox_parser as outbox_parser
from conductor_actors.cli import build_parser
from conductor_actors.handler import _OFFICIAL_OPTIONS
from conductor_actors.settings import ENV_PREFIX, RecoverySettings, env_names
from conductor_actors.worker import Worker, WorkerConfig, resolve_worker_config, worker_task
from conductor_actors.worker._config import PROPERTIES, PROPERTY_NAMES, _variable_names

PAGE = "configuration.md"
TEXT = page_text(PAGE)
#: The example of the precedence table: a name that gives every variable form a different spelling.
EXAMPLE_WORKER, EXAMPLE_PROP = "sendEmail-v2", "thread_count"


def rows(heading: str) -> dict[str, tuple[str, ...]]:
    return table_under(TEXT, heading).by_first_code()


def cell(heading: str, key: str, column: str) -> str:
    table = table_under(TEXT, heading)
    return table.by_first_code()[key][table.column(column)]


def assert_same_names(heading: str, documented: set[str], actual: set[str]) -> None:
    assert not actual - documented, f"{PAGE} ({heading}) misses {sorted(actual - documented)}"
    assert not documented - actual, f"{PAGE} ({heading}) names what the code lacks: {sorted(documented - actual)}"


# ---------------------------------------------------------------------------------------------- workers


def test_worker_property_table_lists_every_property_with_type_and_default() -> None:
    table = rows("Worker properties")
    assert_same_names("Worker properties", set(table), set(PROPERTY_NAMES))
    types = {f.name: f.type for f in dataclasses.fields(WorkerConfig)}
    for name, prop in PROPERTIES.items():
        assert code_spans(cell("Worker properties", name, "Type")) == [types[name]], f"type of {name}"
        documented = first_literal(cell("Worker properties", name, "Default"))
        assert same_value(documented, prop.default), f"{name}: page says {documented!r}, code has {prop.default!r}"
        assert cell("Worker properties", name, "Meaning"), f"{name} has no meaning"


def test_decorator_keywords_are_the_properties_plus_the_code_only_ones() -> None:
    parameters = inspect.signature(worker_task).parameters
    code_only = rows("Keywords only in code")
    env_only = {name for name in PROPERTY_NAMES if name not in parameters}
    assert env_only == {"paused"}, "only `paused` is documented as environment-only"
    assert "Environment only" in cell("Worker properties", "paused", "Meaning")
    assert_same_names("Keywords only in code", set(code_only), set(parameters) - set(PROPERTY_NAMES))
    for name, parameter in parameters.items():
        if name in code_only:
            default_cell = cell("Keywords only in code", name, "Default")
            if parameter.default is inspect.Parameter.empty:
                assert default_cell == "required", f"{name} has no default in code"
            else:
                assert same_value(first_literal(default_cell), parameter.default), name
        else:
            assert same_value(first_literal(cell("Worker properties", name, "Default")), parameter.default), (
                f"@worker_task's default of {name} differs from the page"
            )


def test_other_spellings_are_the_property_aliases() -> None:
    table = rows("Other spellings")
    with_aliases = {name: prop.aliases for name, prop in PROPERTIES.items() if prop.aliases}
    assert_same_names("Other spellings", set(table), set(with_aliases))
    for name, aliases in with_aliases.items():
        assert tuple(code_spans(cell("Other spellings", name, "Also spelled"))) == aliases


def precedence_examples() -> list[str]:
    table = table_under(TEXT, "Environment variables and precedence")
    ranks = [first_literal(row[0]) for row in table.rows]
    assert ranks == list(range(1, len(ranks) + 1)), "ranks must be 1, 2, 3... in order"
    column = table.column(f"Example: `{EXAMPLE_WORKER}`, `{EXAMPLE_PROP}`")
    return [code_spans(row[column])[0] for row in table.rows]


@pytest.mark.parametrize("prop", PROPERTY_NAMES)
def test_precedence_table_is_the_lookup_order(prop: str) -> None:
    """The variables the page lists, with the property's spellings substituted in, are exactly the
    variables the code looks up for it, in the same order."""
    examples = precedence_examples()
    generic = [v for v in examples if EXAMPLE_PROP in v.lower()]
    specials = [v for v in examples if EXAMPLE_PROP not in v.lower()]
    expected = [
        v.replace(EXAMPLE_PROP, spelling).replace(EXAMPLE_PROP.upper(), spelling.upper())
        for v in generic for spelling in PROPERTIES[prop].spellings
    ]
    expected = list(dict.fromkeys(expected))
    actual = _variable_names(EXAMPLE_WORKER, prop)
    assert actual[: len(expected)] == expected
    extra = actual[len(expected):]
    assert set(extra) <= set(specials), f"variables for {prop} the page does not list: {extra}"
    for special in specials:  # a rank that is not a form of <prop> names the property it sets
        row = next(r for r in table_under(TEXT, "Environment variables and precedence").rows if special in r[-1])
        names_it = f"`{prop}`" in row[1]
        assert (special in extra) == names_it, f"{special}: the page and the code disagree on whether it sets {prop}"


def test_precedence_ranks_decide_which_variable_wins() -> None:
    """With the variables of rank i and below all set, rank i's value is used."""
    examples = [v for v in precedence_examples() if EXAMPLE_PROP in v.lower()]
    worker = Worker(EXAMPLE_WORKER, docs_probe, thread_count=3)
    for rank, variable in enumerate(examples):
        env = {name: str(10 + index) for index, name in enumerate(examples) if index >= rank}
        config = resolve_worker_config(worker, env)
        assert (config.thread_count, config.sources["thread_count"]) == (10 + rank, variable)
    assert resolve_worker_config(worker, {}).thread_count == 3


# ---------------------------------------------------------------------------------------- settings classes

SETTINGS: dict[str, tuple[type, str]] = {
    "Runtime settings": (RuntimeSettings, ENV_PREFIX),
    "Supervision settings": (SupervisionSettings, ENV_PREFIX),
    "Recovery settings": (RecoverySettings, RECOVERY_ENV_PREFIX),
    "Metrics settings": (MetricsSettings, ""),
}


@pytest.mark.parametrize("heading", SETTINGS)
def test_settings_tables_list_every_field_with_type_and_default(heading: str) -> None:
    cls, _ = SETTINGS[heading]
    table = rows(heading)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    assert_same_names(heading, set(table), set(fields))
    for name, field in fields.items():
        assert code_spans(cell(heading, name, "Type")) == [field.type], f"{cls.__name__}.{name}: type"
        documented = first_literal(cell(heading, name, "Default"))
        assert same_value(documented, field.default), (
            f"{cls.__name__}.{name}: page {documented!r}, code {field.default!r}"
        )
        assert cell(heading, name, "Meaning"), f"{cls.__name__}.{name} has no meaning"


def environment_rows() -> list[tuple[str, str, str]]:
    """(heading, field, variable) for every variable the settings tables name."""
    found = []
    for heading in ("Runtime settings", "Supervision settings", "Recovery settings"):
        for name in rows(heading):
            for span in code_spans(cell(heading, name, "Environment")):
                if not span.startswith("--"):
                    found.append((heading, name, span))
    return found


@pytest.mark.parametrize("heading", ["Runtime settings", "Supervision settings", "Recovery settings"])
def test_each_field_names_its_own_variable_first(heading: str) -> None:
    cls, prefix = SETTINGS[heading]
    for name, variable in env_names(cls, prefix).items():
        assert code_spans(cell(heading, name, "Environment"))[0] == variable, f"{cls.__name__}.{name}"


def _sample(field: dataclasses.Field[Any], state_dir: Path) -> tuple[str, Any]:
    """A valid value other than the default: (text for the variable, the value it means)."""
    default: Any = field.default
    if field.type == "bool":
        return ("false" if default else "true"), not default
    if str(field.type).startswith("tuple"):
        return "1.5,2.5", (1.5, 2.5)
    if field.type == "int":
        return str(default + 1), default + 1
    if field.type == "float":
        value = default / 2 if default > 0 else 1.5
        return repr(value), value
    if field.name == "start_method":
        other = next(m for m in multiprocessing.get_all_start_methods() if m != default)
        return other, other
    if field.name == "state_dir":
        return str(state_dir), str(state_dir)
    raise AssertionError(f"no sample value for a {field.type} field ({field.name})")


def _effective(handler: TaskHandler, cls: type, name: str, env: dict[str, str]) -> Any:
    if cls is RuntimeSettings:
        return getattr(handler.runtime_settings, name)
    if cls is SupervisionSettings:
        return getattr(handler.supervision, name)
    settings = handler.recovery_settings
    if name == "enabled":
        return settings is not None
    assert settings is not None
    return settings.journal_dir(env) if name == "state_dir" else getattr(settings, name)


@pytest.mark.parametrize(("heading", "name", "variable"), environment_rows(),
                         ids=[f"{n}-{v}" for _, n, v in environment_rows()])
def test_documented_variables_take_effect(heading: str, name: str, variable: str, tmp_path: Path) -> None:
    """Each variable the page names, set to a valid non-default value, changes that setting of a
    ``TaskHandler`` built without settings objects (as the command line builds it)."""
    cls, _ = SETTINGS[heading]
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    text, value = _sample(field, tmp_path)
    env = {variable: text}
    handler = TaskHandler(workers=[Worker("docs_probe", docs_probe)], scan_for_annotated_workers=False, env=env)
    before = TaskHandler(workers=[Worker("docs_probe", docs_probe)], scan_for_annotated_workers=False, env={})
    assert same_value(_effective(handler, cls, name, env), value), f"{variable}={text} did not set {name}"
    assert not same_value(_effective(before, cls, name, {}), value)


# ------------------------------------------------------------------------------------- client and handler


CLIENT_SAMPLES: dict[str, str] = {
    "CONDUCTOR_SERVER_URL": "https://conductor.example.com/api",
    "CONDUCTOR_AUTH_KEY": "docs-key-id",
    "CONDUCTOR_AUTH_SECRET": "docs-key-secret",
    "CONDUCTOR_ACTORS_HTTP_TRANSPORT": "standard",
    "CONDUCTOR_ACTORS_MAX_RESPONSE_BYTES": "4096",
    "CONDUCTOR_REGISTER_SCHEMAS": "true",
    "CONDUCTOR_LOG_LEVEL": "ERROR",
}


def test_client_table_lists_every_configuration_argument_with_its_default() -> None:
    parameters = dict(inspect.signature(Configuration.__init__).parameters)
    parameters.pop("self")
    table = rows("Client settings")
    assert_same_names("Client settings", set(table), set(parameters))
    for name, parameter in parameters.items():
        assert same_value(first_literal(cell("Client settings", name, "Default")), parameter.default), name


def test_client_variables_set_what_the_page_says() -> None:
    for name in rows("Client settings"):
        variables = code_spans(cell("Client settings", name, "Environment"))
        if not variables:
            continue
        missing = [v for v in variables if v not in CLIENT_SAMPLES]
        assert not missing, f"add a sample value for {missing} to CLIENT_SAMPLES"
        configured = Configuration(env={v: CLIENT_SAMPLES[v] for v in variables})
        plain = Configuration(env={})
        attribute = "server_api_url" if name == "server_api_url" else name
        assert getattr(configured, attribute) != getattr(plain, attribute), f"{variables} did not change {name}"


def test_task_handler_table_lists_every_argument_with_its_default() -> None:
    parameters = {
        name: p for name, p in inspect.signature(TaskHandler.__init__).parameters.items()
        if name != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD
    }
    assert_same_names("TaskHandler arguments", set(rows("TaskHandler arguments")), set(parameters))
    for name, parameter in parameters.items():
        assert same_value(first_literal(cell("TaskHandler arguments", name, "Default")), parameter.default), name
    assert_same_names("Official SDK keywords", set(rows("Official SDK keywords")), set(_OFFICIAL_OPTIONS))


# ------------------------------------------------------------------------------------------- command line


def _key(action: Any) -> str:
    return action.option_strings[-1] if action.option_strings else action.metavar


def test_option_table_is_the_argument_parser() -> None:
    actions = {_key(action): action for action in build_parser()._actions}
    table = rows("Options")
    assert_same_names("Options", set(table), set(actions))
    for key, action in actions.items():
        value = cell("Options", key, "Value")
        if action.metavar and action.option_strings:
            assert str(action.metavar) in value, f"{key}: value should show {action.metavar}"
        if action.choices:
            assert code_spans(value) == list(action.choices), f"{key}: choices"
        if action.option_strings and action.default is not None and action.default != "==SUPPRESS==":
            assert same_value(first_literal(cell("Options", key, "Default")), action.default), key
        elif action.option_strings and action.default is None:
            assert first_literal(cell("Options", key, "Default")) is None, key
        if action.const is not None and action.nargs == "?":
            assert f"`{action.const}`" in cell("Options", key, "Meaning"), f"{key}: say what it means alone"


def test_outbox_table_is_the_outbox_parser() -> None:
    parser = outbox_parser()
    subparsers: Any = next(a for a in parser._actions if isinstance(a.choices, dict))
    table = rows("Outbox commands")
    top = {a.option_strings[-1] for a in parser._actions if a.option_strings and a.dest != "help"}
    assert_same_names("Outbox commands", set(table), set(subparsers.choices) | top)
    for command, subparser in subparsers.choices.items():
        arguments = {
            _key(a) for a in subparser._actions if a.dest not in ("help", "state_dir")
        }
        assert set(code_spans(cell("Outbox commands", command, "Arguments"))) == arguments, command


def test_exit_code_table_is_every_exit_code() -> None:
    constants = {getattr(cli_module, name) for name in cli_module.__all__ if name.startswith("EXIT_")}
    fast_stops = {128 + signal.SIGINT, 128 + signal.SIGTERM}
    documented = {first_literal(row[0]) for row in table_under(TEXT, "Exit codes").rows}
    assert documented == constants | fast_stops
