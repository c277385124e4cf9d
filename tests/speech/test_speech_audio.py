"""Audio decoding, resampling and the signal metrics (talk, silence, overtalk)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from cxlens.errors import CxlensError, InputError, NotFoundError
from cxlens.speech.audio import read_audio, resample
from cxlens.speech.signal import call_signal, speech_mask, utterances

RATE = 16000


def _bursts(spans: list[tuple[float, float]], duration: float, freq: float = 300.0) -> np.ndarray:
    """A channel with a speech-like tone (amplitude-modulated) during ``spans``, silence elsewhere."""
    t = np.arange(int(duration * RATE)) / RATE
    out = np.zeros_like(t)
    for start, end in spans:
        on = (t >= start) & (t < end)
        out[on] = 0.3 * np.sin(2 * np.pi * freq * t[on]) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t[on]))
    rng = np.random.default_rng(0)
    return (out + rng.normal(0, 1e-4, len(t))).astype(np.float32)


def test_stereo_metrics_match_the_planted_timeline() -> None:
    agent = _bursts([(1.0, 4.0), (10.0, 12.0)], 15.0)
    customer = _bursts([(3.5, 6.0)], 15.0, freq=220.0)
    signal = call_signal([agent, customer], RATE, agent_channel=0)
    assert signal.channels == 2
    assert signal.duration_s == pytest.approx(15.0, abs=0.01)
    assert signal.agent_talk_s == pytest.approx(5.0, abs=0.1)
    assert signal.customer_talk_s == pytest.approx(2.5, abs=0.1)
    assert signal.talk_ratio == pytest.approx(5.0 / 7.5, abs=0.02)
    assert signal.overtalk_s == pytest.approx(0.5, abs=0.08)
    assert signal.talk_s == pytest.approx(7.0, abs=0.1)  # 1-6 s and 10-12 s
    assert signal.longest_silence_s == pytest.approx(4.0, abs=0.1)  # 6 s → 10 s dead air
    assert signal.longest_silence_at_s == pytest.approx(6.0, abs=0.05)
    assert signal.silence_share == pytest.approx(8.0 / 15.0, abs=0.01)


def test_agent_channel_setting_swaps_the_parties() -> None:
    left = _bursts([(0.5, 3.5)], 5.0)
    right = _bursts([(3.6, 4.6)], 5.0)
    as_left = call_signal([left, right], RATE, agent_channel=0)
    as_right = call_signal([left, right], RATE, agent_channel=1)
    assert as_left.talk_ratio == pytest.approx(0.75, abs=0.02)
    assert as_right.talk_ratio == pytest.approx(0.25, abs=0.02)


def test_mono_has_no_party_metrics() -> None:
    signal = call_signal([_bursts([(1.0, 2.0), (3.0, 4.0)], 5.0)], RATE)
    assert signal.talk_ratio is None and signal.overtalk_s is None and signal.agent_talk_s is None
    assert signal.talk_s == pytest.approx(2.0, abs=0.1)
    assert signal.longest_silence_s == pytest.approx(1.0, abs=0.1)


def test_silence_and_digital_zero_are_all_silence() -> None:
    for samples in (np.zeros(RATE * 3, np.float32),
                    np.random.default_rng(1).normal(0, 1e-4, RATE * 3).astype(np.float32)):
        signal = call_signal([samples], RATE)
        assert signal.talk_s == 0.0
        assert signal.silence_share == 1.0
        assert signal.longest_silence_s == pytest.approx(3.0, abs=0.02)
        assert utterances(speech_mask(samples, RATE)) == []


def test_short_pauses_stay_inside_one_utterance() -> None:
    channel = _bursts([(1.0, 2.0), (2.2, 3.0), (4.5, 5.0)], 6.0)
    spans = utterances(speech_mask(channel, RATE))
    assert len(spans) == 2
    assert spans[0][0] == pytest.approx(0.85, abs=0.05) and spans[0][1] == pytest.approx(3.15, abs=0.05)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resample_keeps_a_tone_and_its_length(rate: int) -> None:
    t = np.arange(rate * 2) / rate
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[:, None]
    out = resample(tone, rate, RATE)
    assert out.shape == (RATE * 2, 1)
    expected = 0.5 * np.sin(2 * np.pi * 440 * np.arange(len(out)) / RATE)
    assert np.abs(out[200:-200, 0] - expected[200:-200]).max() < 1e-3


def test_resample_removes_what_16k_cannot_hold() -> None:
    rate = 48000
    t = np.arange(rate) / rate
    tone = (0.5 * np.sin(2 * np.pi * 12000 * t)).astype(np.float32)[:, None]  # above 8 kHz
    out = resample(tone, rate, RATE)
    assert np.sqrt(np.mean(out[200:-200] ** 2)) < 1e-3  # no alias left


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "MP3", "OGG"])
def test_reads_supported_formats_at_any_rate(tmp_path, fmt: str) -> None:
    rate = 8000
    t = np.arange(rate * 2) / rate
    data = np.stack([0.3 * np.sin(2 * np.pi * 300 * t), np.zeros_like(t)], axis=1)
    path = tmp_path / f"call.{fmt.lower()}"
    sf.write(path, data, rate, format=fmt)
    audio = read_audio(path)
    assert audio.rate == RATE and audio.source_rate == rate and audio.channels == 2
    assert audio.duration_s == pytest.approx(2.0, abs=0.1)  # MP3 adds codec padding
    assert np.abs(audio.channel(0)).max() > 0.2 and np.abs(audio.channel(1)).max() < 0.05


def test_missing_file(tmp_path) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        read_audio(tmp_path / "nope.wav")


def test_empty_file(tmp_path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_audio(path)


def test_corrupt_wav_says_corrupt_and_how_to_fix(tmp_path) -> None:
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4)
    with pytest.raises(InputError, match="corrupt") as info:
        read_audio(path)
    assert info.value.hint and "sox" in info.value.hint


def test_unsupported_codec_is_named(tmp_path) -> None:
    path = tmp_path / "call.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 200)
    with pytest.raises(InputError, match="unsupported audio format .m4a") as info:
        read_audio(path)
    assert "ffmpeg" in (info.value.hint or "")


def test_a_folder_is_not_audio(tmp_path) -> None:
    with pytest.raises(CxlensError, match="folder"):
        read_audio(tmp_path)


def test_truncated_real_wav(tmp_path) -> None:
    path = tmp_path / "cut.wav"
    sf.write(path, np.zeros(RATE, np.float32), RATE)
    path.write_bytes(path.read_bytes()[:30])  # header cut mid-way
    with pytest.raises(InputError):
        read_audio(path)
