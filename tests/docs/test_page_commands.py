"""Every shell command the operating pages show runs, for real, and does what the page says.

Each command of a ```` ```sh ```` block runs with ``sh -c`` in a directory holding the example app
``my_app`` (from ``configuration.md``) and the page's titled files (the environment file...), with
no Conductor variable from outside and ``python`` being this interpreter. It must exit 0 (or the
``# exits N`` it is marked with), and print exactly the ```` ```text ```` block that follows it.
Commands in prose (a code span starting with ``python -m conductor_actors``) run too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from _support.docs_tools import (
    OPERATING_PAGES,
    Command,
    fenced_blocks,
    page_commands,
    page_text,
    prepare_workdir,
    run_shell,
)

#: Fence languages that hold commands: only ``sh`` blocks are run, so no other may appear.
SHELL_LANGS = {"bash", "shell", "console", "zsh", "shell-session", "sh-session"}
COMMANDS = [command for page in OPERATING_PAGES for command in page_commands(page)]


def _id(command: Command) -> str:
    return f"{command.page}:{command.text[:70]}"


def test_the_pages_show_commands() -> None:
    """Each operating page has commands for this suite to run (an empty parametrisation passes)."""
    assert {command.page for command in COMMANDS} == set(OPERATING_PAGES)


@pytest.mark.parametrize("command", COMMANDS, ids=[_id(c) for c in COMMANDS])
def test_command_runs_as_the_page_says(command: Command, tmp_path: Path) -> None:
    prepare_workdir(tmp_path, command.page)
    done = run_shell(command.text, tmp_path)
    assert done.returncode == command.expected_exit, (
        f"`{command.text}` exited {done.returncode}, the page expects {command.expected_exit}\n{done.stdout}"
    )
    if command.expected_output is not None:
        assert done.stdout == command.expected_output, f"`{command.text}` printed something else than the page shows"


@pytest.mark.parametrize("page", OPERATING_PAGES)
def test_no_command_hides_in_another_fence(page: str) -> None:
    """Commands appear only in ``sh`` blocks (which are run), never in bash/console/shell blocks."""
    blocks = fenced_blocks(page_text(page))
    others = [(b.start, b.lang) for b in blocks if b.lang in SHELL_LANGS]
    assert others == [], f"{page}: put commands in ```sh blocks so that they are tested"
    untested = [
        (b.start, line) for b in blocks if b.lang != "sh" and b.title is None
        for line in b.body.splitlines() if re.match(r"\s*(\$ |python3? |sudo |systemctl |kubectl )", line)
    ]
    assert untested == [], f"{page}: commands outside ```sh blocks are not run by this suite"


@pytest.mark.parametrize("page", OPERATING_PAGES)
def test_prose_commands_run(page: str, tmp_path: Path) -> None:
    """Inline commands (`python -m conductor_actors ...` in a sentence) must work as well."""
    inline = re.findall(r"`(python -m conductor_actors[^`]*)`", page_text(page))
    runnable = [c for c in inline if c.split()[3:] and not re.search(r"MODULE|COMMAND|\[", c)]
    prepare_workdir(tmp_path, page)
    for text in runnable:
        done = run_shell(text, tmp_path)
        assert done.returncode == 0, f"{page}: `{text}` exited {done.returncode}\n{done.stdout}"


@pytest.mark.parametrize("page", OPERATING_PAGES)
def test_python_examples_are_valid_python(page: str) -> None:
    for block in fenced_blocks(page_text(page)):
        if block.lang == "python":
            ast.parse(block.body, filename=f"{page}:{block.start}")
