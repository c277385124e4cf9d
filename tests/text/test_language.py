"""Language detection and HTML stripping."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxlens.text.language import detect, strip_html


@pytest.mark.parametrize(("text", "expected"), [
    ("我的快递还没到", "zh"),
    ("這間酒店環境和服務態度亦算不錯", "zh"),  # traditional characters
    ("我的iPhone开不了机，help", "zh"),  # mixed zh/en in one sentence
    ("请帮我cancel这个order", "zh"),
    ("My card has not arrived yet, can you check?", "en"),
    ("refund", "en"),
    ("Je voudrais annuler mon abonnement immédiatement s'il vous plaît", "other"),
    ("こんにちは、注文について", "other"),
    ("", "other"),
    ("🙂🙂🙂", "other"),
    ("13812345678", "other"),
    ("Hi, I'm 王伟 and my bill is wrong again this month", "en"),
])
def test_detect(text: str, expected: str) -> None:
    assert detect(text) == expected


def test_strip_html() -> None:
    body = "<html><head><style>p{color:red}</style></head><body><p>您好&nbsp;<b>客服</b></p>" \
           "<div>电话13812345678</div><script>alert(1)</script></body></html>"
    plain = strip_html(body)
    assert "<" not in plain and "color" not in plain and "alert" not in plain
    assert "客服" in plain and "13812345678" in plain
    assert strip_html("a < b and c > d") == "a < b and c > d"


def test_cached_langid_model_classifies_like_langid(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from langid.langid import LanguageIdentifier, model

    from cxlens.text import language

    reference = LanguageIdentifier.from_modelstring(model, norm_probs=True)
    reference.set_languages(list(language._CANDIDATES))
    samples = ["bonjour, je voudrais annuler mon abonnement", "Guten Tag, meine Rechnung ist falsch",
               "Selamat pagi, pesanan saya belum sampai", "hola necesito ayuda con mi factura",
               "Refund pending since Monday", "xq zzv blorp", "我的iPhone开不了机"]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    for _ in ("decoded and written", "read from the cache"):
        language._langid.cache_clear()
        ident = language._langid()
        assert [ident.classify(t) for t in samples] == [reference.classify(t) for t in samples]
    assert list((tmp_path / "cxlens").glob("langid-*.npz"))
    assert not list((tmp_path / "cxlens").glob("*.tmp*"))
    (next((tmp_path / "cxlens").glob("langid-*.npz"))).write_bytes(b"not a zip")
    language._langid.cache_clear()  # a damaged cache file is decoded again, not an error
    assert language._langid().classify(samples[0]) == reference.classify(samples[0])
    language._langid.cache_clear()
