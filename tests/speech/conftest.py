"""Call recordings synthesised at test time with espeak-ng + sox (never committed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

AGENT_EN = "Good morning, thank you for calling. How can I help you today?"
CUSTOMER_EN = "My bill is wrong. I was charged twice."
AGENT_ZH = "您好，很高兴为您服务，请问有什么可以帮您？"
CUSTOMER_ZH = "我的账单不对，多扣了钱。"


def say(text: str, voice: str, out: Path) -> Path:
    """Synthesise ``text`` with espeak-ng, resampled by sox to 16 kHz mono."""
    assert shutil.which("espeak-ng") and shutil.which("sox"), "espeak-ng and sox are required"
    raw = out.with_suffix(".raw.wav")
    for _attempt in range(3):  # espeak-ng very rarely leaves an empty file on a busy machine
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
        try:
            if sf.info(str(raw)).frames > 0:
                break
        except sf.LibsndfileError:
            continue
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", str(out)], check=True)
    raw.unlink()
    return out


def stereo_call(folder: Path, agent: tuple[str, str], customer: tuple[str, str],
                gap_s: float = 0.8, name: str = "call.wav") -> Path:
    """Agent speaks first on the left channel, then the customer on the right channel."""
    a, _ = sf.read(say(agent[0], agent[1], folder / f"{name}.agent.wav"), dtype="float32")
    c, _ = sf.read(say(customer[0], customer[1], folder / f"{name}.cust.wav"), dtype="float32")
    lead = np.zeros(int(0.5 * 16000), np.float32)
    gap = np.zeros(int(gap_s * 16000), np.float32)
    left = np.concatenate([lead, a, gap, np.zeros(len(c), np.float32), lead])
    right = np.concatenate([lead, np.zeros(len(a), np.float32), gap, c, lead])
    data = np.stack([left, right], axis=1)
    path = folder / name
    sf.write(path, data, 16000)
    return path


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="session")
def en_call(audio_dir: Path) -> Path:
    return stereo_call(audio_dir, (AGENT_EN, "en"), (CUSTOMER_EN, "en-us"), name="en_call.wav")


@pytest.fixture(scope="session")
def zh_call(audio_dir: Path) -> Path:
    return stereo_call(audio_dir, (AGENT_ZH, "cmn"), (CUSTOMER_ZH, "cmn"), name="zh_call.wav")


@pytest.fixture(scope="session")
def en_mono(audio_dir: Path) -> Path:
    return say(AGENT_EN, "en", audio_dir / "en_mono.wav")


@pytest.fixture(scope="session")
def speak():
    """``speak(text, voice, out_path)``: synthesise one utterance (16 kHz mono WAV)."""
    return say
