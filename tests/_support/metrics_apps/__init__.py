"""Worker modules for the metrics tests (real worker processes under ``TaskHandler``).

Worker processes re-import worker functions by module and name, so they live in this package
rather than inside the tests. ``workers`` holds ``def``/``async def`` twins; ``make_worker``
builds the ``Worker`` of the flavour a test runs.
"""

from __future__ import annotations

from .workers import (
    FAILURE_CLASS_NAME,
    MetricsAppError,
    make_worker,
    output_of,
    serialised_size,
    worker_function,
)

__all__ = [
    "FAILURE_CLASS_NAME",
    "MetricsAppError",
    "make_worker",
    "output_of",
    "serialised_size",
    "worker_function",
]
