"""Exact 64-bit keys of char n-grams, the same hash chain as cxlens.text.ngrams before its final
shift: ``key >> (64 - N_BITS)`` is ngrams.py's bucket. Needs numpy only (runs on the device)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

_spec = importlib.util.spec_from_file_location(
    "ngrams", Path(__file__).resolve().parents[1] / "src/cxlens/text/ngrams.py")
ngrams = importlib.util.module_from_spec(_spec)
sys.modules["ngrams"] = ngrams
_spec.loader.exec_module(ngrams)


def distinct_keys(texts, order, with_first=False):
    """(rows, keys[, (first_row, first_offset)]) of each distinct order-gram per text, sorted
    by (row, key)."""
    codes, row_of = ngrams._codepoints(texts)
    n = len(codes)
    if n < order:
        e = np.zeros(0, np.int64)
        return (e, e.astype(np.uint64), (e, e)) if with_first else (e, e.astype(np.uint64))
    is_sep = codes == 0
    h = np.zeros(n - order + 1, dtype=np.uint64)
    bad = np.zeros(n - order + 1, dtype=bool)
    for k in range(order):
        h = (h ^ codes[k : n - order + 1 + k]) * ngrams._MUL
        bad |= is_sep[k : n - order + 1 + k]
    h = (h ^ ngrams._ORDER_SALT[order - 1]) * ngrams._MUL
    keep = np.flatnonzero(~bad)
    rows = row_of[: n - order + 1][keep]
    keys = h[keep]
    idx = np.lexsort((keys, rows))
    rows, keys, pos = rows[idx], keys[idx], keep[idx]
    first = np.ones(len(keys), bool)
    first[1:] = (rows[1:] != rows[:-1]) | (keys[1:] != keys[:-1])
    if not with_first:
        return rows[first], keys[first]
    starts = np.searchsorted(row_of, np.arange(len(texts)))
    return rows[first], keys[first], (rows[first], pos[first] - starts[rows[first]])


def bucket(keys):
    return (keys >> ngrams._SHIFT).astype(np.int64)
