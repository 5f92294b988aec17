"""Tasks that cannot be decoded: the array splitter, the parsers, and both clients over loopback.

One task of an answer that ``json`` cannot read (nested too deep, invalid UTF-8, an integer over the
interpreter's digit limit, broken JSON) must not cost the other tasks of the answer: the batch
answer is split into its elements and each is decoded on its own; what could be read of a broken
one (its ids) is kept so the runtime can fail it on the server.
"""

from __future__ import annotations

import json
import logging
import pickle
import random
import sys
from collections.abc import Callable
from typing import Any

import pytest
from client._driver import Driver, configuration_for
from client._scripted import ScriptedServer, answer

from conductor_actors.client import (
    InvalidResponseError,
    Task,
    TaskBatch,
    TaskResult,
    TaskResultStatus,
    UndecodableTask,
    UndecodableTaskError,
)
from conductor_actors.client._answers import _split_array, parse_optional_task, parse_tasks
from conductor_actors.client._calls import HttpRequest

BATCH = HttpRequest("GET", "/tasks/poll/batch/echo")
UPDATE_V2 = HttpRequest("POST", "/tasks/update-v2")
DIGIT_LIMIT = sys.get_int_max_str_digits()


def elements(body: bytes) -> list[Any]:
    """The decoded elements the splitter found in ``body`` (which must be an array)."""
    split = _split_array(body)
    assert split is not None, body[:200]
    return [json.loads(body[start:end]) for start, end, _ in split]


def task_json(n: int, input_json: bytes = b'{"n": 1}', **extra: str) -> bytes:
    """A task object as the server sends it, with ``input_json`` spliced in as its inputData."""
    head = {"taskId": f"t{n}", "workflowInstanceId": f"w{n}", "taskType": "echo", "status": "IN_PROGRESS", **extra}
    return json.dumps(head).encode()[:-1] + b', "inputData": ' + input_json + b"}"


def deeply_nested(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


#: Each kind of breakage: the inputData that breaks a task, and the reason the task gets.
BREAKAGES = {
    "deep": (b'{"x": ' + deeply_nested(10_000) + b"}", "JSON nested 10002 levels deep"),
    "invalid_utf8": (b'{"text": "caf\xe9 \xff"}', "invalid UTF-8 at byte"),
    "huge_integer": (b'{"n": 1' + b"0" * 5000 + b"}", f"an integer with 5001 digits, more than the {DIGIT_LIMIT}"),
    "broken_json": (b'{"flag": tru}', "not valid JSON (Expecting value"),
}


# ----------------------------------------------------------------------------------------------
# The splitter


@pytest.mark.parametrize("body", [b"[]", b" [ ]\n", b"\t[\r\n]\t", b"\xef\xbb\xbf[]"])
def test_an_empty_array_has_no_element(body: bytes) -> None:
    assert _split_array(body) == []


def test_every_kind_of_element_is_split_with_its_nesting_depth() -> None:
    body = b'[{"a": [1, {"b": 2}]}, [1, [2]], "s", -1.5e3, 17, true, false, null, {}, []]'
    split = _split_array(body)
    assert split is not None
    assert [json.loads(body[start:end]) for start, end, _ in split] == json.loads(body)
    assert [depth for _, _, depth in split] == [3, 2, 0, 0, 0, 0, 0, 0, 1, 1]


def test_strings_holding_brackets_quotes_commas_and_escapes_do_not_split() -> None:
    tricky = ["[", "]", "{", "}", ",", ":", '"', "\\", '\\"]', 'a\\', '"],[', "\u005d", "é ☃ \U0001f600", ""]
    values = [*tricky, {"k[": "v]", "q\"": ["\\", "],"]}, [",", {"}": "{"}]]
    body = json.dumps(values).encode()
    assert elements(body) == values
    escaped = json.dumps(values, ensure_ascii=True).encode()  # \uXXXX escapes
    assert elements(escaped) == values


def test_whitespace_anywhere_is_kept_out_of_the_elements() -> None:
    body = b' \n[ \t{ "a" : 1 } ,\r\n 2 ,"x"\n ] \n\n'
    assert elements(body) == [{"a": 1}, 2, "x"]


def test_random_json_arrays_split_into_exactly_their_elements() -> None:
    rng = random.Random(14)
    alphabet = ['"', "\\", "[", "]", "{", "}", ",", ":", " ", "a", "é", "\n", "\u2028", "/"]

    def value(depth: int) -> Any:
        kind = rng.randrange(7 if depth < 5 else 4)
        if kind == 0:
            return "".join(rng.choice(alphabet) for _ in range(rng.randrange(8)))
        if kind == 1:
            return rng.choice([0, -3, 2.5, 1e300, True, False, None])
        if kind == 2:
            return rng.randrange(-(10**30), 10**30)
        if kind == 3:
            return ""
        if kind in (4, 5):
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        return {"".join(rng.choice(alphabet) for _ in range(3)): value(depth + 1) for _ in range(rng.randrange(4))}

    for _ in range(200):
        array = [value(0) for _ in range(rng.randrange(6))]
        separators = rng.choice([(",", ":"), (", ", ": ")])
        body = json.dumps(array, separators=separators, ensure_ascii=rng.random() < 0.5).encode()
        assert elements(body) == array, body


def test_nesting_far_deeper_than_the_decoder_follows_is_split_without_recursion() -> None:
    levels = 200_000
    body = b'[1, {"a": ' + deeply_nested(levels) + b'}, "end"]'
    split = _split_array(body)
    assert split is not None
    assert [depth for _, _, depth in split] == [0, levels + 1, 0]
    start, end, _ = split[2]
    assert json.loads(body[start:end]) == "end"


def test_invalid_utf8_does_not_mislead_the_splitter() -> None:
    body = b'[{"a": "\xff\xfe]\xc3"}, "\xe2\x82", 3]'
    split = _split_array(body)
    assert split is not None and len(split) == 3
    assert body[split[0][0]:split[0][1]] == b'{"a": "\xff\xfe]\xc3"}'


def test_an_empty_element_is_kept_for_the_decoder_to_refuse() -> None:
    assert _split_array(b"[1,]") == [(1, 2, 0), (3, 3, 0)]
    assert _split_array(b"[,1]") == [(1, 1, 0), (2, 3, 0)]


@pytest.mark.parametrize(
    "body",
    [b"", b"   ", b"{}", b'"[1]"', b"1", b"[1, 2", b'["abc', b'["a\\"]', b"[1] [2]", b"[1] x", b"[[1]",
     b"<html>[1]</html>"],
    ids=["empty", "blank", "object", "string", "number", "unclosed", "unclosed_string", "escaped_quote",
         "two_arrays", "trailing_data", "unbalanced", "html"],
)
def test_a_body_that_is_not_one_complete_array_is_not_split(body: bytes) -> None:
    assert _split_array(body) is None


# ----------------------------------------------------------------------------------------------
# The parsers


def test_a_valid_batch_is_a_plain_list_with_nothing_undecodable() -> None:
    body = b"[" + task_json(1) + b"," + task_json(2) + b"]"
    batch = parse_tasks(BATCH, 200, body)
    assert isinstance(batch, TaskBatch) and batch.undecodable == ()
    assert [task.task_id for task in batch] == ["t1", "t2"]
    assert batch == [Task.from_dict(item) for item in json.loads(body)]
    assert parse_tasks(BATCH, 204, b"") == [] and parse_tasks(BATCH, 200, b"[]").undecodable == ()


@pytest.mark.parametrize("kind", list(BREAKAGES))
def test_one_broken_task_does_not_cost_the_others_of_the_batch(kind: str) -> None:
    broken_input, reason = BREAKAGES[kind]
    body = b"[" + b", ".join([task_json(1), task_json(2, broken_input), task_json(3)]) + b"]"
    with pytest.raises((ValueError, RecursionError)):
        json.loads(body)  # the answer as a whole cannot be decoded
    batch = parse_tasks(BATCH, 200, body)
    assert [task.task_id for task in batch] == ["t1", "t3"]
    assert [task.input_data for task in batch] == [{"n": 1}, {"n": 1}]
    [bad] = batch.undecodable
    assert reason in bad.reason
    assert (bad.task_id, bad.workflow_instance_id, bad.task_type, bad.position) == ("t2", "w2", "echo", 1)
    assert bad.addressable
    assert bad.size == len(task_json(2, broken_input))


def test_every_kind_of_breakage_in_one_batch() -> None:
    parts = [task_json(0)]
    for n, (broken_input, _) in enumerate(BREAKAGES.values(), start=1):
        parts.append(task_json(n, broken_input))
    parts.append(task_json(9))
    batch = parse_tasks(BATCH, 200, b"[" + b",".join(parts) + b"]")
    assert [task.task_id for task in batch] == ["t0", "t9"]
    assert [(bad.task_id, bad.position) for bad in batch.undecodable] == [("t1", 1), ("t2", 2), ("t3", 3), ("t4", 4)]
    for bad, (_, reason) in zip(batch.undecodable, BREAKAGES.values()):
        assert reason in bad.reason


def test_the_invalid_byte_is_named_by_its_offset_in_the_answer() -> None:
    body = b"[" + task_json(1) + b"," + task_json(2, b'{"text": "caf\xe9"}') + b"]"
    [bad] = parse_tasks(BATCH, 200, body).undecodable
    offset = body.index(b"\xe9")
    assert bad.reason == f"invalid UTF-8 at byte {offset} of the answer"


def test_the_ids_are_read_only_from_the_tasks_own_top_level_keys() -> None:
    # A taskId inside inputData is not the task's; keys after a deeply nested value are still read;
    # an escaped id is decoded; the ids may come in any order. The invalid byte is what breaks the
    # task: how deep json follows depends on the Python version.
    body = (b'[{"inputData": {"taskId": "fake", "deep": ' + deeply_nested(5000) + b', "s": "\xff"}, '
            b'"workflowInstanceId": "w\\u0031", "status": "IN_PROGRESS", "taskId": "t1"}]')
    [bad] = parse_tasks(BATCH, 200, body).undecodable
    assert (bad.task_id, bad.workflow_instance_id, bad.task_type) == ("t1", "w1", None)


@pytest.mark.parametrize(
    ("fields", "task_id", "workflow_id"),
    [
        (b'"taskId": "t\xff1", "workflowInstanceId": "w1"', None, "w1"),  # invalid UTF-8 in the id
        (b'"taskId": 17, "workflowInstanceId": "w1"', None, "w1"),  # not a string
        (b'"taskId": "", "workflowInstanceId": "w1"', None, "w1"),  # empty
        (b'"taskId": "t\\ud800", "workflowInstanceId": "w1"', None, "w1"),  # a lone surrogate
        (b'"workflowInstanceId": "w1"', None, "w1"),  # missing
        (b'"taskId": "t1", "workflowInstanceId": ["w1"]', "t1", None),
        (b'"taskId": "t1", "workflowInstanceId": "w1\xff"', "t1", None),
    ],
)
def test_an_id_that_cannot_be_read_is_left_out(fields: bytes, task_id: str | None, workflow_id: str | None) -> None:
    body = b'[{' + fields + b', "inputData": {"s": "\xff"}}]'
    [bad] = parse_tasks(BATCH, 200, body).undecodable
    assert (bad.task_id, bad.workflow_instance_id) == (task_id, workflow_id)
    assert not bad.addressable
    assert "unreadable" in bad.describe()


def test_a_broken_element_that_is_not_even_an_object_has_no_ids() -> None:
    body = b"[" + task_json(1) + b', [1, "\xff"], ]'
    batch = parse_tasks(BATCH, 200, body)
    assert [task.task_id for task in batch] == ["t1"]
    assert [(bad.position, bad.task_id, bad.workflow_instance_id) for bad in batch.undecodable] == [
        (1, None, None), (2, None, None)]
    assert "Expecting value" in batch.undecodable[1].reason  # the empty element after the last comma


def test_a_decodable_item_that_is_not_an_object_is_skipped_as_before(caplog: pytest.LogCaptureFixture) -> None:
    body = b"[" + task_json(1) + b', 7, {"s": "\xff"}]'
    with caplog.at_level(logging.WARNING, logger="conductor_actors.client"):
        batch = parse_tasks(BATCH, 200, body)
    assert [task.task_id for task in batch] == ["t1"] and len(batch.undecodable) == 1
    assert "skipping item 1 of the answer: expected a task object, got int" in caplog.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'[{"taskId": "t1", "inputData": {"s": "abc', "ends early"),  # truncated: never closed
        (b"<html><body>[]</body></html>", "HTML"),
        (b'{"taskId": "t1", "inputData": {"s": "\xff"}}', r"not readable JSON \(invalid UTF-8 at byte 37 of"),
        (b'{"taskId": "t1", "x": ' + deeply_nested(10_000) + b"}", "nested deeper than the decoder can follow"),
        (b'"\xff"', r"not readable JSON \(invalid UTF-8 at byte 1 of the answer\)"),
        (b"\xff\xfe\xfa", r"invalid UTF-16-LE at byte 2"),  # json reads a UTF-16 byte order mark
    ],
    ids=["truncated", "html", "object", "deep_object", "string", "utf16"],
)
def test_a_batch_body_that_is_not_an_array_fails_the_poll_as_before(body: bytes, message: str) -> None:
    with pytest.raises(InvalidResponseError, match=message) as caught:
        parse_tasks(BATCH, 200, body)
    assert not isinstance(caught.value, UndecodableTaskError)
    assert caught.value.retryable


def test_the_batch_and_its_undecodable_tasks_survive_pickling() -> None:
    body = b"[" + task_json(1) + b"," + task_json(2, b'"\xff"') + b"]"
    batch = parse_tasks(BATCH, 200, body)
    copy = pickle.loads(pickle.dumps(batch))
    assert copy == batch and copy.undecodable == batch.undecodable


@pytest.mark.parametrize("kind", list(BREAKAGES))
def test_the_one_task_of_an_update_v2_answer_that_cannot_be_decoded_raises_with_its_ids(kind: str) -> None:
    broken_input, reason = BREAKAGES[kind]
    body = task_json(5, broken_input)
    with pytest.raises(UndecodableTaskError) as caught:
        parse_optional_task(UPDATE_V2, 200, body)
    error = caught.value
    assert isinstance(error, InvalidResponseError) and not error.retryable
    bad = error.task
    assert (bad.task_id, bad.workflow_instance_id, bad.task_type, bad.position) == ("t5", "w5", "echo", None)
    assert reason in bad.reason
    assert "POST /tasks/update-v2" in str(error) and reason in str(error) and "'t5'" in str(error)
    assert pickle.loads(pickle.dumps(error)).task == bad


def test_the_invalid_byte_of_a_single_answer_is_counted_from_the_start_of_the_body() -> None:
    body = b"\xef\xbb\xbf" + task_json(5, b'{"s": "caf\xe9"}')  # after a UTF-8 byte order mark
    with pytest.raises(UndecodableTaskError) as caught:
        parse_optional_task(UPDATE_V2, 200, body)
    offset = body.index(b"\xe9")
    assert caught.value.task.reason == f"invalid UTF-8 at byte {offset} of the answer"


@pytest.mark.parametrize(
    "body", [b'{"taskId": "t1", "inputData": {"s": "\xff"', b"[1]", b"not json", b'{"a": 1} {"b": 2}'],
    ids=["truncated", "array", "garbage", "two_objects"],
)
def test_a_single_answer_that_is_not_one_object_fails_as_before(body: bytes) -> None:
    with pytest.raises(InvalidResponseError) as caught:
        parse_optional_task(UPDATE_V2, 200, body)
    assert not isinstance(caught.value, UndecodableTaskError)


# ----------------------------------------------------------------------------------------------
# Both clients over loopback


def json_answer(body: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


def test_both_clients_return_the_decodable_tasks_and_name_the_broken_ones(
    serve: Callable[..., ScriptedServer], make_driver: Callable[..., Driver]
) -> None:
    batch_body = b"[" + b",".join([task_json(1), task_json(2, BREAKAGES["deep"][0]), task_json(3)]) + b"]"
    v2_body = task_json(4, BREAKAGES["invalid_utf8"][0])
    server = serve([answer(json_answer(batch_body)), answer(json_answer(v2_body)), answer(json_answer(task_json(6)))])
    client = make_driver(configuration_for(server.api_url))
    batch = client.batch_poll("echo", count=3, timeout_ms=0)
    assert [task.task_id for task in batch] == ["t1", "t3"]
    assert [(bad.task_id, bad.position) for bad in batch.undecodable] == [("t2", 1)]
    result = TaskResult(task_id="t1", workflow_instance_id="w1", status=TaskResultStatus.COMPLETED)
    with pytest.raises(UndecodableTaskError, match="invalid UTF-8") as caught:
        client.update_task_v2(result)
    assert isinstance(caught.value.task, UndecodableTask) and caught.value.task.task_id == "t4"
    next_task = client.update_task_v2(result)  # the connection and the client stay usable
    assert next_task is not None and next_task.task_id == "t6"
