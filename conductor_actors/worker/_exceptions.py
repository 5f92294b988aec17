"""Exceptions of the worker model.

::

    NonRetryableException        raised BY a worker function: fail the task for good
                                 (FAILED_WITH_TERMINAL_ERROR, no retry)
    WorkerConfigError            (ValueError) a worker property has a value that cannot work;
                                 the message names the variable or keyword and the value
    WorkerRegistrationError      (ValueError) a worker cannot be registered or cannot run in a
                                 child process; the message says how to fix it
    WorkerDiscoveryError         (ImportError) a scanned module failed to import; the message
                                 names the module and carries the original traceback
    TaskContextError             (RuntimeError) get_task_context() outside a running task

Pure definitions; usable from any thread or event loop. All of them pickle.
"""

from __future__ import annotations

__all__ = [
    "NonRetryableException",
    "TaskContextError",
    "WorkerConfigError",
    "WorkerDiscoveryError",
    "WorkerRegistrationError",
]


class NonRetryableException(Exception):
    """Raise from a worker function to fail the task with FAILED_WITH_TERMINAL_ERROR (no retry)."""


class WorkerConfigError(ValueError):
    """A worker property (from code or the environment) has a value that cannot work."""


class WorkerRegistrationError(ValueError):
    """A worker cannot be registered, or could not be re-created in a spawned child process."""


class WorkerDiscoveryError(ImportError):
    """Importing a module during worker discovery failed (the cause is chained)."""


class TaskContextError(RuntimeError):
    """The task context was requested outside a running task."""
