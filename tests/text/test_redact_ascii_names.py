"""A customer's Latin-script name is redacted inside Chinese text as well as in English."""

from __future__ import annotations

import pytest

from cxlens.text.redact import redact


@pytest.mark.parametrize(("text", "expected"), [
    ("我是Bob Li，账单扣了两次", "我是[NAME]，账单扣了两次"),
    ("您好Bob，请问", "您好[NAME]，请问"),  # a part of 3+ letters alone still names them
    ("Hi, this is Bob Li calling", "Hi, this is [NAME] calling"),
    ("Bob's order", "[NAME]'s order"),
])
def test_latin_name_next_to_cjk_or_punctuation(text, expected):
    assert redact(text, ["Bob Li"]).text == expected


@pytest.mark.parametrize("text", ["Bobby called", "Lisa called", "Bob2000 is a username"])
def test_latin_name_inside_a_longer_word_is_kept(text):
    assert redact(text, ["Bob Li"]).text == text
