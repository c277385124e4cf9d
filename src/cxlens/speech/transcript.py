"""One interface for speech: ``transcribe(path, language=None) -> Transcript``.

Stereo recordings are read as one party per channel (``speech.agent_channel`` is the agent,
the other the customer) so every segment carries its speaker; mono recordings cannot be
split by party, so their segments have ``speaker=None``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cxlens.config import Settings, load_settings
from cxlens.speech.audio import read_audio
from cxlens.speech.engines import check_language, get_engine
from cxlens.speech.signal import CallSignal, call_signal, speech_mask, utterances


@dataclass
class Segment:
    """One talk spurt: seconds from the start of the recording, speaker, text."""

    start_s: float
    end_s: float
    speaker: str | None
    text: str
    channel: int


@dataclass
class Transcript:
    """The result of transcribing one recording."""

    path: str
    engine: str
    language: str | None
    duration_s: float
    segments: list[Segment] = field(default_factory=list)
    signal: CallSignal | None = None
    processing_s: float = 0.0
    asr: bool = True  # False when only signal metrics were computed (no model for the language)

    @property
    def text(self) -> str:
        return "\n".join(s.text for s in self.segments)

    @property
    def rtf(self) -> float:
        """Real-time factor: processing seconds per second of audio (lower is faster)."""
        return round(self.processing_s / self.duration_s, 4) if self.duration_s else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "engine": self.engine, "language": self.language,
            "duration_s": round(self.duration_s, 3), "processing_s": round(self.processing_s, 3),
            "rtf": self.rtf, "asr": self.asr,
            "segments": [asdict(s) for s in self.segments],
            "text": self.text,
            "signal": self.signal.to_dict() if self.signal else None,
        }


def _rule_phrases(settings: Settings) -> tuple[str, ...]:
    from cxlens.qa.rules import english_phrases, load_rules

    return english_phrases(load_rules(settings.qa.rules_file or None))


def transcribe(
    path: Path | str, language: str | None = None, settings: Settings | None = None,
    signal_only: bool = False,
) -> Transcript:
    """Transcribe a WAV/FLAC/MP3/OGG call recording with the configured engine.

    Args:
        path: the recording.
        language: ``"en"``, ``"zh"`` or None (engine default: English for pocketsphinx,
            auto-detection for faster-whisper).
        settings: workspace settings (defaults: built-in settings + environment).
        signal_only: skip recognition; compute only the signal metrics.

    >>> t = transcribe("call.wav", language="en")   # doctest: +SKIP
    >>> t.segments[0].speaker, t.segments[0].text   # doctest: +SKIP
    ('agent', 'good morning thank you for calling')
    """
    settings = settings or load_settings(None)
    started = time.perf_counter()
    audio = read_audio(path)
    engine = None
    if not signal_only:
        engine = get_engine(settings.speech, _rule_phrases(settings))
        language = check_language(engine, language)
    channels = [audio.channel(i) for i in range(audio.channels)]
    agent_channel = min(settings.speech.agent_channel, audio.channels - 1)
    signal = call_signal(channels, audio.rate, agent_channel)
    segments: list[Segment] = []
    detected = language
    if engine is not None:
        for index, samples in enumerate(channels):
            spans = utterances(speech_mask(samples, audio.rate), duration_s=audio.duration_s)
            result = engine.transcribe_channel(samples, spans, language)
            detected = detected or result.language
            speaker = _speaker(index, audio.channels, agent_channel)
            segments.extend(Segment(p.start_s, p.end_s, speaker, p.text, index)
                            for p in result.pieces)
        segments.sort(key=lambda s: (s.start_s, s.channel))
    return Transcript(
        path=str(path), engine=engine.name if engine else "none", language=detected,
        duration_s=audio.duration_s, segments=segments, signal=signal,
        processing_s=time.perf_counter() - started, asr=engine is not None,
    )


def _speaker(index: int, channels: int, agent_channel: int) -> str | None:
    if channels < 2:
        return None
    return "agent" if index == agent_channel else "customer"
