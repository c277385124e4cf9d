"""Speech and QA: pocketsphinx domain model vs its shipped general model, and QA throughput.

    .venv/bin/python -m benchmarks.bench_speech [--size 2000] [--clips 16] [--keep]

ASR: English call sentences are synthesised with espeak-ng (two voices) and transcribed twice
in the same run — cxlens' default ``domain`` model and pocketsphinx's shipped 130k-word
``general`` model (the peer). Reported: word accuracy (1 − WER against the script) for sentences
that are in the domain corpus and for sentences that are not, and the real-time factor on CPU,
both per clip and on one stereo call built from all clips (VAD segmentation included).

QA: a synth workspace of ``--size`` customers; times the whole ``qa`` stage (read messages,
inspect, write ``qa_results`` + ``interaction_insights``) and the inspector alone, and the
phrase matcher against the naive peer (one regex per phrase). Writes
``benchmarks/results/speech.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent

IN_DOMAIN = [  # sentences of src/cxlens/speech/domain_en.txt
    "good morning thank you for calling how can i help you today",
    "can you verify your identity please",
    "for security can you confirm your date of birth",
    "i was charged twice",
    "my order has not arrived",
    "i understand how frustrating this must be",
    "is there anything else i can help you with",
    "thank you for calling have a nice day",
]
OUT_OF_CORPUS = [  # ordinary call sentences the domain corpus does not contain
    "i moved house last month and need to change my plan",
    "the engineer did not turn up yesterday afternoon",
    "could you tell me when my contract ends",
    "the screen on my tablet is cracked",
    "i would like to speak to your manager",
    "we can offer you a discount on the yearly package",
    "please send me a copy of the invoice",
    "my neighbour has the same problem with the signal",
]
VOICES = ("en", "en-us")


def _say(text: str, voice: str, out: Path) -> np.ndarray:
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", str(out)], check=True)
    return sf.read(out, dtype="float32")[0]


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance on words (substitutions + insertions + deletions)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def bench_asr(folder: Path, clips: int) -> dict[str, Any]:
    from cxlens.config import load_settings
    from cxlens.speech import transcribe
    from cxlens.speech.domain import tokenise

    sentences = [pair for a, b in zip(IN_DOMAIN, OUT_OF_CORPUS, strict=True)
                 for pair in (("in_domain", a), ("out_of_corpus", b))]
    sentences = (sentences * (clips // len(sentences) + 1))[:max(clips, 2)]
    files, audio = [], []
    for k, (group, text) in enumerate(sentences):
        voice = VOICES[k % len(VOICES)]
        path = folder / f"clip{k}.wav"
        audio.append(_say(text, voice, path))
        files.append((group, text, path))
    # one long stereo call: clips alternate between the agent (left) and customer (right) side
    gap = np.zeros(16000, np.float32)
    left, right = [gap], [gap]
    for k, samples in enumerate(audio):
        silent = np.zeros_like(samples)
        left += [samples if k % 2 == 0 else silent, gap]
        right += [silent if k % 2 == 0 else samples, gap]
    call = folder / "call.wav"
    sf.write(call, np.stack([np.concatenate(left), np.concatenate(right)], axis=1), 16000)

    result: dict[str, Any] = {"clips": len(files),
                              "audio_s": round(sum(len(a) for a in audio) / 16000, 1)}
    for model in ("domain", "general"):
        settings = load_settings(None, environ={})
        settings.speech.language_model = model  # type: ignore[assignment]
        transcribe(files[0][2], settings=settings)  # load the model outside the timing
        errors: dict[str, list[int]] = {"in_domain": [0, 0], "out_of_corpus": [0, 0]}
        processing = duration = 0.0
        for group, text, path in files:
            t = transcribe(path, language="en", settings=settings)
            processing += t.processing_s
            duration += t.duration_s
            ref = tokenise(text)
            errors[group][0] += word_errors(ref, tokenise(t.text))
            errors[group][1] += len(ref)
        long_call = transcribe(call, language="en", settings=settings)
        result[model] = {
            "word_accuracy_in_domain": round(1 - errors["in_domain"][0] / errors["in_domain"][1], 3),
            "word_accuracy_out_of_corpus": round(
                1 - errors["out_of_corpus"][0] / errors["out_of_corpus"][1], 3),
            "rtf_clips": round(processing / duration, 3),
            "rtf_stereo_call": long_call.rtf,
            "stereo_call_s": round(long_call.duration_s, 1),
            "stereo_call_segments": len(long_call.segments),
        }
    d, g = result["domain"], result["general"]
    result["ratio_in_domain_accuracy"] = round(
        d["word_accuracy_in_domain"] / max(g["word_accuracy_in_domain"], 1e-9), 2)
    result["ratio_speed_clips"] = round(g["rtf_clips"] / d["rtf_clips"], 2)
    return result


def bench_qa(folder: Path, customers: int) -> dict[str, Any]:
    import cxlens
    from cxlens import synth
    from cxlens.config import load_settings
    from cxlens.qa.engine import CallContext, Inspector, Turn
    from cxlens.qa.rules import load_rules, normalise
    from cxlens.qa.stage import _conversations, run

    ws_path = folder / f"qa-{customers}"
    if ws_path.exists():
        shutil.rmtree(ws_path)
    ws = cxlens.init(ws_path, load_settings(None, environ={}))
    t0 = time.perf_counter()
    synth.generate(ws, synth.SynthConfig.checked(customers=customers, days=30, seed=11))
    synth_s = time.perf_counter() - t0
    run(ws)  # warm-up (imports, first compile)
    t0 = time.perf_counter()
    summary = run(ws)
    stage_s = time.perf_counter() - t0
    conversations = list(_conversations(ws))
    inspector = Inspector(load_rules())
    t0 = time.perf_counter()
    for _, _, context, turns in conversations:
        inspector.inspect(turns, context)
    engine_s = time.perf_counter() - t0

    # matcher vs the naive peer: one compiled regex per phrase, earliest hit wins
    book = load_rules()
    texts = [normalise(t.text) for _, _, _, turns in conversations for t in turns][:20_000]
    from cxlens.qa.rules import matcher

    naive = {r.id: [re.compile(r"(?<![a-z0-9'])" + re.escape(normalise(p)) + r"(?![a-z0-9])"
                               if p.isascii() else re.escape(p)) for p in r.phrases.all()]
             for r in book.rules if r.phrases.all()}
    t0 = time.perf_counter()
    ours = [[bool(matcher(tuple(r.phrases.all())).search(x)) for r in book.rules  # type: ignore[union-attr]
             if r.phrases.all()] for x in texts]
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    peer = [[any(p.search(x) for p in naive[r.id]) for r in book.rules if r.phrases.all()]
            for x in texts]
    peer_s = time.perf_counter() - t0
    assert ours == peer, "matcher and naive matcher disagree"
    _ = (CallContext, Turn)
    ws.close()
    return {
        "customers": customers, "synth_s": round(synth_s, 1),
        "interactions_inspected": summary["inspected"], "scored": summary["scored"],
        "messages": sum(len(c[3]) for c in conversations),
        "stage_s": round(stage_s, 2),
        "stage_interactions_per_s": round(summary["inspected"] / stage_s, 1),
        "engine_interactions_per_s": round(len(conversations) / engine_s, 1),
        "matcher_texts": len(texts),
        "matcher_texts_per_s": round(len(texts) / ours_s, 1),
        "naive_matcher_texts_per_s": round(len(texts) / peer_s, 1),
        "ratio_matcher_vs_naive": round(peer_s / ours_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000, help="synth customers for QA")
    parser.add_argument("--clips", type=int, default=16, help="ASR clips")
    parser.add_argument("--data", default="", help="unused: everything is synthesised")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    work = ROOT / "work"
    work.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="speech-", dir=work))
    try:
        result = {"asr": bench_asr(folder, args.clips), "qa": bench_qa(folder, args.size)}
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    result["machine_note"] = "2 shared cores; absolute times are noisy, ratios count"
    out = ROOT / "results" / "speech.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
