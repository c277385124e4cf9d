"""5-fold CV (sentiment_train.cv_folds, seed 1) + dev of the shipped TF-IDF + SVM recipe with
teacher-lexicon features. Needs numpy, scipy, sklearn; the texts and folds from prep.py, the
teacher lexicon logits from teach.py (.gpu/svm/teacher_*.npz).

    python3 .gpu/svm_cv.py [--jobs 15] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from lexkeys import bucket, distinct_keys, ngrams  # noqa: E402

HERE = Path(__file__).parent
OUT = Path(os.environ.get("OUT", "/tmp/out"))
G: dict = {}


def tfidf_rows(x_counts, idf):
    x = x_counts.copy()
    x.data = (1 + np.log(x.data)) * idf[x.indices]
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    return x.multiply(1 / norms[:, None]).tocsr()


def lexicon_features(teacher: str, fit_rows: np.ndarray, min_df: int = 2) -> dict[str, np.ndarray]:
    """Per-text features from the teacher lexicon restricted to n-grams in >= min_df fit rows."""
    L = G["lex"][teacher].astype(np.float64)
    n = G["n_texts"]
    lex_idx, rows, order = G["pair_lex"], G["pair_rows"], G["pair_order"]
    in_fit = np.zeros(n, bool)
    in_fit[fit_rows] = True
    df = np.bincount(lex_idx[in_fit[rows]], minlength=len(L))
    valid = df >= min_df
    ok = valid[lex_idx]
    r, o, v = rows[ok], order[ok], L[lex_idx[ok]]
    cell = r * 4 + (o - 1)
    cnt = np.bincount(cell, minlength=n * 4).reshape(n, 4)
    s = np.bincount(cell, weights=v, minlength=n * 4).reshape(n, 4)
    t = np.bincount(cell, weights=np.tanh(v / 4), minlength=n * 4).reshape(n, 4)
    d = np.maximum(cnt, 1)
    exact8 = np.hstack([s / d, t / d])
    # hashed: per-bucket mean logit of the valid lexicon entries, looked up by every n-gram
    b = G["lex_bucket"][valid]
    bc = np.bincount(b, minlength=ngrams.N_FEATURES)
    lb = np.bincount(b, weights=L[valid], minlength=ngrams.N_FEATURES) / np.maximum(bc, 1)
    hb, hr, ho = G["all_bucket"], G["all_rows"], G["all_order"]
    has = bc[hb] > 0
    cell = hr[has] * 4 + (ho[has] - 1)
    hv = lb[hb[has]]
    cnt = np.bincount(cell, minlength=n * 4).reshape(n, 4)
    s = np.bincount(cell, weights=hv, minlength=n * 4).reshape(n, 4)
    t = np.bincount(cell, weights=np.tanh(hv / 4), minlength=n * 4).reshape(n, 4)
    d = np.maximum(cnt, 1)
    hash8 = np.hstack([s / d, t / d])
    return {"exact8": exact8, "hash8": hash8, "lb": lb}


def run_task(task):
    from scipy import sparse
    from sklearn.svm import LinearSVC

    name, fit_rows, eval_rows, teacher, variant, alpha = task
    t0 = time.process_time()
    x = G["x"]
    xf = x[fit_rows]
    df = np.bincount(xf.indices, minlength=ngrams.N_FEATURES)
    idf = (np.log((1 + len(fit_rows)) / (1 + df)) + 1).astype(np.float32)
    xt = tfidf_rows(x, idf)
    blocks = [xt]
    if variant != "base":
        min_df = int(variant.split("/df")[1]) if "/df" in variant else 2
        feats = lexicon_features(teacher, fit_rows, min_df)
        cols = []
        if "exact8" in variant:
            cols.append(feats["exact8"])
        if "hash8" in variant:
            cols.append(feats["hash8"])
        if "dot" in variant:
            cols.append(np.asarray(xt @ feats["lb"]).reshape(-1, 1))
        extra = np.hstack(cols)
        mu, sd = extra[fit_rows].mean(0), extra[fit_rows].std(0) + 1e-9
        blocks.append(sparse.csr_matrix(alpha * (extra - mu) / sd))
    xa = sparse.hstack(blocks).tocsr() if len(blocks) > 1 else xt
    clf = LinearSVC(C=1.0, random_state=0).fit(xa[fit_rows], G["y"][fit_rows])
    m = clf.decision_function(xa[eval_rows])
    ok = (m > 0) == G["y"][eval_rows]
    return {"name": name, "variant": variant, "alpha": alpha, "correct": int(ok.sum()),
            "n": len(eval_rows), "cpu_s": round(time.process_time() - t0, 1),
            "margin": m.astype(np.float32)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=15)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--variants", default="")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    texts = json.loads((HERE / "svm/texts.json").read_text(encoding="utf-8"))
    tx = np.load(HERE / "svm/folds.npz")
    y, split = tx["y"].astype(int), tx["split"]
    n = len(texts)
    if args.quick:
        keep = np.zeros(n, bool)
        keep[:1500] = True
        keep[9600:12000] = True
        keep[split >= 2] = True
    G["y"], G["n_texts"] = y, n
    g = ngrams.hashed_ngrams(texts)
    from scipy import sparse
    G["x"] = sparse.csr_matrix((g.counts, (g.rows, g.buckets)), shape=(n, ngrams.N_FEATURES),
                               dtype=np.float32)
    lx = np.load(HERE / "svm/keys.npz")
    keys = lx["keys"]
    sort = np.argsort(keys)
    skeys = keys[sort]
    pr, pl, po, ar, ab, ao = [], [], [], [], [], []
    for o in (1, 2, 3, 4):
        r, k = distinct_keys(texts, o)
        ar.append(r); ab.append(bucket(k)); ao.append(np.full(len(r), o, np.int8))
        pos = np.minimum(np.searchsorted(skeys, k), len(skeys) - 1)
        hit = skeys[pos] == k
        pr.append(r[hit]); pl.append(sort[pos[hit]]); po.append(np.full(int(hit.sum()), o))
    G["pair_rows"], G["pair_lex"], G["pair_order"] = map(np.concatenate, (pr, pl, po))
    G["all_rows"], G["all_bucket"], G["all_order"] = map(np.concatenate, (ar, ab, ao))
    G["lex_bucket"] = bucket(keys)
    G["lex"] = {name: np.load(HERE / f"svm/teacher_{name}.npz")["lex"]
                for name in ("0", "1", "2", "3", "4", "full")}
    print("prepared", round(time.time() - t0, 1), "s", flush=True)
    fit_all = np.flatnonzero(split <= 1)
    dev_rows = np.flatnonzero(split == 2)
    plan = [("base", 0.0)]
    plan += [("exact8", a) for a in (0.01, 0.02, 0.05, 0.1)]
    plan += [("hash8", a) for a in (0.01, 0.02, 0.05)]
    plan += [("dot", a) for a in (0.02, 0.05, 0.1, 0.2)]
    plan += [("exact8+dot", a) for a in (0.02, 0.05)]
    if os.environ.get("SWEEP") == "df":
        plan = [(f"{v}/df{d}", a) for d in (5, 20, 100)
                for v, a in (("exact8", 0.01), ("exact8", 0.02), ("dot", 0.02), ("dot", 0.05),
                             ("hash8", 0.01))]
    if args.variants:
        plan = [(v.split(":")[0], float(v.split(":")[1])) for v in args.variants.split(",")]
    tasks = []
    for k in range(5):
        fr, held = tx[f"train_rows_{k}"], tx[f"held_{k}"]
        if args.quick:
            fr, held = fr[keep[fr]], held[keep[held]]
        tasks += [(f"fold{k}", fr, held, str(k), v, a) for v, a in plan]
    fr = fit_all[keep[fit_all]] if args.quick else fit_all
    tasks += [("dev", fr, dev_rows, "full", v, a) for v, a in plan]  # test is not read here
    # longest first: everything is about the same size, so just interleave by fold
    results = []
    with get_context("fork").Pool(args.jobs) as pool:
        for res in pool.imap_unordered(run_task, tasks):
            results.append(res)
            with open(OUT / "svm_cv.jsonl", "a") as fh:
                fh.write(json.dumps({k: v for k, v in res.items() if k != "margin"}) + "\n")
            print(res["name"], res["variant"], res["alpha"], res["correct"], res["n"],
                  res["cpu_s"], flush=True)
    table = {}
    margins = {}
    for res in results:
        key = f"{res['variant']}@{res['alpha']}"
        row = table.setdefault(key, {"cv_correct": 0, "cv_n": 0})
        if res["name"] == "dev":
            m = res["margin"]
            nd = len(dev_rows)
            row["dev"] = float(np.mean((m[:nd] > 0) == y[dev_rows]))
            row["dev_correct"] = int(np.sum((m[:nd] > 0) == y[dev_rows]))
            margins[f"{key}|dev"] = m
        else:
            row["cv_correct"] += res["correct"]
            row["cv_n"] += res["n"]
            margins[f"{key}|{res['name']}"] = res["margin"]
    for row in table.values():
        row["cv"] = round(row["cv_correct"] / max(row["cv_n"], 1), 4)
    print(json.dumps(table, indent=1))
    (OUT / "svm_cv.json").write_text(json.dumps(table, indent=1))
    np.savez_compressed(OUT / "svm_margins.npz", **margins)
    print("total", round(time.time() - t0, 1), flush=True)


if __name__ == "__main__":
    main()
