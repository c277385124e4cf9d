"""Vectorised value cleaning: names, numbers, timestamps to UTC, vocabularies.

Everything here takes and returns Arrow arrays. Work that needs Python (unusual timestamp
formats, vocabulary look-ups) runs once per *distinct* value and is broadcast back with
``take``, so a column of ten million rows with a thousand distinct spellings costs a thousand
Python calls, not ten million.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

TS = pa.timestamp("us")
_NUMBER = r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$"
_WS = re.compile(r"\s+")
EPOCH = datetime(1970, 1, 1)

# Formats tried (vectorised, in order) before the per-distinct-value fallback parser.
DEFAULT_TS_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d",
)
_FALLBACK_FORMATS = (
    "%Y-%m-%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S.%f", "%Y%m%d%H%M%S", "%Y%m%d", "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d.%m.%Y %H:%M:%S",
    "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日", "%a, %d %b %Y %H:%M:%S %z",
    "%d %b %Y %H:%M:%S", "%b %d, %Y %I:%M:%S %p", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M",
)
# Plausibility window for any event timestamp: earlier or later means a broken clock or field.
MIN_TS = datetime(1990, 1, 1)
MAX_TS = datetime(2100, 1, 1)
MIN_DATE = datetime(1900, 1, 1)


def as_string(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as one contiguous string array."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column if column.type == pa.string() else column.cast(pa.string())


def blank_to_null(column: pa.Array) -> pa.Array:
    """Empty or whitespace-only strings become null (CSV exports write '' for missing)."""
    column = as_string(column)
    trimmed = pc.utf8_trim_whitespace(column)
    blank = pc.equal(trimmed, "")
    # The if_else copies every string: skip it when no value is blank (most columns), and
    # when every non-null value is (an unused CDR column), no copy either: all null.
    blanks = pc.sum(blank).as_py() or 0
    if blanks == 0:
        return trimmed
    if blanks + trimmed.null_count == len(trimmed):
        return pa.nulls(len(trimmed), pa.string())
    return pc.if_else(blank, pa.scalar(None, pa.string()), trimmed)


def map_distinct(column: pa.Array, fn: Callable[[str], object], out_type: pa.DataType) -> pa.Array:
    """Apply ``fn`` once per distinct non-null value and broadcast back."""
    column = as_string(column)
    if len(column) == 0:
        return pa.array([], out_type)
    encoded = pc.dictionary_encode(column)
    mapped = pa.array([fn(v) for v in encoded.dictionary.to_pylist()], type=out_type)
    return pc.take(mapped, encoded.indices)


def per_distinct(column: pa.Array | pa.ChunkedArray,
                 compute: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """Apply a vectorised ``compute`` to the distinct values only and broadcast back: for
    low-cardinality columns (a CDR's contexts, queue arguments) where the kernel costs more
    than the dictionary encoding (``split_pattern`` over 1M rows: 0.46 s; over 8 distinct
    values plus the encoding: ~0.01 s)."""
    column = as_string(column)
    encoded = pc.dictionary_encode(column)
    return pc.take(compute(encoded.dictionary), encoded.indices)


# -- text -------------------------------------------------------------------------------------
def clean_name(raw: str) -> str | None:
    """NFKC (full-width → half-width), collapsed whitespace; 繁/简 kept as given."""
    value = _WS.sub(" ", unicodedata.normalize("NFKC", raw)).strip()
    return value or None


def clean_names(column: pa.Array) -> pa.Array:
    """Vector form of :func:`clean_name` (one call per distinct spelling)."""
    return map_distinct(column, clean_name, pa.string())


def clean_text(column: pa.Array) -> pa.Array:
    """Free text: NUL bytes removed, trimmed, empty → null. Content otherwise untouched."""
    column = as_string(column)
    column = pc.replace_substring(column, "\x00", "")
    return blank_to_null(column)


# -- numbers ----------------------------------------------------------------------------------
def to_float(column: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(float64 values, mask of non-empty values that are not numbers)."""
    column = blank_to_null(column)
    # plain digit strings (nearly every value of a CDR) pass without the regex
    ok = pc.ascii_is_decimal(column)
    rest = pc.and_(pc.is_valid(column), pc.invert(ok))
    if pc.any(rest).as_py():
        others = pc.if_else(rest, column, pa.scalar(None, pa.string()))
        ok = pc.or_kleene(ok, pc.match_substring_regex(others, _NUMBER))
    # blank_to_null already trimmed the values
    safe = pc.if_else(ok, column, pa.scalar(None, pa.string()))
    values = pc.cast(safe, pa.float64())
    bad = pc.and_kleene(pc.is_valid(column), pc.invert(pc.fill_null(ok, False)))
    return values, pc.fill_null(bad, False)


def to_int(column: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(int64 values, mask of values that are not whole numbers)."""
    values, bad = to_float(column)
    # whole and inside int64 (1E100 is "whole" but does not fit: quarantine, don't raise)
    whole = pc.and_(pc.equal(pc.floor(values), values), pc.less(pc.abs(values), 9.0e18))
    bad = pc.or_(bad, pc.fill_null(pc.invert(whole), False))
    ints = pc.cast(pc.if_else(pc.fill_null(whole, False), values, None), pa.int64())
    return ints, bad


# -- timestamps -------------------------------------------------------------------------------
@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=64)
def fixed_offset(name: str) -> timedelta | None:
    """The zone's UTC offset if it never changed over 1992–2060 (Asia/Shanghai: +8 h), else None.

    A fixed offset lets local → UTC be one vectorised subtraction instead of a per-value
    time-zone lookup (the hot path of CDR ingest).
    """
    zone = _zone(name)
    offsets = {datetime(year, month, 15, 12, tzinfo=zone).utcoffset()
               for year in range(1992, 2061) for month in (1, 4, 7, 10)}
    return offsets.pop() if len(offsets) == 1 else None


def _localise(parsed: pa.Array, tz: str) -> pa.Array:
    offset = fixed_offset(tz)
    if offset is not None:
        return pc.subtract(parsed, pa.scalar(offset, pa.duration("us")))
    return pc.assume_timezone(parsed, timezone=tz, ambiguous="earliest",
                              nonexistent="earliest").cast(TS)


def _parse_one(value: str, tz: str) -> datetime | None:
    """Fallback parser for one distinct value: ISO 8601 (offsets honoured), epochs, formats."""
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        return None
    if re.fullmatch(r"\d{9,10}(\.\d+)?|\d{12,13}", text):
        seconds = float(text) / (1000 if len(text) >= 12 and "." not in text else 1)
        return EPOCH + timedelta(seconds=seconds)
    parsed: datetime | None = None
    iso = text.replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.fromisoformat(iso.replace("/", "-"))
    except ValueError:
        for fmt in _FALLBACK_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_zone(tz))
    return parsed.astimezone(UTC).replace(tzinfo=None)


def to_utc(
    column: pa.Array,
    tz: str,
    formats: Sequence[str] | None = None,
    earliest: datetime = MIN_TS,
) -> tuple[pa.Array, pa.Array]:
    """Parse local-time strings of zone ``tz`` into naive-UTC timestamps.

    ``formats`` (strptime syntax) are tried vectorised first; what they leave unparsed goes
    through a per-distinct-value parser that understands ISO 8601 with offsets ("Z",
    "+08:00" — an explicit offset wins over ``tz``), epoch seconds/milliseconds, RFC 2822 and
    common CN/EU/US layouts. Returns (timestamps, mask of non-empty values that did not parse or
    fall outside ``earliest``–2100; event times default to 1990 on, birth dates pass 1900).
    """
    column = blank_to_null(column)
    result = pa.nulls(len(column), TS)
    for fmt in formats if formats is not None else DEFAULT_TS_FORMATS:
        pending = pc.and_(pc.is_valid(column), pc.is_null(result))
        if not pc.any(pending).as_py():
            break
        parsed = pc.strptime(column, format=fmt, unit="us", error_is_null=True)
        result = pc.coalesce(result, _localise(parsed, tz))
    pending = pc.and_(pc.is_valid(column), pc.is_null(result))
    if pc.any(pending).as_py():
        rest = pc.if_else(pending, column, pa.scalar(None, pa.string()))
        fallback = map_distinct(rest, lambda v: _parse_one(v, tz), TS)
        result = pc.coalesce(result, fallback)
    in_range = pc.and_(pc.greater_equal(result, pa.scalar(earliest, TS)),
                       pc.less(result, pa.scalar(MAX_TS, TS)))
    result = pc.if_else(pc.fill_null(in_range, False), result, pa.scalar(None, TS))
    bad = pc.and_(pc.is_valid(column), pc.is_null(result))
    return result, bad


def epoch_to_ts(column: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Unix epoch seconds (strings or numbers; 0 = never) → naive-UTC timestamps."""
    values, bad = to_float(as_string(column))
    values = pc.if_else(pc.fill_null(pc.greater(values, 0), False), values, None)
    micros = pc.cast(pc.round(pc.multiply(values, 1_000_000)), pa.int64())
    return micros.cast(TS), bad


def seconds_between(start: pa.Array, end: pa.Array) -> pa.Array:
    """(end - start) in seconds as float64 (null when either is null)."""
    delta = pc.subtract(end.cast(pa.int64()), start.cast(pa.int64()))
    return pc.divide(delta.cast(pa.float64()), 1_000_000.0)


# -- vocabularies -----------------------------------------------------------------------------
def map_vocabulary(column: pa.Array, vocabulary: dict[str, str],
                   default: str | None = None) -> pa.Array:
    """Map source spellings to canonical codes (case/space-insensitive); unknown → ``default``
    (or the cleaned value itself when ``default`` is None and the value is already canonical)."""
    canon = set(vocabulary.values())

    def look(value: str) -> str | None:
        key = _WS.sub(" ", unicodedata.normalize("NFKC", value)).strip().lower()
        key = key.replace("-", "_").replace(" ", "_")
        if key in vocabulary:
            return vocabulary[key]
        if key in canon:
            return key
        return default if default is not None else (key or None)

    return map_distinct(column, look, pa.string())
