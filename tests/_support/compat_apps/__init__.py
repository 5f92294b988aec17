"""Programs for the compatibility tests: official-SDK-style code with only its imports changed,
run in real processes (``python -m conductor_actors <module>`` or ``python -m <script>``) from the
tests directory against the test's dev server.

The tests start them as ``CliTree`` processes with the hermetic environment of
``_support.cli_tree``. Modules that define workers choose their flavour from ``CLI_APPS_FLAVOUR``
("sync" or "async"), as the CLI scenarios do.
"""

from __future__ import annotations

__all__ = [
    "CLASS_TASK",
    "DECORATED_TASK",
    "FUNCTION_TASK",
    "GREET_ASYNC_TASK",
    "GREET_TASK",
    "LISTED_TASK",
    "OBJECT_TASKS",
]

#: Task types of the programs' workers. Tests take them from here instead of importing a program,
#: so the test process's worker registry stays clean.
FUNCTION_TASK = "compat_objects_function"
CLASS_TASK = "compat_objects_class"
LISTED_TASK = "compat_objects_listed"
DECORATED_TASK = "compat_objects_decorated"
OBJECT_TASKS = (FUNCTION_TASK, CLASS_TASK, LISTED_TASK, DECORATED_TASK)
GREET_TASK = "compat_greet"
GREET_ASYNC_TASK = "compat_greet_async"
