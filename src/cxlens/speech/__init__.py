"""Speech: call recordings → timed, speaker-labelled text and signal metrics.

>>> from cxlens.speech import transcribe
>>> t = transcribe("call.wav", language="en")   # doctest: +SKIP
>>> t.signal.talk_ratio, t.text                # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cxlens.speech.signal import CallSignal
    from cxlens.speech.stage import transcribe_interactions
    from cxlens.speech.transcript import Segment, Transcript, transcribe

__all__ = ["CallSignal", "Segment", "Transcript", "transcribe", "transcribe_interactions"]

_WHERE = {
    "CallSignal": "cxlens.speech.signal",
    "Segment": "cxlens.speech.transcript",
    "Transcript": "cxlens.speech.transcript",
    "transcribe": "cxlens.speech.transcript",
    "transcribe_interactions": "cxlens.speech.stage",
}


def __getattr__(name: str) -> Any:
    # Lazy: importing cxlens.speech must not load numpy/scipy/pocketsphinx.
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(name)
