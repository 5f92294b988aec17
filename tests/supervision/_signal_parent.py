"""A small parent program for the real-signal tests: supervises two fake children, routes SIGTERM
and SIGINT to the supervisor with ``install_signal_handlers`` and exits with ``join()``'s code.

Usage: ``python _signal_parent.py RECORD_DIR [linger]`` (with the tests directory on PYTHONPATH).
Prints ``READY <pid> <pid>`` once both children are up. With ``linger`` the children keep their
"tasks" running for the whole 30 s grace period of a graceful stop.
"""

from __future__ import annotations

import sys

from _support.fake_children import fake_child_main, fake_settings, well_behaved

from conductor_actors.settings import SupervisionSettings
from conductor_actors.supervision import ProcessSupervisor, install_signal_handlers


def main(argv: list[str]) -> int:
    record_dir, linger = argv[1], argv[2:] == ["linger"]
    supervisor = ProcessSupervisor(
        [fake_settings(key, well_behaved(record_dir, linger=linger)) for key in ("alpha", "beta")],
        settings=SupervisionSettings(
            shutdown_grace=30.0, shutdown_flush=1.0, kill_timeout=1.0, fast_shutdown_timeout=2.0
        ),
        on_message=lambda status, message: None,
        target=fake_child_main,
    )
    restore = install_signal_handlers(supervisor)
    supervisor.start()
    if supervisor.wait_ready(30.0):
        print("READY " + " ".join(str(status.pid) for status in supervisor.status()), flush=True)
    else:
        print("NOT READY", flush=True)
        supervisor.request_stop(fast=True)
    code = supervisor.join()
    restore()
    return 2 if code is None else code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
