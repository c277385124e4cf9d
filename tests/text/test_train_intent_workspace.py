"""`cxlens train intent` checks the workspace before it spends minutes fitting."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cxlens.cli.main import app


def test_train_intent_unknown_workspace_fails_before_fitting(tmp_path: Path, monkeypatch) -> None:
    from cxlens.text import intent

    def must_not_fit(*_args, **_kwargs):
        raise AssertionError("fitted before the workspace was checked")

    monkeypatch.setattr(intent.IntentModel, "train", must_not_fit)
    labels = tmp_path / "labels.csv"
    labels.write_text("text,label\nwhere is my parcel,delivery\nrefund please,refund\n",
                      encoding="utf-8")
    result = CliRunner().invoke(app, ["train", "intent", str(labels),
                                      "--workspace", str(tmp_path / "nowhere")])
    assert result.exit_code != 0
    assert "fitted before" not in str(result.exception)
    assert not (tmp_path / "nowhere").exists()
