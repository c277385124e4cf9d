"""Speech: call recordings → timed, speaker-labelled text and signal metrics.

>>> from cxlens.speech import transcribe
>>> t = transcribe("call.wav", language="en")   # doctest: +SKIP
>>> t.signal.talk_ratio, t.text                # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cxlens._lazy import lazy_exports

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

__getattr__ = lazy_exports(__name__, _WHERE)
