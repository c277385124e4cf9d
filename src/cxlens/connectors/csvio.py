"""Streaming CSV reading with pyarrow: every column as text, bad rows captured, encodings.

pyarrow parses in C++ blocks (bounded memory whatever the file size); rows with the wrong
number of fields are handed to us and become quarantine rows instead of aborting the file.
Invalid UTF-8 without ``--encoding`` is an error naming the likely encoding (nothing is loaded:
the ingest runs in one transaction).
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv

from cxlens.connectors.base import decode, not_utf8_error
from cxlens.errors import InputError

BLOCK_BYTES = 16 << 20
# Blocks the reader may fetch beyond those the consumer has taken (see _PacedFile).
AHEAD_BLOCKS = 3
# Never wait longer than this for the consumer: a safety valve, not expected to trigger.
_PACE_WAIT_S = 30.0


class _PacedFile(io.RawIOBase):
    """A file that pyarrow's streaming CSV reader may read at most :data:`AHEAD_BLOCKS`
    blocks ahead of the batches taken from it.

    pyarrow reads the file on a background thread up to 32 blocks ahead (512 MB at our
    16 MB blocks) whatever the consumer's pace; behind a slow ingest that held the first
    ~0.5 GB of a big file in memory (measured: the whole 238 MB of a 1M-line CDR after the
    first batch). The reader reads one block per ``read`` and yields one batch per block,
    and a row spans at most two blocks (larger fields are an error), so three tokens never
    starve it; the timed wait is only a safety valve."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file = path.open("rb")
        self._tokens = AHEAD_BLOCKS
        self._turn = threading.Condition()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        with self._turn:
            self._turn.wait_for(lambda: self._tokens > 0, timeout=_PACE_WAIT_S)
            self._tokens -= 1
        return self._file.read(size)

    def tell(self) -> int:
        return self._file.tell()

    def taken(self) -> None:
        """The consumer took one batch: the reader may fetch one more block."""
        with self._turn:
            self._tokens += 1
            self._turn.notify_all()

    def close(self) -> None:
        self._file.close()
        super().close()


@dataclass
class CsvChunk:
    data: pa.Table  # all columns string
    first_line: int  # 1-based line number of the first row (exact when no quoted newlines)
    bad_rows: list[tuple[str, str]]  # (locator, raw line) of rows with the wrong field count
    position: int


def first_record(path: Path, encoding: str | None, delimiter: str = ",") -> list[str] | None:
    """The first CSV record of a file (None for an empty file)."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    if not head.strip():
        return None
    text = decode(path, _cut(head), encoding)
    for row in csv.reader(io.StringIO(text), delimiter=delimiter):
        if row:
            return row
    return None


def _cut(head: bytes) -> bytes:
    # Stop at the last complete line so a multi-byte character is never split.
    end = head.rfind(b"\n")
    return head if end < 0 else head[: end + 1]


def iter_csv(
    path: Path,
    column_names: Sequence[str],
    *,
    skip_rows: int = 0,
    encoding: str | None = None,
    delimiter: str = ",",
    batch_rows: int = 50_000,
) -> Iterator[CsvChunk]:
    """Stream ``path`` as string tables of ``column_names``; wrong-width rows are collected."""
    bad: list[tuple[str, str]] = []
    name = path.name

    def on_invalid(row: pcsv.InvalidRow) -> str:
        where = f"{name}:{row.number}" if row.number is not None else name
        bad.append((where, f"{row.text} [expected {row.expected_columns} fields, got "
                           f"{row.actual_columns}]"))
        return "skip"

    enc = encoding or "utf8"
    if enc.replace("-", "").replace("_", "").lower() in {"utf8", "utf8sig"}:
        enc = "utf8"
    read_options = pcsv.ReadOptions(
        column_names=list(column_names), skip_rows=skip_rows, encoding=enc,
        block_size=BLOCK_BYTES, use_threads=True,
    )
    parse_options = pcsv.ParseOptions(
        delimiter=delimiter, invalid_row_handler=on_invalid, newlines_in_values=True,
    )
    convert_options = pcsv.ConvertOptions(
        column_types={c: pa.string() for c in column_names}, strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    source = _PacedFile(path)
    try:
        reader = pcsv.open_csv(source, read_options=read_options, parse_options=parse_options,
                               convert_options=convert_options)
    except pa.ArrowInvalid as exc:
        source.close()
        raise _translate(path, exc, encoding) from exc
    except LookupError as exc:
        source.close()
        raise InputError(f"unknown encoding {encoding!r}", "use e.g. utf-8, gb18030, gbk, big5") from exc
    line = 1 + skip_rows
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    try:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                raise _translate(path, exc, encoding) from exc
            source.taken()
            pending.append(batch)
            pending_rows += batch.num_rows
            if pending_rows >= batch_rows:
                table = pa.Table.from_batches(pending)
                yield CsvChunk(table, line, list(bad), source.tell())
                bad.clear()
                line += table.num_rows
                pending, pending_rows = [], 0
        if pending or bad:
            table = (pa.Table.from_batches(pending) if pending else
                     pa.table({c: pa.array([], pa.string()) for c in column_names}))
            yield CsvChunk(table, line, list(bad), source.tell())
    finally:
        source.close()


def _translate(path: Path, exc: pa.ArrowInvalid, encoding: str | None) -> InputError:
    text = str(exc)
    if "UTF8" in text or "utf8" in text.lower() or "utf-8" in text.lower():
        with path.open("rb") as handle:
            sample = handle.read(1 << 16)
        if encoding is None:
            return not_utf8_error(path, _cut(sample))
        return InputError(f"{path.name} is not valid {encoding}", "check --encoding")
    if "straddling" in text or "block size" in text.lower():
        return InputError(f"{path.name} has a field larger than {BLOCK_BYTES >> 20} MB",
                          "split the file or check that its quoting is balanced")
    return InputError(f"{path.name} is not readable CSV: {text.splitlines()[0]}")
