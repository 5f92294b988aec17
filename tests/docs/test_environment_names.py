"""The operating pages name only variables and options that exist, and document every variable
the package reads by a fixed name.

The package's sources are scanned (``ast``) for reads of the environment (``os.environ.get``,
``env[...]``, ``os.getenv`` with a literal or a module constant); each such variable must appear in
``configuration.md``. Conversely every ``CONDUCTOR_...`` variable and ``--option`` the operating
pages name must be one the code reads or the command line accepts, so a misspelt name on a page
fails here.
"""

from __future__ import annotations

import ast
import re

import pytest
from _support.docs_tools import OPERATING_PAGES, RECOVERY_ENV_PREFIX, REPO_ROOT, code_spans, page_text

from conductor_actors import RuntimeSettings, SupervisionSettings
from conductor_actors.cli import _outbox_parser as outbox_parser
from conductor_actors.cli import build_parser
from conductor_actors.settings import RecoverySettings, env_names
from conductor_actors.worker._config import PROPERTIES, PROPERTY_NAMES, _variable_names

PAGE = "configuration.md"
#: A worker name whose variables are all distinct (the global forms are what matters here).
SOME_WORKER = "sendEmail-v2"


_ENV_OWNERS = {"env", "environ", "environment"}


def _reads_env(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id in _ENV_OWNERS) or (
        isinstance(node, ast.Attribute) and node.attr == "environ"
    )


def variables_read_by_the_package() -> dict[str, str]:
    """Every environment variable the package reads by a fixed name -> the module that reads it."""
    found: dict[str, str] = {}
    for path in sorted((REPO_ROOT / "conductor_actors").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            target.id: node.value.value
            for node in tree.body if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            key: ast.AST | None = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
                if (node.func.attr == "get" and _reads_env(node.func.value)) or node.func.attr == "getenv":
                    key = node.args[0]
            elif isinstance(node, ast.Subscript) and _reads_env(node.value):
                key = node.slice
            name = None
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                name = key.value
            elif isinstance(key, ast.Name):
                name = constants.get(key.id)
            if name:
                found.setdefault(name, str(path.relative_to(REPO_ROOT)))
    return found


def test_the_scan_finds_the_variables_it_should() -> None:
    """The scan itself works: it sees the variables we know are read."""
    found = variables_read_by_the_package()
    assert {"CONDUCTOR_SERVER_URL", "CONDUCTOR_AUTH_SECRET", "CONDUCTOR_ACTORS_STATE_DIR"} <= set(found)


def test_every_variable_the_package_reads_is_documented() -> None:
    documented = set(code_spans(page_text(PAGE)))
    missing = {name: module for name, module in variables_read_by_the_package().items() if name not in documented}
    assert not missing, f"{PAGE} does not document these variables (read in): {missing}"


def known_variables() -> set[str]:
    known = set(variables_read_by_the_package())
    for cls in (RuntimeSettings, SupervisionSettings):
        known |= set(env_names(cls).values())
    known |= set(env_names(RecoverySettings, RECOVERY_ENV_PREFIX).values())
    known |= {v for prop in PROPERTY_NAMES for v in _variable_names(SOME_WORKER, prop)}
    return known


_SPELLINGS = {spelling.upper() for prop in PROPERTIES.values() for spelling in prop.spellings}
_LOWER_SPELLINGS = {spelling for prop in PROPERTIES.values() for spelling in prop.spellings}


def unknown_variables(text: str) -> list[str]:
    """Variables named in ``text`` that nothing reads (placeholders like ``<FIELD>`` are skipped)."""
    known = known_variables()
    bad = []
    for name in sorted(set(re.findall(r"(?<![\w.<])CONDUCTOR_[A-Za-z0-9_]+(?![\w<-])", text))):
        if name.startswith("CONDUCTOR_WORKER_"):
            if not any(name.upper().endswith("_" + spelling) for spelling in _SPELLINGS):
                bad.append(name)
        elif name not in known and not name.endswith("_"):
            bad.append(name)
    for prop in re.findall(r"conductor\.worker\.[^\s`'.]+\.([a-z_]+)\b", text):
        if prop not in _LOWER_SPELLINGS:
            bad.append(f"conductor.worker.*.{prop}")
    return bad


def test_the_variable_check_catches_a_misspelling() -> None:
    assert unknown_variables("`CONDUCTOR_ACTORS_SHUTDOWN_GRACE` `CONDUCTOR_WORKER_ALL_THREAD_COUNT`") == []
    assert unknown_variables("`CONDUCTOR_ACTORS_SHUTDOWN_GRACES` `CONDUCTOR_WORKER_ALL_THREADS`") == [
        "CONDUCTOR_ACTORS_SHUTDOWN_GRACES", "CONDUCTOR_WORKER_ALL_THREADS",
    ]
    assert unknown_variables("conductor.worker.all.threads=3") == ["conductor.worker.*.threads"]


@pytest.mark.parametrize("page", OPERATING_PAGES)
def test_pages_name_only_variables_that_exist(page: str) -> None:
    """(Other pages may name variables on purpose that we do not read, e.g. the official SDK's.)"""
    assert unknown_variables(page_text(page)) == [], f"{page} names variables nothing reads"


def _all_options() -> set[str]:
    options = {s for a in build_parser()._actions for s in a.option_strings}
    outbox = outbox_parser()
    options |= {s for a in outbox._actions for s in a.option_strings}
    for action in outbox._actions:
        if isinstance(action.choices, dict):
            for sub in action.choices.values():
                options |= {s for a in sub._actions for s in a.option_strings}
    return options


@pytest.mark.parametrize("page", OPERATING_PAGES)
def test_pages_name_only_options_that_exist(page: str) -> None:
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", page_text(page)))
    assert named - _all_options() == set(), f"{page} names options the command line lacks"

