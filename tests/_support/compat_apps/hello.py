"""The official hello-world example, written again with conductor_actors imports.

Its workers: one ``def`` and one ``async def`` greeting worker (``python -m conductor_actors
_support.compat_apps.hello`` runs them). Its program (``python -m _support.compat_apps.hello``)
registers the workflow with the workflow executor (as a ``WorkflowDef``: there is no workflow
DSL), starts the workers with ``TaskHandler(configuration=...)``, executes the workflow and waits
for its result, prints it and stops the workers, as the official script does.
"""

from __future__ import annotations

from conductor_actors import (
    Configuration,
    TaskHandler,
    WorkflowDef,
    WorkflowExecutor,
    WorkflowTask,
    worker_task,
)

from . import GREET_ASYNC_TASK, GREET_TASK


@worker_task(task_definition_name=GREET_TASK)
def greet(name: str) -> str:
    return f"Hello, {name}"


@worker_task(task_definition_name=GREET_ASYNC_TASK)
async def greet_async(name: str) -> str:
    return f"Hello, {name} (async)"


def greetings_workflow() -> WorkflowDef:
    return WorkflowDef(
        name="compat_greetings", version=1, schema_version=2, timeout_seconds=60,
        tasks=[WorkflowTask(name=GREET_TASK, task_reference_name="greet", type="SIMPLE",
                            input_parameters={"name": "${workflow.input.name}"}),
               WorkflowTask(name=GREET_ASYNC_TASK, task_reference_name="greet_async", type="SIMPLE",
                            input_parameters={"name": "${greet.output.result}"})],
        output_parameters={"greeting": "${greet_async.output.result}"},
    )


def main() -> None:
    api_config = Configuration()
    workflow_executor = WorkflowExecutor(configuration=api_config)
    workflow = greetings_workflow()
    workflow_executor.register_workflow(workflow, True)

    task_handler = TaskHandler(configuration=api_config)
    task_handler.start_processes()

    workflow_run = workflow_executor.execute(name=workflow.name, version=workflow.version,
                                             workflow_input={"name": "World"}, wait_for_seconds=30)
    print(f"workflow result: {workflow_run.status} {workflow_run.output}", flush=True)
    print(f"see the workflow execution here: {api_config.ui_host}/execution/{workflow_run.workflow_id}", flush=True)

    task_handler.stop_processes()


if __name__ == "__main__":
    main()
