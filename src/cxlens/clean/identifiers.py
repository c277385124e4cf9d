"""Identifier normalisation and extraction into the ``identifiers`` table.

Phones go to E.164 with ``phonenumbers`` (default region from settings); each *distinct* raw
value is parsed once per batch, never once per row. E-mails are trimmed and lower-cased; dots
are kept (providers differ on whether they matter). Values that normalise to nothing ("",
"000000", "unknown", "null", "+86") produce no identifier.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

# column of a canonical table -> id_type
IDENTIFIER_COLUMNS: dict[str, str] = {
    "phone": "phone", "email": "email", "account": "account", "device": "device",
    "handle": "social", "wechat": "wechat",
}
ORDER_TABLES = {"orders"}  # their source_id is an order number customers quote
_JUNK = {"", "0", "null", "none", "nan", "n/a", "na", "unknown", "anonymous", "-", "未知", "无"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _fold(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


# a bare country code, a few digits or punctuation only ("+86", "#", "--12") names nobody;
# mirrors identity.graph.JUNK_PATTERN so such values never reach the identifiers table
_NO_IDENTITY = re.compile(r"^[^\w]*\+?[0-9]{0,3}[^\w]*$")


def _is_junk(value: str) -> bool:
    lowered = value.lower()
    if lowered in _JUNK or _NO_IDENTITY.match(lowered):
        return True
    return set(re.sub(r"\D", "", lowered) or "x") <= {"0"} and not re.search(r"[a-z]", lowered)


@lru_cache(maxsize=1_000_000)
def normalize_phone(raw: str, region: str = "CN") -> str | None:
    """E.164 form of a written phone number, or None when it is not a possible number.

    >>> normalize_phone("138-0013-8000")
    '+8613800138000'
    >>> normalize_phone("008613800138000")
    '+8613800138000'
    """
    import phonenumbers

    value = _fold(raw)
    if _is_junk(value):
        return None
    digits = re.sub(r"[^\d+]", "", value)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    try:
        number = phonenumbers.parse(digits if digits.startswith("+") else value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str | None:
    value = _fold(raw).lower()
    if value.startswith("mailto:"):
        value = value[7:]
    value = value.strip("<> ")
    return value if _EMAIL.match(value) else None


def normalize_token(raw: str) -> str | None:
    value = _fold(raw)
    return None if _is_junk(value) else value


def normalizer(id_type: str, region: str) -> Callable[[str], str | None]:
    if id_type == "phone":
        return lambda v: normalize_phone(v, region)
    if id_type == "email":
        return normalize_email
    if id_type == "account":
        return lambda v: (t.upper() if (t := normalize_token(v)) else None)
    return normalize_token


def normalize_value(id_type: str, raw: str, region: str = "CN") -> str | None:
    """Normalise one identifier of ``id_type`` (used by lookups such as `cxlens profile`)."""
    return normalizer(id_type, region)(raw)


# Written forms whose E.164 is certain without phonenumbers (the bulk of CN exports): separators
# removed, then "+861[3-9]xxxxxxxxx", "00861[3-9]…" or, in region CN, a bare mobile "1[3-9]…".
_SEPARATORS = r"[ \-().]"
_E164_CN_MOBILE = r"^\+861[3-9]\d{9}$"
_IDD_CN_MOBILE = r"^00861[3-9]\d{9}$"
_CN_MOBILE = r"^1[3-9]\d{9}$"


def phone_fast_path(column: pa.Array | pa.ChunkedArray, region: str) -> pa.Array:
    """E.164 for the values whose normal form is certain (vectorised), null for the rest.

    Agrees with :func:`normalize_phone` wherever it is not null; the rest go through
    ``phonenumbers`` once per distinct value.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    column = column.cast(pa.string())
    trimmed = pc.utf8_trim_whitespace(column)
    out = _certain_e164(trimmed, region)
    # Separators only matter for what is left: a value that already has a certain form has
    # none (digits and "+" only), so compacting the rest alone gives the same result (the
    # regex replace over every value was a third of this function's time).
    rest = pc.and_(pc.is_valid(trimmed), pc.is_null(out))
    if pc.any(rest).as_py():
        left = pc.if_else(rest, trimmed, pa.scalar(None, pa.string()))
        out = pc.coalesce(out, _certain_e164(pc.replace_substring_regex(left, _SEPARATORS, ""),
                                             region))
    return out


def _certain_e164(compact: pa.Array, region: str) -> pa.Array:
    # The three forms start with "+", "0" and "1": no value has two, so the order they are
    # tried in does not change the result, and once every value has one the rest are skipped
    # (cleaned columns are all E.164, raw CN exports mostly bare mobiles: 1-2 regexes, not 3).
    none = pa.scalar(None, pa.string())
    out = pc.if_else(pc.match_substring_regex(compact, _E164_CN_MOBILE), compact, none)

    def pending() -> bool:
        return pc.any(pc.and_(pc.is_valid(compact), pc.is_null(out))).as_py() is True

    if region == "CN" and pending():
        mobile = pc.match_substring_regex(compact, _CN_MOBILE)
        out = pc.coalesce(out, pc.if_else(mobile, pc.binary_join_element_wise("+86", compact, ""),
                                          none))
    if pending():
        idd = pc.match_substring_regex(compact, _IDD_CN_MOBILE)
        out = pc.coalesce(out, pc.if_else(idd, pc.utf8_replace_slice(compact, 0, 2, "+"), none))
    return out


def _map_distinct(column: pa.ChunkedArray, fn: Callable[[str], str | None]) -> pa.Array:
    """Apply ``fn`` once per distinct value and broadcast back (the hot path of cleaning)."""
    encoded = pc.dictionary_encode(column.combine_chunks() if column.num_chunks else column)
    dictionary = encoded.dictionary.to_pylist()
    mapped = pa.array([fn(v) if v is not None else None for v in dictionary], type=pa.string())
    return pc.take(mapped, encoded.indices)


def extract(
    record_table: str, data: pa.Table, region: str, hasher: Callable[[str], str] | None = None
) -> pa.Table:
    """Identifier rows (record_table, source, source_id, id_type, id_value, raw_value, ingest_id).

    ``hasher`` (keyed HMAC) pseudonymises ``id_value`` when a secret is configured.
    """
    from cxlens import schema

    parts: list[pa.Table] = []
    columns = [(c, t) for c, t in IDENTIFIER_COLUMNS.items() if c in data.column_names]
    if record_table in ORDER_TABLES:
        columns.append(("source_id", "order"))
    for column, id_type in columns:
        raw = data.column(column).cast(pa.string())
        if id_type == "phone":  # vectorised for the common forms, phonenumbers for the rest
            fast = phone_fast_path(raw, region)
            rest = pc.if_else(pc.is_null(fast), raw.combine_chunks() if isinstance(
                raw, pa.ChunkedArray) else raw, pa.scalar(None, pa.string()))
            # nothing left for phonenumbers (e.g. phones the cleaning already made E.164):
            # no dictionary encoding of an all-null column
            normalized = fast if rest.null_count == len(rest) else pc.coalesce(
                fast, _map_distinct(pa.chunked_array([rest]), normalizer(id_type, region)))
        else:
            normalized = _map_distinct(raw, normalizer(id_type, region))
        keep = pc.is_valid(normalized)
        if not pc.any(keep).as_py():
            continue
        values = pc.filter(normalized, keep)
        if hasher is not None:
            values = _map_distinct(pa.chunked_array([values]), hasher)
        n = len(values)
        parts.append(pa.table({
            "record_table": pa.repeat(pa.scalar(record_table, pa.string()), n),
            "source": pc.filter(data.column("source"), keep),
            "source_id": pc.filter(data.column("source_id"), keep),
            "id_type": pa.repeat(pa.scalar(id_type, pa.string()), n),
            "id_value": values,
            "raw_value": pc.filter(raw, keep),
            "ingest_id": pc.filter(data.column("ingest_id"), keep)
            if "ingest_id" in data.column_names else pa.nulls(n, pa.string()),
        }))
    if not parts:
        return schema.conform("identifiers", pa.table({"source": pa.array([], pa.string())}))
    return schema.conform("identifiers", pa.concat_tables(parts))


def distinct_values(values: Iterable[str | None]) -> set[str]:
    return {v for v in values if v}
