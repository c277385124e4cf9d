"""transcribe(): pocketsphinx on espeak-ng calls, engine selection and error paths."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import soundfile as sf

from cxlens.config import load_settings
from cxlens.errors import ConfigError
from cxlens.speech import transcribe
from cxlens.speech.domain import build_arpa, tokenise
from cxlens.speech.exceptions import UnsupportedLanguageError


def _settings(**speech: object):
    settings = load_settings(None, environ={})
    for key, value in speech.items():
        setattr(settings.speech, key, value)
    return settings


def test_stereo_english_call_gives_speaker_turns_with_times(en_call) -> None:
    t = transcribe(en_call, language="en", settings=_settings())
    assert [s.speaker for s in t.segments] == ["agent", "customer"]
    agent, customer = t.segments
    assert agent.start_s < 1.0 < agent.end_s <= customer.start_s
    # domain model: the QA phrases come through on espeak audio
    assert "good morning" in agent.text
    assert "calling" in agent.text
    assert len({"bill", "wrong", "charged", "twice"} & set(customer.text.split())) >= 2
    assert t.signal is not None and t.signal.talk_ratio is not None
    assert 0.4 < t.signal.talk_ratio < 0.75
    assert t.engine == "pocketsphinx" and t.language == "en"
    assert 0 < t.rtf < 20
    doc = t.to_dict()
    assert doc["segments"][0]["speaker"] == "agent" and doc["text"].startswith(agent.text)


def test_mono_call_has_unknown_speaker(en_mono) -> None:
    t = transcribe(en_mono, settings=_settings())
    assert t.segments and all(s.speaker is None for s in t.segments)
    assert t.signal is not None and t.signal.talk_ratio is None


def test_general_model_runs_but_is_worse_on_synthetic_speech(en_call) -> None:
    domain = transcribe(en_call, settings=_settings())
    general = transcribe(en_call, settings=_settings(language_model="general"))
    script = set(tokenise("Good morning, thank you for calling. How can I help you today? "
                          "My bill is wrong. I was charged twice."))
    hits = lambda t: len(set(tokenise(t.text)) & script)  # noqa: E731
    assert general.segments  # it produces text ...
    assert hits(domain) > hits(general)  # ... but the domain model recovers more of the script


def test_user_phrase_file_extends_the_domain_model(tmp_path, speak) -> None:
    audio = speak("Please send me a new router.", "en", tmp_path / "p.wav")
    phrases = tmp_path / "phrases.txt"
    phrases.write_text("please send me a new router\n", encoding="utf-8")
    new_words = {"send", "new", "router"}  # none is in the built-in corpus
    plain = transcribe(audio, settings=_settings())
    extended = transcribe(audio, settings=_settings(domain_phrases_file=str(phrases)))
    assert not new_words & set(plain.text.split())
    assert len(new_words & set(extended.text.split())) >= 2


def test_missing_phrase_file_is_a_config_error(en_mono) -> None:
    with pytest.raises(ConfigError, match="domain_phrases_file"):
        transcribe(en_mono, settings=_settings(domain_phrases_file="/nonexistent/p.txt"))


def test_chinese_with_pocketsphinx_is_a_clear_error(zh_call) -> None:
    with pytest.raises(UnsupportedLanguageError, match="no 'zh' model") as info:
        transcribe(zh_call, language="zh", settings=_settings())
    assert "faster-whisper" in (info.value.hint or "")


def test_chinese_signal_metrics_without_asr(zh_call) -> None:
    t = transcribe(zh_call, language="zh", settings=_settings(), signal_only=True)
    assert t.asr is False and t.segments == []
    assert t.signal is not None and t.signal.agent_talk_s and t.signal.customer_talk_s
    assert t.signal.agent_talk_s > t.signal.customer_talk_s  # the agent's line is longer
    assert t.signal.overtalk_s == pytest.approx(0.0, abs=0.1)


def test_silent_recording_gives_no_segments_and_no_error(tmp_path) -> None:
    path = tmp_path / "silent.wav"
    sf.write(path, np.zeros((16000 * 2, 2), np.float32), 16000)
    t = transcribe(path, settings=_settings())
    assert t.segments == [] and t.text == ""
    assert t.signal is not None and t.signal.silence_share == 1.0 and t.signal.talk_s == 0.0


def test_whisper_needs_a_model_dir(en_mono) -> None:
    with pytest.raises(ConfigError, match="local model directory"):
        transcribe(en_mono, settings=_settings(engine="faster-whisper"))


def test_whisper_model_dir_must_hold_a_model(en_mono, tmp_path) -> None:
    with pytest.raises(ConfigError, match="no model.bin"):
        transcribe(en_mono, settings=_settings(engine="faster-whisper", model_dir=str(tmp_path)))


def test_whisper_not_installed_is_a_clear_error(en_mono, tmp_path, monkeypatch) -> None:
    (tmp_path / "model.bin").write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # import fails
    with pytest.raises(ConfigError, match="not installed") as info:
        transcribe(en_mono, settings=_settings(engine="faster-whisper", model_dir=str(tmp_path)))
    assert "cxlens[whisper]" in (info.value.hint or "")


def test_whisper_adapter_maps_segments_per_channel(zh_call, tmp_path, monkeypatch) -> None:
    """A stand-in for faster_whisper.WhisperModel checks what the adapter passes and maps."""
    calls: list[dict[str, object]] = []

    class FakeModel:
        def __init__(self, path: str, device: str, compute_type: str, local_files_only: bool):
            assert local_files_only and path == str(tmp_path)
            calls.append({"device": device, "compute_type": compute_type})

        def transcribe(self, samples, language=None, vad_filter=False):
            assert samples.dtype == np.float32 and samples.ndim == 1 and vad_filter
            calls.append({"language": language, "seconds": len(samples) / 16000})
            seg = types.SimpleNamespace(start=0.5, end=2.0, text=" 您好，很高兴为您服务 ")
            return iter([seg]), types.SimpleNamespace(language="zh")

    (tmp_path / "model.bin").write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "faster_whisper", types.SimpleNamespace(WhisperModel=FakeModel))
    settings = _settings(engine="faster-whisper", model_dir=str(tmp_path), device="cpu")
    t = transcribe(zh_call, settings=settings)  # language None: whisper detects it
    assert t.engine == "faster-whisper" and t.language == "zh"
    assert [s.speaker for s in t.segments] == ["agent", "customer"]
    assert t.segments[0].text == "您好，很高兴为您服务"
    assert calls[0] == {"device": "cpu", "compute_type": "int8"}
    assert [c.get("language", "x") for c in calls[1:]] == [None, None]  # both channels


def test_arpa_model_is_well_formed() -> None:
    text = build_arpa(["good morning", "good evening thank you", "thank you"])
    lines = text.splitlines()
    assert lines[0] == "\\data\\" and lines[-1] == "\\end\\"
    n1 = int(next(ln for ln in lines if ln.startswith("ngram 1=")).split("=")[1])
    n2 = int(next(ln for ln in lines if ln.startswith("ngram 2=")).split("=")[1])
    uni = lines.index("\\1-grams:")
    bi = lines.index("\\2-grams:")
    assert len([ln for ln in lines[uni + 1:bi] if ln]) == n1 == 7  # 5 words + <s> </s>
    assert len([ln for ln in lines[bi + 1:-1] if ln]) == n2
    # every history's bigram mass plus its back-off mass is a proper distribution
    for line in lines[uni + 1:bi]:
        parts = line.split()
        if len(parts) == 3:
            assert float(parts[2]) <= 0.5  # log10 back-off weight is finite and sane
