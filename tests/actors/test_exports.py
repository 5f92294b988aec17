"""The public surface of ``conductor_actors.actors`` stays explicit and small."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import conductor_actors.actors as actors

PUBLIC = {
    "Actor",
    "ActorDeadError",
    "ActorFailed",
    "ActorPool",
    "ActorRef",
    "ActorSupervisor",
    "AsyncioActor",
    "LoopDeadlines",
    "MailboxClosed",
    "ManualTimerService",
    "RestartIntensity",
    "RestartPolicy",
    "ThreadActor",
    "ThreadTimerService",
    "TimerHandle",
    "TimerService",
    "restart_backoff",
}


def test_all_is_sorted_complete_and_importable() -> None:
    assert actors.__all__ == sorted(actors.__all__)
    assert set(actors.__all__) == PUBLIC
    for name in actors.__all__:
        assert getattr(actors, name) is not None


def test_implementation_modules_are_private_and_use_postponed_annotations() -> None:
    package_dir = Path(actors.__file__).parent
    for module in pkgutil.iter_modules([str(package_dir)]):
        assert module.name.startswith("_"), f"{module.name} should be private"
        importlib.import_module(f"conductor_actors.actors.{module.name}")
    for path in package_dir.glob("*.py"):
        assert "from __future__ import annotations" in path.read_text(), path.name


def test_errors_form_the_documented_tree() -> None:
    assert issubclass(actors.MailboxClosed, actors.ActorDeadError)
    assert issubclass(actors.ActorDeadError, RuntimeError)


def test_the_package_docstring_example_runs() -> None:
    after = (actors.__doc__ or "").split("::\n", 1)[1].splitlines()
    block: list[str] = []
    for line in after:
        if line.strip() and not line.startswith("    "):
            break  # the indented literal block ends at the first unindented line
        block.append(line[4:])
    namespace: dict[str, object] = {}
    exec(compile("\n".join(block), "<actors docstring>", "exec"), namespace)
    counter = namespace["counter"]
    assert isinstance(counter, actors.ActorRef) and not counter.is_alive()


_THREAD_ONLY_PROBE = """
import json, sys
from conductor_actors import actors

class Echo(actors.ThreadActor):
    def on_receive(self, message):
        return message

ref = Echo.start()
answer = ref.ask("hello", timeout=10)
ref.stop(timeout=10)
print(json.dumps({"answer": answer, "asyncio": "asyncio" in sys.modules,
                  "exported": actors.AsyncioActor.__name__}))
"""


def test_thread_actors_run_without_loading_asyncio() -> None:
    """Sync worker processes use the kernel and must not pay for asyncio (checked in a fresh
    interpreter, where nothing else loaded it first)."""
    done = subprocess.run(
        [sys.executable, "-c", _THREAD_ONLY_PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"answer": "hello", "asyncio": False, "exported": "AsyncioActor"}
