"""The worker process's entry point builds its pipeline from the parent's ``WorkerSettings`` as
they are: the pipeline's state carries the process's key, index and log options."""

from __future__ import annotations

import multiprocessing
import pickle

import pytest
from _support.pipeline_workers import worker_function

from conductor_actors.client import Configuration
from conductor_actors.runtime import EXIT_BOOT_FAILURE, WorkerRunner, WorkerSettings, _child
from conductor_actors.runtime._pipeline import PipelineState
from conductor_actors.settings import RuntimeSettings
from conductor_actors.worker import Worker, resolve_worker_config


def test_the_worker_process_pipeline_carries_the_parents_worker_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker = Worker("settings_probe", worker_function("nap", "sync"))
    parents = WorkerSettings(
        key="settings_probe[domain=eu]#2",
        task_type="settings_probe",
        worker_payload=pickle.dumps(worker),
        worker_config=resolve_worker_config(worker, env={}),
        configuration=Configuration(server_api_url="http://127.0.0.1:9/api", env={}),
        runtime=RuntimeSettings(),
        process_index=2,
        log_format="json",
    )
    built: list[PipelineState] = []

    class StopsOnceBuilt(WorkerRunner):
        """Records the pipeline state the real runner builds, then fails the start (no server)."""

        def _build_state(self) -> PipelineState:
            built.append(super()._build_state())
            raise RuntimeError("the state is built; the test needs no more")

    monkeypatch.setattr(_child, "WorkerRunner", StopsOnceBuilt)
    parent_end, child_end = multiprocessing.Pipe()
    with pytest.raises(SystemExit) as exited:
        _child._run(parents, worker, [], child_end, _child._StopLatch())

    assert exited.value.code == EXIT_BOOT_FAILURE
    [state] = built
    assert state.worker_settings is parents
    assert state.worker_settings.key == "settings_probe[domain=eu]#2"
    parent_end.close()
    child_end.close()
