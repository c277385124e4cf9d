"""blank_to_null and the Asterisk caller-id name: the fast forms against their definitions."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.compute as pc

from cxlens.clean import values as V
from cxlens.connectors.asterisk import CLID_NAME, clid_names


def _blank_to_null_by_definition(column: pa.Array) -> pa.Array:
    trimmed = pc.utf8_trim_whitespace(V.as_string(column))
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _clid_names_by_definition(clid: pa.Array) -> pa.Array:
    clid = _blank_to_null_by_definition(clid)
    name = pc.struct_field(pc.extract_regex(pc.fill_null(clid, ""), CLID_NAME), [0])
    return _blank_to_null_by_definition(name)


def test_blank_to_null_cases():
    out = V.blank_to_null(pa.array([" a ", "", "  ", None, "\u3000b"])).to_pylist()
    assert out == ["a", None, None, None, "b"]
    assert V.blank_to_null(pa.array(["", " "])).null_count == 2
    assert V.blank_to_null(pa.array(["x", "y "])).to_pylist() == ["x", "y"]


def test_blank_to_null_matches_its_definition_on_random_columns():
    rng = random.Random(3)
    alphabet = [" ", "\t", "\u3000", "a", "张", "\n"]
    for _ in range(500):
        values = [None if rng.random() < 0.1 else
                  "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 3)))
                  for _ in range(rng.randint(0, 8))]
        column = pa.array(values, pa.string())
        assert V.blank_to_null(column).equals(_blank_to_null_by_definition(column)), values


def test_clid_names_cases():
    clids = ['"Caller" <1>', "Bob <2>", '"" <3>', "<4>", '"A"B" <5>', '"A" x <6>',
             ' "Ann"  <7> ', "no bracket", None, "", '"张三"<8>']
    assert clid_names(pa.array(clids, pa.string())).to_pylist() == [
        "Caller", "Bob", None, None, None, None, "Ann", None, None, None, "张三"]


def test_clid_names_match_the_one_regex_on_random_strings():
    rng = random.Random(5)
    alphabet = ['"', "<", ">", " ", "\t", "\n", "a", "1", "张", "\u3000"]
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9)))
              for _ in range(20_000)] + [None]
    column = pa.array(values, pa.string())
    expected = _clid_names_by_definition(column)
    assert pc.count(expected).as_py() > 1000  # the sample does exercise names
    assert clid_names(column).equals(expected)
