"""Read call recordings (WAV, FLAC, MP3, OGG) into 16 kHz float32 channels.

soundfile (libsndfile) decodes; scipy's polyphase filter resamples. Every failure a user can
cause — missing file, empty or truncated file, a codec libsndfile cannot decode — becomes an
:class:`~cxlens.errors.InputError` that says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np

from cxlens.errors import InputError, NotFoundError

TARGET_RATE = 16_000
SUPPORTED_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".oga")
_CONVERT_HINT = "convert it to WAV first, e.g. `sox IN -r 16000 OUT.wav` or `ffmpeg -i IN OUT.wav`"


@dataclass
class Audio:
    """Decoded audio: ``samples`` has shape (frames, channels), float32 in [-1, 1], 16 kHz."""

    samples: np.ndarray
    rate: int
    source_rate: int
    path: Path

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.rate

    def channel(self, index: int) -> np.ndarray:
        return self.samples[:, index]

    def mono(self) -> np.ndarray:
        return self.samples.mean(axis=1).astype(np.float32)


def read_audio(path: Path | str) -> Audio:
    """Decode ``path`` and resample every channel to 16 kHz.

    >>> audio = read_audio("call.wav")   # doctest: +SKIP
    >>> audio.channels, round(audio.duration_s, 1)  # doctest: +SKIP
    (2, 63.4)
    """
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"audio file {path} does not exist", "check the path or audio_ref")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not an audio file")
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise InputError(f"audio file {path} is empty (0 bytes)", "re-export the recording")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if suffix in SUPPORTED_EXTENSIONS:
            raise InputError(
                f"cannot decode {path}: the file is corrupt, truncated or uses a codec inside "
                f"{suffix} that libsndfile cannot read ({reason})", _CONVERT_HINT,
            ) from exc
        raise InputError(
            f"unsupported audio format {suffix or '(no extension)'} for {path}: cxlens reads "
            f"{', '.join(e.lstrip('.').upper() for e in SUPPORTED_EXTENSIONS)}", _CONVERT_HINT,
        ) from exc
    if data.shape[0] == 0:
        raise InputError(f"audio file {path} holds no samples", "re-export the recording")
    if data.shape[1] > 2:
        # Multi-track recorders: keep the first two tracks (agent, customer by convention).
        data = data[:, :2]
    if not np.isfinite(data).all():
        raise InputError(f"audio file {path} contains invalid (NaN/inf) samples")
    return Audio(resample(data, int(rate), TARGET_RATE), TARGET_RATE, int(rate), path)


def resample(data: np.ndarray, rate: int, target: int = TARGET_RATE) -> np.ndarray:
    """Band-limited (Kaiser-windowed sinc) resampling of every column from ``rate`` to ``target``.

    Pure numpy on purpose: importing ``scipy.signal`` costs seconds on a busy machine, more than
    decoding a short call. The low-pass cut-off sits at the lower of the two Nyquist rates.
    """
    data = np.asarray(data, dtype=np.float32)
    if rate == target:
        return np.ascontiguousarray(data)
    divisor = gcd(rate, target)
    up, down = target // divisor, rate // divisor
    ratio = up / down
    cutoff = min(1.0, ratio)
    width = int(np.ceil(_HALF_TAPS / cutoff))
    offsets = np.arange(-width + 1, width + 1)
    padded = np.concatenate([np.zeros((width + 1, data.shape[1]), np.float32), data,
                             np.zeros((width + 1, data.shape[1]), np.float32)])
    n_out = (len(data) * up) // down
    out = np.empty((n_out, data.shape[1]), dtype=np.float32)
    # Only ``up`` distinct fractional phases exist: build their kernels once.
    phase_offset = np.arange(up) / up
    distance = phase_offset[:, None] - offsets[None, :]
    window = np.i0(_KAISER_BETA * np.sqrt(np.clip(1.0 - (distance / width) ** 2, 0.0, 1.0)))
    kernels = (cutoff * np.sinc(cutoff * distance) * window / np.i0(_KAISER_BETA)).astype(np.float32)
    for first in range(0, n_out, _CHUNK):
        n = np.arange(first, min(n_out, first + _CHUNK), dtype=np.int64)
        base, phase = np.divmod(n * down, up)
        taps = base[:, None] + offsets[None, :] + width + 1
        out[first:first + len(n)] = np.einsum("nk,nkc->nc", kernels[phase], padded[taps])
    return np.clip(out, -1.0, 1.0)


_HALF_TAPS = 16
_KAISER_BETA = 8.0
_CHUNK = 32_768


def to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] → little-endian 16-bit PCM bytes (what pocketsphinx reads)."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
