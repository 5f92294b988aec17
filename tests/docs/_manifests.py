"""Strict little parsers for the configuration files the deployment page shows.

- ``parse_yaml``: the subset of YAML that Kubernetes manifests need (block mappings and sequences,
  ``- key: value`` items, plain and quoted scalars, ``{}``/``[]``, comments, ``---``). Anything
  outside it (tabs, anchors, aliases, tags, block scalars, non-empty flow collections, a
  duplicate key, bad indentation) raises ``ManifestError`` with the line, so a page cannot show a
  manifest this suite has not understood.
- ``parse_unit``: a systemd unit: ``[Section]`` headers and ``Key=Value`` lines, repeated keys kept.
- ``parse_env_file``: ``NAME=value`` lines that both systemd and a POSIX shell read the same way.

Pure functions, any thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["ManifestError", "parse_env_file", "parse_unit", "parse_yaml", "size_mib"]


class ManifestError(ValueError):
    """A file is outside the subset these parsers accept; the message names the line."""


@dataclass(frozen=True)
class _Line:
    number: int
    indent: int
    text: str


_KEY = re.compile(r"""^(?P<key>"[^"]*"|'[^']*'|[A-Za-z0-9_.\-/]+):(?:\s+(?P<rest>.*))?$""")
_INT = re.compile(r"^-?\d+$")
_FORBIDDEN_START = ("&", "*", "!", "|", ">", "%", "@", "`")


def _strip_comment(text: str, number: int) -> str:
    quote = ""
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'" and (index == 0 or text[index - 1] in " :-[{,"):
            quote = char
        elif char == "#" and (index == 0 or text[index - 1] in " \t"):
            return text[:index].rstrip()
    if quote:
        raise ManifestError(f"line {number}: unterminated quote")
    return text.rstrip()


def _scalar(text: str, number: int) -> Any:
    if text.startswith(('"', "'")):
        if len(text) < 2 or text[-1] != text[0]:
            raise ManifestError(f"line {number}: bad quoted scalar {text!r}")
        inner = text[1:-1]
        if text[0] == '"' and "\\" in inner:
            raise ManifestError(f"line {number}: escapes in double quotes are outside the subset")
        return inner
    if text in ("{}", "[]"):
        return {} if text == "{}" else []
    if text.startswith(_FORBIDDEN_START) or text.startswith(("{", "[")):
        raise ManifestError(f"line {number}: {text!r} is outside the YAML subset")
    if text in ("true", "false"):
        return text == "true"
    if text in ("null", "~"):
        return None
    if _INT.match(text):
        return int(text)
    if ": " in text or text.endswith(":"):
        raise ManifestError(f"line {number}: a plain scalar may not contain ': ' ({text!r})")
    return text


def _key(raw: str) -> str:
    return raw[1:-1] if raw[:1] in "\"'" else raw


class _Parser:
    def __init__(self, lines: list[_Line]) -> None:
        self.lines = lines
        self.index = 0

    def peek(self) -> _Line | None:
        return self.lines[self.index] if self.index < len(self.lines) else None

    def block(self, indent: int) -> Any:
        line = self.peek()
        assert line is not None
        if line.indent != indent:
            raise ManifestError(f"line {line.number}: expected indentation {indent}, found {line.indent}")
        if line.text == "-" or line.text.startswith("- "):
            return self.sequence(indent)
        return self.mapping(indent)

    def nested(self, parent: _Line) -> Any:
        line = self.peek()
        if line is None or line.indent <= parent.indent:
            return None
        return self.block(line.indent)

    def mapping(self, indent: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while (line := self.peek()) is not None and line.indent == indent:
            if line.text.startswith("- ") or line.text == "-":
                raise ManifestError(f"line {line.number}: a sequence item where a key was expected")
            match = _KEY.match(line.text)
            if match is None:
                raise ManifestError(f"line {line.number}: expected 'key: value', found {line.text!r}")
            key = _key(match.group("key"))
            if key in result:
                raise ManifestError(f"line {line.number}: duplicate key {key!r}")
            self.index += 1
            rest = match.group("rest")
            result[key] = _scalar(rest, line.number) if rest else self.nested(line)
        if line is not None and line.indent > indent:
            raise ManifestError(f"line {line.number}: unexpected indentation")
        return result

    def sequence(self, indent: int) -> list[Any]:
        result: list[Any] = []
        while (line := self.peek()) is not None and line.indent == indent and (
            line.text == "-" or line.text.startswith("- ")
        ):
            item = line.text[1:].strip()
            if not item:
                self.index += 1
                result.append(self.nested(line))
            elif _KEY.match(item) or item == "-" or item.startswith("- "):
                # "- key: value" / "- - item": a mapping or sequence that sits two columns in
                self.lines[self.index] = _Line(line.number, indent + 2, item)
                result.append(self.block(indent + 2))
            else:
                self.index += 1
                result.append(_scalar(item, line.number))
        if line is not None and line.indent > indent:
            raise ManifestError(f"line {line.number}: unexpected indentation")
        return result


def parse_yaml(text: str) -> list[Any]:
    """The documents of a multi-document YAML text, in the subset described above."""
    documents: list[list[_Line]] = [[]]
    for number, raw in enumerate(text.splitlines(), start=1):
        if "\t" in raw:
            raise ManifestError(f"line {number}: tabs are not allowed")
        if raw.strip() == "---":
            documents.append([])
            continue
        content = _strip_comment(raw, number)
        if content.strip():
            documents[-1].append(_Line(number, len(content) - len(content.lstrip(" ")), content.strip()))
    parsed = []
    for lines in documents:
        if not lines:
            continue
        parser = _Parser(lines)
        parsed.append(parser.block(lines[0].indent))
        if parser.peek() is not None:
            raise ManifestError(f"line {parser.peek().number}: unexpected content")  # type: ignore[union-attr]
    return parsed


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit: section -> ``(key, value)`` pairs in order. Comment lines start with ``#``
    or ``;`` (systemd has no comments after a value)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        header = re.fullmatch(r"\[([A-Za-z]+)\]", line)
        if header:
            if header.group(1) in sections:
                raise ManifestError(f"line {number}: section [{header.group(1)}] appears twice")
            current = sections[header.group(1)] = []
            continue
        match = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*)=(.*)", line)
        if match is None or current is None:
            raise ManifestError(f"line {number}: expected [Section] or Key=Value, found {line!r}")
        if line.endswith("\\"):
            raise ManifestError(f"line {number}: continuation lines are outside the subset")
        current.append((match.group(1), match.group(2).strip()))
    return sections


def parse_env_file(text: str) -> dict[str, str]:
    """``NAME=value`` lines (comments and blank lines skipped). Values may not hold quotes,
    spaces, ``$``, backslashes or backticks, which systemd and shells read differently."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=([^\s'\"$`\\]*)", line)
        if match is None:
            raise ManifestError(f"line {number}: expected NAME=value without quotes or spaces, found {line!r}")
        if match.group(1) in values:
            raise ManifestError(f"line {number}: {match.group(1)} is set twice")
        values[match.group(1)] = match.group(2)
    return values


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$")
_FACTORS_MIB = {
    None: 1 / 1024 / 1024, "Ki": 1 / 1024, "Mi": 1.0, "Gi": 1024.0, "Ti": 1024.0 ** 2,
    "K": 1 / 1024, "M": 1.0, "G": 1024.0, "T": 1024.0 ** 2,
}


def size_mib(text: str) -> float:
    """A memory size (Kubernetes ``512Mi``/``2Gi``, or systemd ``2G``, 1024-based) in MiB."""
    match = _SIZE.match(str(text))
    if match is None:
        raise ManifestError(f"{text!r} is not a memory size")
    return float(match.group(1)) * _FACTORS_MIB[match.group(2)]
