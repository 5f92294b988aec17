"""``${...}`` resolution rules (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from conductor_actors.devserver._expressions import resolve, to_java_string

DOCS: dict[str, Any] = {
    "workflow": {"input": {"n": 5, "s": "hi", "flag": True, "obj": {"k": [1, 2]}, "none": None,
                           "key": "n", "odd key": 1.5}},
    "a_ref": {"output": {"y": {"z": "deep"}, "list": [10, {"w": "x"}], "f": 2.0}},
}


def lookup(head: str) -> Any:
    return DOCS.get(head)


@pytest.mark.parametrize(("expression", "expected"), [
    ("${workflow.input.n}", 5),
    ("${workflow.input.obj}", {"k": [1, 2]}),
    ("${workflow.input.flag}", True),
    ("${a_ref.output.y.z}", "deep"),
    ("${a_ref.output.list[0]}", 10),
    ("${a_ref.output.list[1].w}", "x"),
    ("${a_ref.output.list[-1]}", {"w": "x"}),
    ("${workflow.input['odd key']}", 1.5),
    ("${$.workflow.input.s}", "hi"),
    ("${workflow.input.missing}", None),
    ("${nobody.output.x}", None),
    ("${a_ref.output.list[7]}", None),
    ("${workflow.input.n.deeper}", None),
    ("${}", ""),
    ("${workflow.input.${workflow.input.key}}", 5),
])
def test_a_whole_expression_keeps_its_type(expression: str, expected: Any) -> None:
    assert resolve(expression, lookup) == expected


@pytest.mark.parametrize(("template", "expected"), [
    ("n=${workflow.input.n}!", "n=5!"),
    ("${workflow.input.s}-${workflow.input.s}", "hi-hi"),
    ("missing=${workflow.input.missing}", "missing=null"),
    ("flag=${workflow.input.flag}", "flag=true"),
    ("obj=${workflow.input.obj}", "obj={k=[1, 2]}"),
    ("f=${a_ref.output.f}", "f=2.0"),
    ("literal $${workflow.input.n}", "literal ${workflow.input.n}"),
    ("$${workflow.input.n}", "${workflow.input.n}"),
    ("no expressions $ here", "no expressions $ here"),
    ("unbalanced ${workflow.input.n", "unbalanced ${workflow.input.n"),
])
def test_expressions_inside_strings_are_interpolated(template: str, expected: str) -> None:
    assert resolve(template, lookup) == expected


def test_maps_and_lists_are_resolved_recursively_without_changing_the_template() -> None:
    template = {"a": ["${workflow.input.n}", {"b": "x${workflow.input.s}"}], "c": 3, "d": None}
    assert resolve(template, lookup) == {"a": [5, {"b": "xhi"}], "c": 3, "d": None}
    assert template["a"][0] == "${workflow.input.n}"


def test_java_strings() -> None:
    assert [to_java_string(v) for v in (None, False, 3, 1.5, "s", [None, True], {"a": {}})] == [
        "null", "false", "3", "1.5", "s", "[null, true]", "{a={}}"]
