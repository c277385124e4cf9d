"""Tolerant JSON record reading: JSON Lines (streamed), arrays and wrapped pages.

Vendor exports come as JSON Lines (Amazon Connect via Firehose), a top-level array, or a page
object holding the array (Zendesk ``{"tickets": [...]}``, Genesys ``{"conversations": [...]}``).
One corrupt element must cost one quarantine row, not the file: when a document does not parse
as a whole, its top-level array is split element by element and each element parsed alone; a
truncated tail becomes one "truncated JSON" record.

Whole-document formats are read into memory (vendor pages are bounded: Zendesk ≤ 1000 tickets,
Genesys ≤ 100 conversations per page); JSON Lines are streamed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxlens.connectors.base import decode, iter_lines


@dataclass
class JsonRecord:
    locator: str
    value: Any  # parsed record, or None when ``error`` is set
    raw: str
    error: str | None
    position: int
    duplicate: bool = False  # superseded by a later version of the same record


def _first_char(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(4096)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return chr(text[0]) if text else ""


def _looks_like_lines(path: Path, encoding: str | None) -> bool:
    lines = iter_lines(path, encoding)
    for _, line, _ in lines:
        if not line.strip():
            continue
        try:
            json.loads(line)
        except json.JSONDecodeError:
            return False
        return True
    return False


def iter_records(path: Path, encoding: str | None, list_keys: tuple[str, ...] = ()) -> Iterator[JsonRecord]:
    """Every record of a JSON / JSON Lines file, parsed or flagged."""
    first = _first_char(path)
    if first == "":
        return
    if first == "{" and _looks_like_lines(path, encoding) or first not in "[{":
        yield from _iter_json_lines(path, encoding, list_keys)
        return
    data = path.read_bytes()
    text = decode(path, data, encoding)
    size = len(data)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        yield from _iter_broken(path, text, size, list_keys)
        return
    items = _unwrap(doc, list_keys)
    for index, item in enumerate(items):
        yield JsonRecord(f"{path.name}[{index}]", item, "", None, size)


def _unwrap(doc: Any, list_keys: tuple[str, ...]) -> list[Any]:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for key in list_keys:
            if isinstance(doc.get(key), list):
                return list(doc[key])
    return [doc]


def _iter_json_lines(path: Path, encoding: str | None,
                     list_keys: tuple[str, ...] = ()) -> Iterator[JsonRecord]:
    for number, line, position in iter_lines(path, encoding):
        if not line.strip():
            continue
        locator = f"{path.name}:{number}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield JsonRecord(locator, None, line, f"invalid JSON: {exc.msg}", position)
            continue
        if isinstance(value, dict) and any(isinstance(value.get(k), list) for k in list_keys):
            value = _unwrap(value, list_keys)  # a whole page on one line
        if isinstance(value, list):  # a line holding an array of records
            for index, item in enumerate(value):
                yield JsonRecord(f"{locator}[{index}]", item, "", None, position)
        else:
            yield JsonRecord(locator, value, "", None, position)


def _iter_broken(path: Path, text: str, size: int, list_keys: tuple[str, ...]) -> Iterator[JsonRecord]:
    start = None
    stripped = text.lstrip("\ufeff \t\r\n")
    offset = len(text) - len(stripped)
    if stripped.startswith("["):
        start = offset
    else:
        for key in list_keys:
            match = re.search(r'"' + re.escape(key) + r'"\s*:\s*\[', text)
            if match:
                start = match.end() - 1
                break
    if start is None:
        yield JsonRecord(path.name, None, text, "invalid JSON document", size)
        return
    for index, (chunk, complete) in enumerate(split_array(text, start)):
        locator = f"{path.name}[{index}]"
        if not complete:
            yield JsonRecord(locator, None, chunk, "truncated JSON", size)
            continue
        try:
            yield JsonRecord(locator, json.loads(chunk), "", None, size)
        except json.JSONDecodeError as exc:
            yield JsonRecord(locator, None, chunk, f"invalid JSON: {exc.msg}", size)


def split_array(text: str, start: int) -> Iterator[tuple[str, bool]]:
    """Top-level elements of the array opening at ``text[start]`` as (text, complete) pairs."""
    depth = 0
    in_string = False
    element_start = start + 1
    i = start + 1
    n = len(text)
    scan = re.compile(r'[\[\]{}",\\]')
    while i < n:
        if in_string:
            match = re.compile(r'["\\]').search(text, i)
            if match is None:
                break
            i = match.start()
            if text[i] == "\\":
                i += 2
                continue
            in_string = False
            i += 1
            continue
        match = scan.search(text, i)
        if match is None:
            break
        i = match.start()
        ch = text[i]
        if ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            if depth == 0:  # end of the array
                chunk = text[element_start:i].strip()
                if chunk:
                    yield chunk, True
                return
            depth -= 1
        elif ch == "," and depth == 0:
            chunk = text[element_start:i].strip()
            if chunk:
                yield chunk, True
            element_start = i + 1
        i += 1
    chunk = text[element_start:].strip()
    if chunk:
        yield chunk, False
