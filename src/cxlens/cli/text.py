"""Text commands: ``text redact|sentiment|intent`` (stdin lines → one JSON object per line) and
``train intent LABELS.csv``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from cxlens.cli.common import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt, console, emit_json

BATCH = 2000
NamesOpt = Annotated[
    list[str] | None,
    typer.Option("--name", "-n", help="A name the CRM knows for the customer (repeatable)."),
]


def _lines() -> Iterator[tuple[str, dict[str, Any]]]:
    """stdin lines; a line that is a JSON object uses its ``text`` (and ``names``) fields."""
    stream = sys.stdin
    if hasattr(stream, "reconfigure"):
        stream.reconfigure(encoding="utf-8", errors="replace")
    for raw in stream:
        line = raw.rstrip("\r\n")
        extra: dict[str, Any] = {}
        if line.startswith("{"):
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                doc = None
            if isinstance(doc, dict) and isinstance(doc.get("text"), str):
                extra = doc
                line = doc["text"]
        yield line, extra


def _batches(size: int = BATCH) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    batch: list[tuple[str, dict[str, Any]]] = []
    for item in _lines():
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _write(obj: dict[str, Any], json_: bool, plain: str) -> None:
    sys.stdout.write((json.dumps(obj, ensure_ascii=False) if json_ else plain) + "\n")


def redact_cmd(names: NamesOpt = None, json_: JsonOpt = False) -> None:
    """Redact PII from each stdin line ([PHONE] [ID] [CARD] [EMAIL] [NAME])."""
    from cxlens.text.redact import redact

    for batch in _batches():
        for text, extra in batch:
            known = list(names or []) + [str(n) for n in extra.get("names") or []]
            result = redact(text, known)
            _write({"text": result.text, "pii_found": result.found,
                    "types": [s.kind for s in result.spans]}, json_, result.text)
    sys.stdout.flush()


def sentiment_cmd(json_: JsonOpt = False) -> None:
    """Sentiment of each stdin line: label (negative/neutral/positive) and score in [-1, 1]."""
    from cxlens.text.language import detect, strip_html
    from cxlens.text.sentiment import BuiltinBackend, label_of

    engine = BuiltinBackend()
    for batch in _batches():
        texts = [strip_html(t) for t, _ in batch]
        languages = [detect(t) for t in texts]
        for text, lang, score in zip(texts, languages, engine.scores(texts, languages), strict=True):
            value = round(float(score), 4)
            _write({"label": label_of(value), "score": value, "language": lang,
                    "text": text}, json_, f"{label_of(value)}\t{value}\t{text}")
    sys.stdout.flush()


def intent_cmd(
    workspace: Annotated[
        Path | None, typer.Option("--workspace", "-w", help="Use this workspace's trained model.")
    ] = None,
    taxonomy: Annotated[Path | None, typer.Option(help="Taxonomy YAML (default: built-in).")] = None,
    min_confidence: Annotated[
        float | None, typer.Option(help="Below this confidence the intent is `other`.")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Contact reason of each stdin line, with a confidence (low confidence → `other`)."""
    from cxlens.config import TextSettings
    from cxlens.text.intent import IntentClassifier

    threshold = TextSettings().intent_min_confidence
    models_dir = None
    if workspace is not None:
        from cxlens.workspace import open_workspace

        ws = open_workspace(workspace, read_only=True)
        threshold = ws.settings.text.intent_min_confidence
        models_dir = ws.models_dir
    if min_confidence is not None:
        threshold = min_confidence
    classifier = IntentClassifier.for_workspace(models_dir, threshold,
                                                str(taxonomy) if taxonomy else None)
    for batch in _batches():
        texts = [t for t, _ in batch]
        for text, pred in zip(texts, classifier.predict(texts), strict=True):
            label = classifier.taxonomy.label(pred.intent, "zh" if _has_han(text) else "en")
            _write({"intent": pred.intent, "sub_intent": pred.sub_intent, "label": label,
                    "confidence": pred.confidence, "method": pred.method, "text": text},
                   json_, f"{pred.intent}\t{pred.confidence}\t{text}")
    sys.stdout.flush()


def _has_han(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def train_intent_cmd(
    labels: Annotated[Path, typer.Argument(help="CSV with columns text,label.")],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    c: Annotated[float, typer.Option("--c", help="SVM regularisation (larger = less).")] = 0.5,
    holdout: Annotated[
        float, typer.Option(help="Share of rows held out to report accuracy (0 = none).")
    ] = 0.2,
    json_: JsonOpt = False,
) -> None:
    """Train the intent classifier from labelled examples; the text stage uses it from then on."""
    from cxlens import audit
    from cxlens.cli.common import opened
    from cxlens.text.intent import MODEL_FILE, IntentModel, Taxonomy, read_labels

    texts, targets = read_labels(labels)
    # a wrong --workspace must fail now, not after minutes of fitting
    with opened(workspace, read_only=True):
        pass
    summary: dict[str, Any] = {"rows": len(texts), "labels": len(set(targets))}
    if 0 < holdout < 1 and len(texts) >= 20:
        import random

        order = list(range(len(texts)))
        random.Random(0).shuffle(order)
        cut = int(len(order) * (1 - holdout))
        train_idx, test_idx = order[:cut], order[cut:]
        trial = IntentModel.train([texts[i] for i in train_idx], [targets[i] for i in train_idx], c)
        preds = trial.predict([texts[i] for i in test_idx])
        hits = sum(p.intent == targets[i] for p, i in zip(preds, test_idx, strict=True))
        summary["holdout_accuracy"] = round(hits / len(test_idx), 4)
        summary["holdout_rows"] = len(test_idx)
    model = IntentModel.train(texts, targets, c)
    taxonomy = Taxonomy.load()
    unknown = sorted(set(targets) - set(taxonomy.reasons))
    if unknown:
        summary["labels_not_in_taxonomy"] = unknown[:20]
    with opened(workspace) as ws:
        path = model.save(ws.models_dir / MODEL_FILE)
        audit.record(ws, "cli", "train_intent", str(path), json.dumps(summary))
    summary["model"] = str(path)
    if json_:
        emit_json(summary)
    else:
        console.print(summary)


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the text and train commands."""
    groups["text"].command("redact")(redact_cmd)
    groups["text"].command("sentiment")(sentiment_cmd)
    groups["text"].command("intent")(intent_cmd)
    groups["train"].command("intent")(train_intent_cmd)
