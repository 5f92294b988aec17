"""Expression engines of the dev server's system tasks: value-param, JavaScript and jq.

* ``value-param``: the expression names an input key; its value is the result.
* JavaScript (``javascript`` / ``graaljs`` evaluators of INLINE and SWITCH, DECISION's
  ``caseExpression``, DO_WHILE's ``loopCondition``): run by V8 through the ``mini-racer``
  package, the optional extra ``conductor-actors[js]``. Each evaluation gets a fresh V8 context
  (nothing leaks between tasks or workflows) with ``$`` bound to the input, a time limit and a
  memory limit; the value of the script's last expression is the result, as on the server.
* jq (JSON_JQ_TRANSFORM): the ``jq`` package, the optional extra ``conductor-actors[jq]``.

Without an extra, :func:`missing_engine` names it, and the metadata registry refuses a definition
that needs it (what only shows at run time fails its task with that message). Evaluation errors
raise :class:`EvaluationError` with the engine's message.
Pure functions, called on the loop thread.
"""

from __future__ import annotations

import importlib.util
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = [
    "JS_EVALUATORS",
    "EvaluationError",
    "evaluate",
    "evaluate_javascript",
    "evaluate_jq",
    "missing_engine",
]

#: Evaluator types that run JavaScript.
JS_EVALUATORS = frozenset({"javascript", "graaljs"})

#: Limits of one JavaScript evaluation (seconds, bytes).
JS_TIME_LIMIT = 2.0
JS_MEMORY_LIMIT = 64 * 1024 * 1024

#: kind -> (module to import, extra to install, distribution it installs)
_EXTRAS = {"javascript": ("py_mini_racer", "js", "mini-racer"), "jq": ("jq", "jq", "jq")}


class EvaluationError(Exception):
    """An expression failed (syntax error, exception thrown, limit reached)."""


def missing_engine(kind: str) -> str | None:
    """None when the engine for ``kind`` (``javascript`` or ``jq``) is installed, else the
    message that names the extra to install."""
    module, extra, distribution = _EXTRAS[kind]
    if importlib.util.find_spec(module) is not None:
        return None
    return (f"{kind} expressions need the optional extra: pip install 'conductor-actors[{extra}]' "
            f"(it installs the {distribution!r} package)")


def _require_engine(kind: str) -> None:
    """Raise ``EvaluationError`` naming the extra when the engine is missing: a registered definition
    was checked already, but a dynamic fork's tasks only show at run time."""
    missing = missing_engine(kind)
    if missing is not None:
        raise EvaluationError(missing)


_js_thread: ThreadPoolExecutor | None = None
_js_thread_lock = threading.Lock()


def evaluate_javascript(expression: str, bindings: dict[str, Any]) -> Any:
    """The value of the script ``expression`` with ``$`` bound to ``bindings`` (JSON values).

    Runs on one dedicated thread and blocks the caller (the server loop) for at most the time
    limit: mini-racer binds a context to the asyncio loop running in the thread that creates it,
    and its time limit only works outside one.
    """
    _require_engine("javascript")
    global _js_thread
    with _js_thread_lock:
        if _js_thread is None:
            _js_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="conductor-devserver-js")
    return _js_thread.submit(_run_javascript, expression, bindings).result()


def _run_javascript(expression: str, bindings: dict[str, Any]) -> Any:
    from py_mini_racer import (  # type: ignore[import-not-found,import-untyped,unused-ignore]  # optional extra
        JSEvalException,
        JSOOMException,
        JSParseException,
        JSTimeoutException,
        MiniRacer,
    )

    context = MiniRacer()
    try:
        context.set_hard_memory_limit(JS_MEMORY_LIMIT)
        context.eval("var $ = " + json.dumps(bindings) + ";")
        # JSON across the boundary: plain Python values out, undefined as null.
        text = context.eval("(function (v) { return v === undefined ? null : JSON.stringify(v); })(eval("
                            + json.dumps(expression) + "))", timeout_sec=JS_TIME_LIMIT)
    except (JSEvalException, JSOOMException, JSParseException, JSTimeoutException) as exc:
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
        message = next((line for line in lines if "Error" in line and not line.startswith("at ")), None)
        message = message or (lines[0] if lines else type(exc).__name__)
        # V8 prefixes the script position ("undefined:1: "); the error itself is what helps.
        raise EvaluationError(re.sub(r"^\S*:\d+:\s*", "", message)) from None
    finally:
        context.close()
    return json.loads(text) if isinstance(text, str) else None


def evaluate_jq(query: str, value: Any) -> list[Any]:
    """Every result of the jq program ``query`` on ``value``."""
    _require_engine("jq")
    import jq  # type: ignore[import-not-found,import-untyped,unused-ignore]  # optional extra

    try:
        return list(jq.compile(query).input_value(value).all())
    except ValueError as exc:
        raise EvaluationError(" ".join(str(exc).split())) from None


def evaluate(evaluator_type: str, expression: str, bindings: dict[str, Any]) -> Any:
    """Run ``expression`` with ``evaluator_type`` (value-param or a JavaScript one) on ``bindings``."""
    if evaluator_type == "value-param":
        return bindings.get(expression)
    if evaluator_type in JS_EVALUATORS:
        return evaluate_javascript(expression, bindings)
    raise EvaluationError(f"unknown evaluatorType {evaluator_type!r}; expected value-param, javascript or graaljs")
