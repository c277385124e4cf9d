"""Per-call signal metrics from an energy-based voice-activity detector (numpy only).

Definitions (what a contact-centre supervisor reads on the call card):

* **talk time** — seconds in which at least one party speaks.
* **silence share** — seconds in which nobody speaks ÷ call duration (leading ring/hold
  silence included: it is time the customer spent on the line).
* **longest silence** — the longest stretch of dead air *between* the first and the last
  speech of the call (leading and trailing silence are not dead air the agent caused).
* **talk ratio** (stereo only) — agent talk seconds ÷ (agent + customer talk seconds).
* **overtalk** (stereo only) — seconds in which both parties speak at once; its share is
  overtalk ÷ talk time.

Mono recordings cannot tell the parties apart, so talk ratio and overtalk are ``None`` there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

FRAME_S = 0.02
MIN_SPEECH_S = 0.12  # bursts shorter than this are clicks, not speech
BRIDGE_S = 0.3  # pauses shorter than this stay inside a talk spurt
UTTERANCE_GAP_S = 0.5  # pauses at least this long split utterances for the recogniser
ABS_FLOOR_DB = -55.0  # below this a frame is silence whatever the noise floor


@dataclass
class CallSignal:
    """Signal metrics of one call (seconds unless named ``share``/``ratio``)."""

    duration_s: float
    channels: int
    talk_s: float
    silence_share: float
    longest_silence_s: float
    longest_silence_at_s: float | None
    agent_talk_s: float | None = None
    customer_talk_s: float | None = None
    talk_ratio: float | None = None
    overtalk_s: float | None = None
    overtalk_share: float | None = None

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def frame_levels(samples: np.ndarray, rate: int, frame_s: float = FRAME_S) -> np.ndarray:
    """RMS level in dBFS of consecutive non-overlapping frames."""
    size = max(1, int(round(rate * frame_s)))
    usable = (len(samples) // size) * size
    if usable == 0:
        return np.full(1, -120.0)
    frames = samples[:usable].reshape(-1, size).astype(np.float64)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-6))


def speech_mask(samples: np.ndarray, rate: int, frame_s: float = FRAME_S) -> np.ndarray:
    """Boolean per frame: does this channel carry speech?

    The threshold adapts to the channel: 10 dB over its noise floor (10th percentile) and no
    more than 35 dB under its loud speech (99th percentile), never under an absolute floor —
    so line hiss and a quiet far party are both handled without a trained model.
    """
    levels = frame_levels(samples, rate, frame_s)
    floor = float(np.percentile(levels, 10))
    peak = float(np.percentile(levels, 99))
    if peak < ABS_FLOOR_DB:
        return np.zeros(len(levels), dtype=bool)
    threshold = max(floor + 10.0, peak - 35.0, ABS_FLOOR_DB)
    mask = levels > threshold
    mask = _fill_short(mask, value=False, max_len=int(BRIDGE_S / frame_s))
    return _fill_short(mask, value=True, max_len=int(MIN_SPEECH_S / frame_s))


def _runs(mask: np.ndarray) -> list[tuple[int, int, bool]]:
    """(start, end_exclusive, value) runs of a boolean array."""
    if len(mask) == 0:
        return []
    edges = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [len(mask)]))
    return [(int(s), int(e), bool(mask[s])) for s, e in zip(starts, ends, strict=True)]


def _fill_short(mask: np.ndarray, value: bool, max_len: int) -> np.ndarray:
    """Flip interior runs of ``value`` shorter than ``max_len`` frames to ``not value``."""
    out = mask.copy()
    runs = _runs(mask)
    for index, (start, end, run_value) in enumerate(runs):
        interior = 0 < index < len(runs) - 1 if not value else True
        if run_value == value and end - start < max_len and interior:
            out[start:end] = not value
    return out


def utterances(
    mask: np.ndarray, frame_s: float = FRAME_S, gap_s: float = UTTERANCE_GAP_S,
    pad_s: float = 0.15, duration_s: float | None = None,
) -> list[tuple[float, float]]:
    """(start_s, end_s) of talk spurts separated by pauses of at least ``gap_s``."""
    bridged = _fill_short(mask, value=False, max_len=int(gap_s / frame_s))
    limit = duration_s if duration_s is not None else len(mask) * frame_s
    spans = []
    for start, end, value in _runs(bridged):
        if value:
            spans.append((max(0.0, start * frame_s - pad_s), min(limit, end * frame_s + pad_s)))
    return spans


def call_signal(channels: list[np.ndarray], rate: int, agent_channel: int = 0) -> CallSignal:
    """Metrics of one call from its channel signals (one = mono, two = agent/customer)."""
    masks = [speech_mask(samples, rate) for samples in channels]
    length = min(len(m) for m in masks)
    masks = [m[:length] for m in masks]
    duration = len(channels[0]) / rate
    anyone = np.logical_or.reduce(masks)
    talk_s = float(anyone.sum()) * FRAME_S
    longest, longest_at = _longest_internal_silence(anyone)
    signal = CallSignal(
        duration_s=round(duration, 3), channels=len(channels), talk_s=round(talk_s, 3),
        silence_share=round(1.0 - float(anyone.mean()), 4) if length else 1.0,
        longest_silence_s=round(longest if anyone.any() else duration, 3),
        longest_silence_at_s=longest_at,
    )
    if len(masks) == 2:
        agent, customer = masks[agent_channel], masks[1 - agent_channel]
        agent_s, customer_s = float(agent.sum()) * FRAME_S, float(customer.sum()) * FRAME_S
        both = float(np.logical_and(agent, customer).sum()) * FRAME_S
        signal.agent_talk_s = round(agent_s, 3)
        signal.customer_talk_s = round(customer_s, 3)
        signal.talk_ratio = round(agent_s / (agent_s + customer_s), 4) if agent_s + customer_s else None
        signal.overtalk_s = round(both, 3)
        signal.overtalk_share = round(both / talk_s, 4) if talk_s else 0.0
    return signal


def _longest_internal_silence(anyone: np.ndarray) -> tuple[float, float | None]:
    runs = _runs(anyone)
    internal = [(s, e) for i, (s, e, v) in enumerate(runs) if not v and 0 < i < len(runs) - 1]
    if not internal:
        return 0.0, None
    start, end = max(internal, key=lambda se: se[1] - se[0])
    return (end - start) * FRAME_S, round(start * FRAME_S, 3)
