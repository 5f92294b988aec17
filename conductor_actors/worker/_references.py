"""Spawn safety: a worker must be re-creatable in a child process started with 'spawn'.

Worker functions travel to children as a re-importable reference (module, qualified name and how
many ``__wrapped__`` hops lead from that name to the function); other callables and class-based
worker instances travel by pickle. The checks here turn what cannot work into a
``WorkerRegistrationError`` that says how to fix it, instead of a ``PicklingError`` in a child.
Runs in whichever thread registers or pickles a worker.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._exceptions import WorkerRegistrationError

__all__ = [
    "FunctionReference",
    "check_definition",
    "check_picklable",
    "function_reference",
    "is_plain_function",
]

#: Longest ``__wrapped__`` chain followed from a module-level name to the worker function.
_MAX_WRAP_DEPTH = 32

_MAIN_HINT = (
    " Functions and classes in the main script are re-imported by every worker process: define them"
    " at module level and keep the code that starts the workers under"
    ' `if __name__ == "__main__":`.'
)


def _main_hint(module: str | None) -> str:
    return _MAIN_HINT if module in ("__main__", "__mp_main__") else ""


def is_plain_function(obj: object) -> bool:
    """True for a function defined with ``def``/``async def``/``lambda`` (travels by reference)."""
    return inspect.isfunction(obj)


def check_definition(func: Callable[..., Any], task_name: str) -> None:
    """Reject, at registration time, callables that can never be re-imported in a child.

    Lambdas and functions defined inside other functions are rejected; other callables (bound
    methods, callable instances, partials) must pickle. The module-level name of a function is
    checked later by ``function_reference`` (it is not bound yet while a decorator runs).
    Raises ``WorkerRegistrationError``.
    """
    if not callable(func):
        raise WorkerRegistrationError(
            f"worker {task_name!r}: execute_function must be callable, got {type(func).__name__}"
        )
    if is_plain_function(func):
        qualname = func.__qualname__
        if func.__name__ == "<lambda>":
            raise WorkerRegistrationError(
                f"worker {task_name!r}: a lambda cannot be a worker function, because worker processes"
                " re-import the function by its module and name. Define it with `def` at module level."
                + _main_hint(func.__module__)
            )
        if "<locals>" in qualname:
            raise WorkerRegistrationError(
                f"worker {task_name!r}: {func.__module__}.{qualname} is defined inside another function,"
                " so worker processes cannot re-import it. Define it at module level; if a decorator"
                " produced it, decorate the wrapper with functools.wraps(func)."
                + _main_hint(func.__module__)
            )
        return
    check_picklable(func, f"worker {task_name!r}: the callable {func!r}")


def check_picklable(obj: object, what: str) -> None:
    """Raise ``WorkerRegistrationError`` unless ``pickle.dumps(obj)`` works."""
    try:
        pickle.dumps(obj)
    except Exception as exc:
        module = getattr(type(obj), "__module__", None)
        raise WorkerRegistrationError(
            f"{what} cannot be pickled ({type(exc).__name__}: {exc}). Worker processes are started"
            " with 'spawn' and receive their worker by pickle: define the class at module level and"
            " keep only picklable state on it (create clients, locks and connections lazily, inside"
            " execute)." + _main_hint(module)
        ) from exc


@dataclass(frozen=True)
class FunctionReference:
    """Where a worker function can be found again: ``module.qualname`` then ``depth`` unwraps."""

    module: str
    qualname: str
    depth: int = 0

    def resolve(self) -> Callable[..., Any]:
        """Import the module and return the function. Raises ``WorkerRegistrationError``."""
        try:
            obj: Any = sys.modules.get(self.module) or importlib.import_module(self.module)
            for part in self.qualname.split("."):
                obj = getattr(obj, part)
            for _ in range(self.depth):
                obj = obj.__wrapped__
        except Exception as exc:
            raise WorkerRegistrationError(
                f"cannot re-import worker function {self.module}.{self.qualname}"
                f" ({type(exc).__name__}: {exc})." + _main_hint(self.module)
            ) from exc
        return obj  # type: ignore[no-any-return]


def function_reference(func: Callable[..., Any], task_name: str) -> FunctionReference:
    """The reference a child process uses to find ``func``, after checking that it works.

    The module-level name ``func.__module__``/``func.__qualname__`` must lead to ``func`` itself
    or to a wrapper whose ``__wrapped__`` chain (functools.wraps) reaches it. Raises
    ``WorkerRegistrationError`` saying how to fix it otherwise.
    """
    module_name, qualname = func.__module__, func.__qualname__
    where = f"worker {task_name!r}: {module_name}.{qualname}"
    try:
        obj: Any = sys.modules.get(module_name) or importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception as exc:
        raise WorkerRegistrationError(
            f"{where} cannot be found by its module-level name ({type(exc).__name__}: {exc}), so worker"
            " processes cannot re-import it. Define the function at module level under its own name."
            + _main_hint(module_name)
        ) from exc
    depth = 0
    while obj is not func:
        obj = getattr(obj, "__wrapped__", None)
        depth += 1
        if obj is None or depth > _MAX_WRAP_DEPTH:
            raise WorkerRegistrationError(
                f"{where}: the module-level name {qualname!r} no longer points at the worker function"
                " (was it wrapped by a decorator that does not use functools.wraps?). Worker processes"
                " re-import the function by that name: use functools.wraps(func) in the decorator, or"
                " apply the other decorator below @worker_task." + _main_hint(module_name)
            )
    return FunctionReference(module_name, qualname, depth)
