"""The poller's ref is known to the other stages before its first poll.

The sync pipeline starts the poller's thread and only then stores the ref it gets back; on a busy
machine the first task can be polled, run and settled in between, and the updater's ``SlotsFreed``
for it went nowhere: with one slot the worker never polled again. The async pipeline starts every
stage on its loop without an await in between, so it has no such window; the test is sync only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _support.waiting import wait_until

from conductor_actors.actors import ActorPool
from conductor_actors.runtime._sync import SyncExecutor, SyncPoller, SyncUpdater, _Sends
from conductor_actors.runtime._update import UpdaterLogic

if TYPE_CHECKING:
    from runtime.conftest import PipelineHarness


@pytest.mark.parametrize("flavour", ["sync"])
def test_a_slot_freed_before_the_poller_ref_is_stored_reaches_the_poller(pipeline: PipelineHarness) -> None:
    """The stages are started as the sync pipeline starts them, except that the launcher never gets
    to store the poller's ref: the widest form of the window between the poller's thread starting
    and ``start()`` storing its ref. Two tasks one after the other through one slot show that the
    slot freed by the first reached the poller (the second is started once the first settled, so
    update-v2 cannot chain it)."""
    first = pipeline.start_workflows([{"x": 1}])
    runner = pipeline.runner(pipeline.worker("echo"), start=False)  # for its state only; never started
    client = pipeline.recording_client()
    w = runner._build_state()
    w.client = client
    name = w.task_type
    logic, sends = UpdaterLogic(w.runtime), _Sends()
    w.updater = ActorPool.start(lambda: SyncUpdater(w, logic, {}, sends), 1, name=f"{name}-updater")
    w.executor = ActorPool.start(lambda: SyncExecutor(w, logic, sends), 1, name=f"{name}-executor")
    poller = SyncPoller.start(w, name=f"{name}-poller")
    try:
        pipeline.complete(first)
        wait_until(lambda: len(w.ledger) == 0, what="the first result to be settled")
        pipeline.complete(pipeline.start_workflows([{"x": 2}]))
    finally:
        for ref in (poller, w.executor, w.updater):
            ref.stop(timeout=5)
        client.close()
