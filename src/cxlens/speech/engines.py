"""ASR engines behind one small interface, chosen by ``settings.speech.engine``.

An engine turns one channel of 16 kHz float samples (plus the talk spurts the VAD found) into
timed text. Capabilities are data: ``languages`` lists what the engine can recognise
(``None`` = whatever its model covers).

* ``pocketsphinx`` — offline US English; the wheel ships the acoustic model. ``domain`` mode
  (default) decodes with a contact-centre bigram model (see :mod:`cxlens.speech.domain`);
  ``general`` mode with the shipped 130k-word model.
* ``faster-whisper`` — any Whisper language incl. Chinese, only from a local CTranslate2 model
  directory (``speech.model_dir``); GPU when present. Optional extra: ``cxlens[whisper]``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from cxlens.config import SpeechSettings
from cxlens.errors import ConfigError
from cxlens.speech.audio import TARGET_RATE, to_pcm16
from cxlens.speech.exceptions import UnsupportedLanguageError


@dataclass
class TimedText:
    """Text recognised between ``start_s`` and ``end_s`` of one channel."""

    start_s: float
    end_s: float
    text: str


@dataclass
class ChannelResult:
    pieces: list[TimedText] = field(default_factory=list)
    language: str | None = None


class SpeechEngine(Protocol):
    name: str
    languages: tuple[str, ...] | None

    def transcribe_channel(
        self, samples: np.ndarray, spans: list[tuple[float, float]], language: str | None
    ) -> ChannelResult: ...


class PocketsphinxEngine:
    """CMU pocketsphinx, decoding each VAD talk spurt as one utterance."""

    name = "pocketsphinx"
    languages: tuple[str, ...] | None = ("en",)

    def __init__(self, language_model: str = "domain", phrases_file: str = "",
                 rule_phrases: tuple[str, ...] = ()) -> None:
        try:
            import pocketsphinx
        except ImportError as exc:  # the speech extra is optional
            raise ConfigError(
                "speech.engine = pocketsphinx needs the pocketsphinx package",
                "pip install 'cxlens[speech]'",
            ) from exc
        self.language_model = language_model
        model = Path(pocketsphinx.get_model_path()) / "en-us"
        self.dict_path = str(model / "cmudict-en-us.dict")
        # dither: digital silence (exact zeros, common in VoIP recordings and in our padding)
        # otherwise drives the energy features to -inf and the first words get lost; a fixed
        # seed keeps transcripts reproducible.
        options: dict[str, Any] = {"loglevel": "ERROR", "samprate": TARGET_RATE,
                                   "dither": True, "seed": 7}
        if language_model == "domain":
            from cxlens.speech.domain import corpus_sentences, model_files

            sentences = corpus_sentences(phrases_file, rule_phrases)
            options["lm"], options["dict"] = model_files(sentences, self.dict_path)
        self.decoder = pocketsphinx.Decoder(**options)
        self._pad = np.zeros(int(0.3 * TARGET_RATE), dtype=np.float32)

    def transcribe_channel(
        self, samples: np.ndarray, spans: list[tuple[float, float]], language: str | None
    ) -> ChannelResult:
        result = ChannelResult(language="en")
        for start, end in spans:
            chunk = samples[int(start * TARGET_RATE): int(end * TARGET_RATE)]
            if len(chunk) < TARGET_RATE // 10:
                continue
            # Silence around each spurt: pocketsphinx's cepstral normalisation and its silence
            # model need it (a spurt cut right at speech onset loses its first words).
            padded = np.concatenate([self._pad, chunk, self._pad])
            self.decoder.start_utt()
            self.decoder.process_raw(to_pcm16(padded), full_utt=True)
            self.decoder.end_utt()
            hyp = self.decoder.hyp()
            text = hyp.hypstr.strip() if hyp is not None else ""
            if text:
                result.pieces.append(TimedText(round(start, 3), round(end, 3), text))
        return result


class WhisperEngine:
    """faster-whisper (CTranslate2) from a local model directory; GPU when present."""

    name = "faster-whisper"
    languages: tuple[str, ...] | None = None

    def __init__(self, model_dir: str, device: str = "auto") -> None:
        if not model_dir:
            raise ConfigError(
                "speech.engine = faster-whisper needs a local model directory",
                "set [speech] model_dir in cxlens.toml to a CTranslate2 Whisper model folder "
                "(cxlens never downloads models)",
            )
        folder = Path(model_dir).expanduser()
        if not (folder / "model.bin").is_file():
            raise ConfigError(
                f"speech.model_dir {model_dir} is not a CTranslate2 Whisper model (no model.bin)",
                "convert a Whisper model with ct2-transformers-converter and point model_dir at it",
            )
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise ConfigError(
                "speech.engine = faster-whisper but faster-whisper is not installed",
                "pip install 'cxlens[whisper]'",
            ) from exc
        chosen = _whisper_device(device)
        compute = "float16" if chosen == "cuda" else "int8"
        self.device = chosen
        self.model = WhisperModel(str(folder), device=chosen, compute_type=compute,
                                  local_files_only=True)

    def transcribe_channel(
        self, samples: np.ndarray, spans: list[tuple[float, float]], language: str | None
    ) -> ChannelResult:
        if not spans:
            return ChannelResult(language=language)
        segments, info = self.model.transcribe(samples, language=language, vad_filter=True)
        pieces = [TimedText(round(float(s.start), 3), round(float(s.end), 3), s.text.strip())
                  for s in segments if s.text.strip()]
        return ChannelResult(pieces, getattr(info, "language", language))


def _whisper_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except (ImportError, RuntimeError, OSError):
        return "cpu"


def check_language(engine: SpeechEngine, language: str | None) -> str | None:
    """The language to decode in; a clear error when the engine has no model for it."""
    if engine.languages is None:
        return language
    if language is None:
        return engine.languages[0]
    if language not in engine.languages:
        raise UnsupportedLanguageError(
            f"the {engine.name} engine has no {language!r} model (it recognises "
            f"{', '.join(engine.languages)})",
            "for Chinese set [speech] engine = \"faster-whisper\" and model_dir to a local "
            "Whisper model",
        )
    return language


def get_engine(settings: SpeechSettings, rule_phrases: tuple[str, ...] = ()) -> SpeechEngine:
    """The configured engine (cached per process: loading a model takes ~1 s)."""
    return _cached_engine(
        settings.engine, settings.language_model, settings.domain_phrases_file,
        settings.model_dir, settings.device, rule_phrases,
        os.environ.get("CUDA_VISIBLE_DEVICES", ""),
    )


@lru_cache(maxsize=4)
def _cached_engine(engine: str, language_model: str, phrases_file: str, model_dir: str,
                   device: str, rule_phrases: tuple[str, ...], _cuda: str) -> SpeechEngine:
    if engine == "faster-whisper":
        return WhisperEngine(model_dir, device)
    return PocketsphinxEngine(language_model, phrases_file, rule_phrases)
