"""The worker examples of the feature document ("Worker Architecture" v4.1), runnable on conductor_actors.

Each module holds the examples of one section of the document, copied as written there: only the
import lines differ (``conductor.client...`` became ``conductor_actors``, and imports were added for
names a snippet uses without importing them). Names the document uses but never defines
(``expensive_computation``, ``send_notification``, ``alert``...) come from ``_doc_names``.

- ``worker_model``: ``process_data`` (def), ``fetch_data`` (async def)
- ``async_runner``: ``fetch_data`` returning the JSON itself, ``log_event`` / ``notify`` returning None
- ``configuration``: ``process_order`` configured in code and overridden by the environment
- ``registration``: ``OrderInfo`` / ``process_order``, ``validate_order``, ``stable_task``
- ``long_running``: ``batch_processor``, ``wait_for_approval``
- ``performance``: ``compute_task``, ``file_task``, ``api_task``, ``mixed_task``
- ``concurrency``: ``api_calls``
- ``rollback``: ``fetch_data`` as a ``def`` running ``asyncio.run``
- ``listeners``: ``CustomMonitor``, ``UpdateFailureHandler``, ``SLAMonitor``, ``CostTracker``
- ``handler_main``: the document's ``TaskHandler`` code (``with TaskHandler(...) as handler:``
  ``start_processes()``, ``join_processes()``) with its listeners, for the modules named on the
  command line

Modules that define the same task name (``fetch_data``, ``process_order``) are run in separate
processes; the tests import none of them into the test process.
"""
