"""The cross-validation used to choose the Chinese sentiment recipe: folds, leak filter, figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cxlens.text.sentiment_train import cross_validate, cv_folds

REVIEW = "酒店的位置很好离地铁站只有五分钟步行距离房间也干净"  # 26 characters


def test_cv_folds_partition_the_train_rows_and_drop_leaking_extra_lines() -> None:
    csc = [f"第{i}条评论内容各不相同编号{i}" for i in range(20)]
    csc[3] = REVIEW
    extra = ["这家酒店的位置很好离地铁站只有五分钟", "完全无关的另一条评论文字内容很长很长"]
    folds = cv_folds(csc, extra, k=4)
    held_all = np.concatenate([held for _, held in folds])
    assert sorted(held_all.tolist()) == list(range(20))
    for train_rows, held in folds:
        assert not set(train_rows.tolist()) & set(held.tolist())
        assert 21 in train_rows  # the unrelated extra line is always training text
        # The fragment shares a 12-character run with row 3: out whenever row 3 is held out.
        assert (20 in train_rows) == (3 not in held)


def _write_split(path: Path, rows: list[tuple[int, str]]) -> None:
    path.write_text("label\ttext_a\n" + "".join(f"{y}\t{t}\n" for y, t in rows), encoding="utf-8")


def test_cross_validate_reports_held_out_accuracy(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    good = ["服务很好", "非常满意", "干净舒适", "推荐入住", "性价比高"]
    bad = ["服务太差", "非常失望", "又脏又吵", "不会再来", "价格太贵"]
    rows = []
    for i in range(120):
        words = good if i % 2 else bad
        rows.append((i % 2, "，".join(rng.choice(words, 3)) + f"，房间{i}号"))
    folder = tmp_path / "chnsenticorp"
    folder.mkdir()
    _write_split(folder / "train.tsv", rows)
    _write_split(folder / "dev.tsv", rows[:4])
    _write_split(folder / "test.tsv", rows[4:8])
    report = cross_validate(tmp_path, c=1.0, k=3, use_snownlp=False, verbose=False)
    assert report["held_out_texts"] == 120
    assert len(report["per_fold"]) == 3
    assert report["accuracy"] >= 0.95
