"""Helpers of the documentation tests: read the pages' tables, code spans and fenced blocks, and run
the shell commands the pages show in a hermetic environment.

Conventions the pages follow (and these helpers rely on):

- a table belongs to the nearest heading above it; a cell's ``|`` inside code is written ``\\|``;
- a default is the first code span of its cell, written as a Python literal (``None``, ``0.5``,
  ``"spawn"``, ``(10.0, 20.0, 30.0)``);
- every ```` ```sh ```` block holds commands that a test runs (one per line, ``\\`` continues a
  line); a command that must fail ends with the comment ``# exits N``; a ```` ```text ```` block
  right after a ``sh`` block is the exact output (stdout and stderr) of the block's last command;
- a block whose first line is ``# <path>`` is the file at that path (``my_app/workers.py``, a
  systemd unit, a manifest); ``configuration.md`` defines the example app ``my_app.workers``.

Everything here runs on the test's thread; commands run as subprocesses with a deadline.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cli_tree import hermetic_env

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS_DIR = REPO_ROOT / "docs"
#: The pages this suite checks command by command (the operating docs).
OPERATING_PAGES = ("configuration.md", "deployment.md")
#: The prefix ``TaskHandler`` reads ``RecoverySettings`` fields with (``CONDUCTOR_ACTORS_RECOVERY_MAX_AGE``).
RECOVERY_ENV_PREFIX = "CONDUCTOR_ACTORS_RECOVERY_"
#: A command from a page gets this long to finish.
COMMAND_TIMEOUT = 60.0

_FENCE = re.compile(r"^(\s*)```([A-Za-z0-9_+-]*)\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_EXPECTED_EXIT = re.compile(r"#\s*exits\s+(\d+)\s*$")
_TITLE = re.compile(r"^#\s+(\S+)")


@dataclass(frozen=True)
class Table:
    """One Markdown table: the heading it sits under, its header cells and body rows."""

    heading: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def by_first_code(self) -> dict[str, tuple[str, ...]]:
        """Rows keyed by the first code span of their first cell (rows without one are skipped)."""
        keyed: dict[str, tuple[str, ...]] = {}
        for row in self.rows:
            spans = code_spans(row[0])
            if spans:
                if spans[0] in keyed:
                    raise AssertionError(f"table under {self.heading!r} has two rows for {spans[0]!r}")
                keyed[spans[0]] = row
        return keyed

    def column(self, name: str) -> int:
        """The index of the column whose header is ``name``."""
        try:
            return self.header.index(name)
        except ValueError:
            raise AssertionError(f"table under {self.heading!r} has no column {name!r}: {self.header}") from None


@dataclass(frozen=True)
class Block:
    """One fenced code block: language, text, the heading above it and its fence lines (1-based)."""

    lang: str
    body: str
    heading: str
    start: int
    end: int

    @property
    def title(self) -> str | None:
        """The path a block stands for, when its first line is ``# <path>``."""
        first = self.body.split("\n", 1)[0]
        match = _TITLE.match(first)
        return match.group(1) if match and ("/" in match.group(1) or "." in match.group(1)) else None


@dataclass(frozen=True)
class Command:
    """One shell command of a page, the exit code it must end with and the output it must print
    (None: not checked)."""

    page: str
    text: str
    expected_exit: int
    expected_output: str | None


def page_text(name: str) -> str:
    return (DOCS_DIR / name).read_text(encoding="utf-8")


def doc_pages() -> list[str]:
    """The file names of every page under ``docs/``."""
    return sorted(p.name for p in DOCS_DIR.glob("*.md"))


def code_spans(text: str) -> list[str]:
    """The contents of the inline code spans of ``text``, in order."""
    return [match.group(2).strip() for match in _CODE_SPAN.finditer(text)]


def first_literal(cell: str) -> Any:
    """The Python literal in the first code span of ``cell``."""
    spans = code_spans(cell)
    if not spans:
        raise AssertionError(f"no code span with a value in {cell!r}")
    try:
        return ast.literal_eval(spans[0])
    except (ValueError, SyntaxError):
        raise AssertionError(f"{spans[0]!r} (in {cell!r}) is not a Python literal") from None


def same_value(documented: Any, actual: Any) -> bool:
    """Equal, and a boolean only equals a boolean (``True == 1`` does not count)."""
    if isinstance(documented, bool) or isinstance(actual, bool):
        return type(documented) is type(actual) and documented == actual
    return bool(documented == actual)


def _split_cells(line: str) -> tuple[str, ...]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    cells = re.split(r"(?<!\\)\|", inner)
    return tuple(cell.replace("\\|", "|").strip() for cell in cells)


def _lines_with_fence_flag(text: str) -> list[tuple[int, str, bool]]:
    """(line number, line, inside a fence) for every line."""
    result = []
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            result.append((number, line, True))
            fenced = not fenced
            continue
        result.append((number, line, fenced))
    return result


def tables(text: str) -> list[Table]:
    """Every table of a page, with the heading it sits under."""
    found: list[Table] = []
    heading = ""
    current: list[str] = []

    def close() -> None:
        if len(current) >= 2:
            rows = tuple(_split_cells(line) for line in current[2:])
            found.append(Table(heading, _split_cells(current[0]), rows))
        current.clear()

    for _, line, fenced in _lines_with_fence_flag(text):
        is_row = not fenced and line.lstrip().startswith("|")
        if is_row:
            current.append(line)
            continue
        close()
        match = None if fenced else _HEADING.match(line)
        if match:
            heading = match.group(2)
    close()
    return found


def table_under(text: str, heading: str) -> Table:
    """The one table under the heading ``heading``."""
    matching = [table for table in tables(text) if table.heading == heading]
    if len(matching) != 1:
        headings = sorted({table.heading for table in tables(text)})
        raise AssertionError(
            f"expected one table under {heading!r}, found {len(matching)}; tables are under {headings}"
        )
    return matching[0]


def headings(text: str) -> list[str]:
    return [m.group(2) for _, line, fenced in _lines_with_fence_flag(text) if not fenced
            for m in [_HEADING.match(line)] if m]


def fenced_blocks(text: str) -> list[Block]:
    """Every fenced block of a page, in order."""
    blocks: list[Block] = []
    lines = text.splitlines()
    heading = ""
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            title = _HEADING.match(lines[index])
            if title:
                heading = title.group(2)
            index += 1
            continue
        start = index
        index += 1
        while index < len(lines) and not _FENCE.match(lines[index]):
            index += 1
        if index >= len(lines):
            raise AssertionError(f"the fence opened on line {start + 1} is never closed")
        body = "\n".join(lines[start + 1:index])
        blocks.append(Block(match.group(2), body, heading, start + 1, index + 1))
        index += 1
    return blocks


def titled_block(text: str, title: str) -> Block:
    """The block whose first line is ``# <title>``."""
    found = [block for block in fenced_blocks(text) if block.title == title]
    if len(found) != 1:
        titles = [block.title for block in fenced_blocks(text) if block.title]
        raise AssertionError(f"expected one block titled {title!r}, found {len(found)}; titles: {titles}")
    return found[0]


def block_content(block: Block) -> str:
    """A titled block's file content: its text without the title line."""
    return block.body.split("\n", 1)[1] + "\n" if "\n" in block.body else ""


def _join_continuations(body: str) -> list[str]:
    commands: list[str] = []
    pending = ""
    for raw in body.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        line = (pending + line.strip()).strip()
        pending = ""
        if line and not line.startswith("#"):
            commands.append(line)
    if pending:
        raise AssertionError(f"a command ends with a line continuation: {pending!r}")
    return commands


def page_commands(name: str) -> list[Command]:
    """Every command of the page's ``sh`` blocks; the output the page shows after a block belongs
    to the block's last command."""
    text = page_text(name)
    lines = text.splitlines()
    blocks = fenced_blocks(text)
    commands: list[Command] = []
    for position, block in enumerate(blocks):
        if block.lang != "sh":
            continue
        texts = _join_continuations(block.body)
        if not texts:
            raise AssertionError(f"{name}: the sh block on line {block.start} holds no command")
        following = blocks[position + 1] if position + 1 < len(blocks) else None
        output = None
        if following is not None and following.lang == "text":
            between = lines[block.end:following.start - 1]
            if all(not line.strip() for line in between):
                output = following.body + "\n"
        for index, command in enumerate(texts):
            exit_match = _EXPECTED_EXIT.search(command)
            expected = int(exit_match.group(1)) if exit_match else 0
            commands.append(Command(name, command, expected, output if index == len(texts) - 1 else None))
    return commands


def example_app_source() -> str:
    """The example workers module ``my_app/workers.py`` shown in ``configuration.md``."""
    return block_content(titled_block(page_text("configuration.md"), "my_app/workers.py"))


def prepare_workdir(directory: Path, page: str) -> None:
    """Make ``directory`` the place a page's commands run in: the example app ``my_app``, every
    titled non-code block of the page as a file under its base name, a ``python`` for PATH that is
    this interpreter (when this interpreter is not a virtualenv's), and an empty state directory."""
    app = directory / "my_app"
    app.mkdir(parents=True, exist_ok=True)
    (app / "__init__.py").write_text("", encoding="utf-8")
    (app / "workers.py").write_text(example_app_source(), encoding="utf-8")
    for block in fenced_blocks(page_text(page)):
        if block.title and block.lang in ("ini", "yaml", "text"):
            (directory / Path(block.title).name).write_text(block_content(block), encoding="utf-8")
    bin_dir = directory / "bin"
    bin_dir.mkdir(exist_ok=True)
    if not _venv_python_dir():
        (bin_dir / "python").symlink_to(sys.executable)
    (directory / "state").mkdir(exist_ok=True)


def _venv_python_dir() -> str | None:
    """The directory whose ``python`` is this interpreter, when there is one (a virtualenv's
    ``bin``). Page commands run that very file: a symlink elsewhere would lose the virtualenv,
    and a wrapper script would drop variables like ``conductor.worker.all.domain`` (not valid
    shell names)."""
    executable = Path(sys.executable)
    sibling = executable.parent / "python"
    return str(executable.parent) if sibling.exists() and sibling.samefile(executable) else None


def page_env(directory: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The hermetic environment of ``_support.cli_tree`` with the library's defaults (no fast
    numbers, no flavour), the outbox in ``directory/state``, this interpreter as the first
    ``python`` on PATH and no PYTHONPATH (a reader's shell has none), plus ``extra``."""
    env = hermetic_env(directory / "state", settings={}, flavour=None)
    first = _venv_python_dir() or str(directory / "bin")
    env["PATH"] = f"{first}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    env.update(extra or {})
    return env


def run_shell(
    command: str, directory: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with ``sh -c`` in ``directory`` (prepared with ``prepare_workdir``);
    stdout and stderr are captured together."""
    return run_argv(["sh", "-c", command], directory, extra_env or {})


def run_argv(argv: list[str], directory: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in ``directory`` with ``page_env`` plus ``env``; output captured together."""
    return subprocess.run(
        argv, cwd=directory, env=page_env(directory, env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=COMMAND_TIMEOUT,
    )


_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def links(text: str) -> list[str]:
    """Targets of the inline links of a page (outside fenced blocks and code spans)."""
    found: list[str] = []
    for _, line, fenced in _lines_with_fence_flag(text):
        if not fenced:
            found += _LINK.findall(_CODE_SPAN.sub("", line))
    return found


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def docs_probe(value: int = 0) -> dict[str, int]:
    """A worker function the documentation tests build ``Worker``s and ``TaskHandler``s around
    (they are never started, so it never runs)."""
    return {"value": value}


_PROCESSES_SCRIPT = (
    "import json\n"
    "from conductor_actors import TaskHandler\n"
    "handler = TaskHandler(import_modules=['my_app.workers'], scan_for_annotated_workers=True)\n"
    "print(json.dumps({c.task_definition_name: c.processes for c in handler.configs.values()}))\n"
)


def worker_processes(directory: Path, env: dict[str, str]) -> dict[str, int]:
    """Task type -> worker processes of the example app under ``env`` (resolved in a subprocess,
    so the app's workers never register in the test process)."""
    done = run_argv([sys.executable, "-c", _PROCESSES_SCRIPT], directory, env)
    if done.returncode != 0:
        raise AssertionError(f"resolving the example app's workers failed:\n{done.stdout}")
    return {str(k): int(v) for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}
