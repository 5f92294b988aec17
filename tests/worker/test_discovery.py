"""Worker discovery: packages (recursive or not), modules, paths, import errors, merging."""

from __future__ import annotations

import io

import pytest

from conductor_actors.worker import (
    Worker,
    WorkerDiscoveryError,
    WorkerLoader,
    WorkerRegistrationError,
    auto_discover_workers,
    get_registered_workers,
    merge_workers,
    scan_for_workers,
    worker_task,
)


def worker_module(task: str, *, is_async: bool = False, domain: str | None = None) -> str:
    keyword = "async def" if is_async else "def"
    return (
        "from conductor_actors.worker import worker_task\n\n"
        f"@worker_task(task_definition_name={task!r}, domain={domain!r})\n"
        f"{keyword} {task}(x: int) -> dict:\n"
        "    return {'x': x}\n"
    )


@pytest.fixture
def shop(write_module):
    """shop/ (orders.py, _private.py), shop/payments/ (charge.py async, deep/refund.py)."""
    write_module("shop/__init__.py", worker_module("shop_root"))
    write_module("shop/orders.py", worker_module("place_order"))
    write_module("shop/_private.py", worker_module("private_job"))
    write_module("shop/payments/__init__.py", "")
    write_module("shop/payments/charge.py", worker_module("charge_card", is_async=True, domain="eu"))
    write_module("shop/payments/deep/__init__.py", "")
    write_module("shop/payments/deep/refund.py", worker_module("refund"))
    write_module("elsewhere.py", worker_module("not_scanned"))
    return "shop"


def test_scan_packages_recursive(shop):
    loader = WorkerLoader()
    loader.scan_packages([shop])
    assert sorted(loader.get_worker_names()) == ["charge_card", "place_order", "private_job", "refund", "shop_root"]
    assert loader.get_worker_count() == 5
    assert "shop.payments.deep.refund" in loader.get_scanned_modules()
    assert all(isinstance(w, Worker) for w in loader.get_workers())


def test_scan_packages_not_recursive(shop):
    loader = WorkerLoader()
    loader.scan_packages(shop, recursive=False)
    assert sorted(loader.get_worker_names()) == ["place_order", "private_job", "shop_root"]
    assert "shop.payments" in loader.get_scanned_modules()  # the sub-package itself is imported
    assert "shop.payments.charge" not in loader.get_scanned_modules()


def test_scan_module_and_get_workers_only_returns_what_was_scanned(shop):
    import elsewhere  # noqa: F401 - registered, but not by this loader

    loader = WorkerLoader()
    loader.scan_module("shop.orders")
    assert loader.get_worker_names() == ["place_order"]
    assert "not_scanned" in {w.task_definition_name for w in get_registered_workers()}


def test_modules_imported_before_scanning_are_still_found(shop):
    import shop.orders  # noqa: F401

    assert WorkerLoader().get_worker_count() == 0
    loader = WorkerLoader()
    loader.scan_module("shop.orders")
    assert loader.get_worker_names() == ["place_order"]


def test_scan_path_without_prefix(write_module, tmp_path):
    write_module("loose/first.py", worker_module("loose_first"))
    write_module("loose/_skipped.py", worker_module("loose_skipped"))
    write_module("loose/nested/second.py", worker_module("loose_second"))
    write_module("loose/__pycache__/junk.py", "raise RuntimeError('never imported')\n")
    loader = WorkerLoader()
    loader.scan_path(tmp_path / "loose")
    assert sorted(loader.get_worker_names()) == ["loose_first", "loose_second"]
    assert sorted(loader.get_scanned_modules()) == ["first", "nested.second"]


def test_scan_path_with_package_prefix(shop, tmp_path):
    loader = WorkerLoader()
    loader.scan_path(str(tmp_path / "shop" / "payments"), package_prefix="shop.payments")
    assert sorted(loader.get_worker_names()) == ["charge_card", "refund"]
    assert "shop.payments.deep.refund" in loader.get_scanned_modules()


def test_scan_path_of_one_file(write_module):
    path = write_module("single/only.py", worker_module("only_one"))
    loader = WorkerLoader()
    loader.scan_path(path)
    assert loader.get_worker_names() == ["only_one"]


def test_scan_path_that_does_not_exist(tmp_path):
    with pytest.raises(WorkerDiscoveryError, match="does not exist"):
        WorkerLoader().scan_path(tmp_path / "missing")


def test_import_error_names_the_module_and_keeps_the_traceback(write_module):
    write_module("broken/__init__.py", "")
    write_module("broken/good.py", worker_module("good_job"))
    write_module("broken/bad.py", "import json\n\ndef helper():\n    return 1 / 0\n\nVALUE = helper()\n")
    with pytest.raises(WorkerDiscoveryError) as info:
        WorkerLoader().scan_packages(["broken"])
    message = str(info.value)
    assert "'broken.bad'" in message
    assert "ZeroDivisionError" in message
    assert "Traceback (most recent call last)" in message and "in helper" in message
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert isinstance(info.value, ImportError)


def test_missing_package_is_a_discovery_error(write_module):
    with pytest.raises(WorkerDiscoveryError, match="'no_such_package_xyz'") as info:
        WorkerLoader().scan_packages(["no_such_package_xyz"])
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_syntax_error_is_a_discovery_error(write_module):
    write_module("syntax_broken.py", "def oops(:\n")
    with pytest.raises(WorkerDiscoveryError, match="SyntaxError"):
        WorkerLoader().scan_module("syntax_broken")


def test_scan_rejects_a_worker_that_cannot_be_reimported(write_module):
    write_module(
        "rebound.py",
        "from conductor_actors.worker import worker_task\n\n"
        "def job(x: int) -> dict:\n    return {}\n\n"
        "worker_task(task_definition_name='rebound_job')(job)\n"
        "job = 'replaced'\n",
    )
    with pytest.raises(WorkerRegistrationError, match=r"rebound\.job"):
        WorkerLoader().scan_module("rebound")


def test_summary_and_helpers(shop, capsys):
    loader = scan_for_workers(shop)
    assert loader.get_worker_count() == 5
    out = io.StringIO()
    loader.print_summary(file=out)
    text = out.getvalue()
    assert text.startswith("Discovered 5 worker(s) in ")
    assert "charge_card [async, domain=eu] shop.payments.charge.charge_card" in text
    assert "place_order [sync] shop.orders.place_order" in text

    discovered = auto_discover_workers(packages=["shop.payments"], print_summary=True)
    assert sorted(discovered.get_worker_names()) == ["charge_card", "refund"]
    assert "Discovered 2 worker(s)" in capsys.readouterr().out
    quiet = auto_discover_workers(packages=["shop.orders"], print_summary=False)
    assert quiet.get_worker_names() == ["place_order"]
    assert capsys.readouterr().out == ""


def test_auto_discover_paths(write_module, tmp_path, capsys):
    write_module("by_path/job.py", worker_module("path_job"))
    loader = auto_discover_workers(paths=[tmp_path / "by_path"], print_summary=False)
    assert loader.get_worker_names() == ["path_job"]


def first(x: int) -> dict:
    return {}


def second(x: int) -> dict:
    return {}


def test_merge_explicit_and_scanned_without_duplicates(shop):
    loader = scan_for_workers(shop)
    scanned = loader.get_workers()
    explicit = Worker("place_order", first, thread_count=9)  # same task as a scanned worker
    merged = merge_workers([explicit], scanned)
    names = [(w.get_task_definition_name(), w.domain) for w in merged]
    assert len(names) == len(set(names)) == 5
    assert merged[0] is explicit  # explicit first, and it wins
    again = merge_workers(scanned, scanned)  # passing the scanned list explicitly too
    assert [id(w) for w in again] == [id(w) for w in scanned]


def test_merge_keeps_different_domains_apart():
    worker_task("merge_task")(first)
    worker_task("merge_task", domain="eu")(first)
    assert len(merge_workers([], get_registered_workers())) == len(get_registered_workers())


def test_merge_rejects_two_explicit_workers_for_one_task():
    with pytest.raises(WorkerRegistrationError, match="two different workers were given for task 'same'"):
        merge_workers([Worker("same", first), Worker("same", second)], [])
