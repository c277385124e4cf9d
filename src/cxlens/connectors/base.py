"""The connector interface: what a connector yields, the options it gets, shared helpers.

A connector reads one file (or folder) of one format and yields :class:`Batch` objects: Arrow
rows of one canonical table plus the quarantine rows of records it could not use. It never
writes; :mod:`cxlens.ingest` stores the batches. Counting rule: ``read`` counts source records
(a CDR line, a CTR, a ticket, an e-mail); each record ends up as exactly one row of a *primary*
batch or one quarantine row. Child rows (messages of a ticket, its survey) come in batches with
``primary=False`` and ``read=0``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from cxlens.clean.quarantine import QUARANTINE_SCHEMA, Checks, dump_raw, quarantine_rows
from cxlens.errors import InputError

__all__ = ["QUARANTINE_SCHEMA", "Batch", "Checks", "Connector", "ReadOptions", "dump_raw",
           "quarantine_rows"]

BATCH_ROWS = 50_000


@dataclass
class ReadOptions:
    """What every connector is told. ``timezone`` is the zone of naive source timestamps."""

    source: str
    timezone: str = "Asia/Shanghai"
    region: str = "CN"
    encoding: str | None = None
    mapping: Path | None = None
    batch_rows: int = BATCH_ROWS


@dataclass
class Batch:
    """Canonical rows of one table plus quarantined records."""

    table: str
    rows: pa.Table
    quarantine: pa.Table = field(default_factory=lambda: QUARANTINE_SCHEMA.empty_table())
    read: int = 0
    primary: bool = True
    duplicates: int = 0
    position: int = 0  # bytes of input consumed so far (progress bars)


class Connector(Protocol):
    """A source format. ``read`` yields batches; ``sniff`` says whether a file looks like it."""

    name: str
    description: str
    tables: tuple[str, ...]

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]: ...

    def sniff(self, path: Path, head: bytes) -> bool: ...


# -- reading text -----------------------------------------------------------------------------
def likely_encoding(sample: bytes) -> str | None:
    """The legacy encoding a non-UTF-8 sample most likely uses (CN exports: GB18030/GBK)."""
    for candidate in ("gb18030", "big5", "shift_jis", "cp1252"):
        try:
            text = sample.decode(candidate)
        except UnicodeDecodeError:
            continue
        if candidate == "gb18030" or any(ord(ch) > 0x2E80 for ch in text):
            return candidate
    return None


def not_utf8_error(path: Path, sample: bytes) -> InputError:
    guess = likely_encoding(sample)
    if guess:
        return InputError(f"{path.name} is not UTF-8 (it looks {guess.upper()}-encoded)",
                          f"pass --encoding {guess}")
    return InputError(f"{path.name} is not UTF-8 text",
                      "pass --encoding with the file's encoding, or check it is the right file")


def read_text(path: Path, encoding: str | None) -> str:
    """The whole file as text; strict decoding, a BOM is dropped; a clear error otherwise."""
    data = path.read_bytes()
    return decode(path, data, encoding)


def decode(path: Path, data: bytes, encoding: str | None) -> str:
    enc = encoding or "utf-8"
    if enc.replace("-", "").replace("_", "").lower() in {"utf8", "utf8sig"}:
        enc = "utf-8-sig"
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as exc:
        if encoding is None:
            raise not_utf8_error(path, data[max(0, exc.start - 2000): exc.start + 2000]) from exc
        raise InputError(f"{path.name} is not valid {encoding} at byte {exc.start}",
                         "check --encoding") from exc
    except LookupError as exc:
        raise InputError(f"unknown encoding {encoding!r}", "use e.g. utf-8, gb18030, gbk, big5") from exc
    if "\x00" in text[:4096] and text.count("\x00") > len(text) // 100:
        raise InputError(f"{path.name} is binary, not text", "check you picked the right file")
    return text


def iter_lines(path: Path, encoding: str | None) -> Iterator[tuple[int, str, int]]:
    """(line number, text, bytes consumed) of a text file, streamed; strict decoding."""
    import codecs

    enc = encoding or "utf-8-sig"
    try:
        decoder = codecs.getincrementaldecoder(enc)(errors="strict")
    except LookupError as exc:
        raise InputError(f"unknown encoding {encoding!r}", "use e.g. utf-8, gb18030, gbk, big5") from exc
    consumed = 0
    number = 0
    with path.open("rb") as handle:
        for raw in handle:
            consumed += len(raw)
            number += 1
            try:
                line = decoder.decode(raw)
            except UnicodeDecodeError as exc:
                if encoding is None:
                    raise not_utf8_error(path, raw) from exc
                raise InputError(f"{path.name} line {number} is not valid {encoding}",
                                 "check --encoding") from exc
            if number == 1 and "\x00" in line and line.count("\x00") > len(line) // 100:
                raise InputError(f"{path.name} is binary, not text", "check you picked the right file")
            yield number, line.rstrip("\r\n"), consumed


def table_from_records(records: list[dict[str, Any]], columns: dict[str, pa.DataType]) -> pa.Table:
    """An Arrow table with exactly ``columns`` from Python dicts (missing keys → null)."""
    return pa.table({name: pa.array([r.get(name) for r in records], type=kind)
                     for name, kind in columns.items()})
