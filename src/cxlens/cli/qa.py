"""Speech and quality-inspection commands: ``cxlens transcribe`` and ``cxlens qa``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cxlens.cli.common import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt, console, emit_json, opened
from cxlens.errors import InputError

LANGUAGES = ("en", "zh")


def transcribe_cmd(
    file: Annotated[Path, typer.Argument(help="Recording: WAV, FLAC, MP3 or OGG.")],
    language: Annotated[str | None, typer.Option(help="Language: en or zh (default: engine's).")] = None,
    engine: Annotated[str | None, typer.Option(help="pocketsphinx or faster-whisper.")] = None,
    model_dir: Annotated[str | None, typer.Option(help="Local faster-whisper model folder.")] = None,
    general: Annotated[bool, typer.Option(
        "--general", help="pocketsphinx: the shipped 130k-word model instead of the domain one.")] = False,
    workspace: Annotated[Path | None, typer.Option(
        "--workspace", "-w", help="Use this workspace's [speech] settings.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Transcribe one call recording: speaker turns with times, plus talk/silence metrics.

    Stereo files are read as agent (left) and customer (right); mono files give turns without
    a speaker. Offline English with pocketsphinx; Chinese needs faster-whisper and a local model.
    """
    from cxlens.config import load_settings
    from cxlens.speech.transcript import transcribe

    if language is not None and language not in LANGUAGES:
        raise InputError(f"unknown language {language!r}", "use --language en or --language zh")
    if workspace is not None:
        with opened(workspace, read_only=True) as ws:
            settings = ws.settings.model_copy(deep=True)
    else:
        settings = load_settings(None)
    if engine is not None:
        if engine not in ("pocketsphinx", "faster-whisper"):
            raise InputError(f"unknown engine {engine!r}", "use pocketsphinx or faster-whisper")
        settings.speech.engine = engine  # type: ignore[assignment]
    if model_dir is not None:
        settings.speech.model_dir = model_dir
    if general:
        settings.speech.language_model = "general"
    transcript = transcribe(file, language=language, settings=settings)
    if json_:
        emit_json(transcript.to_dict())
        return
    _print_transcript(transcript.to_dict())


def _print_transcript(doc: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table("start", "end", "speaker", "text", title=f"{doc['path']} ({doc['engine']})")
    for seg in doc["segments"]:
        table.add_row(f"{seg['start_s']:.1f}", f"{seg['end_s']:.1f}", seg["speaker"] or "-",
                      seg["text"])
    console.print(table)
    signal = doc["signal"] or {}
    parts = [f"duration {doc['duration_s']:.1f} s", f"RTF {doc['rtf']:.2f}",
             f"talk {signal.get('talk_s', 0):.1f} s",
             f"silence {100 * signal.get('silence_share', 0):.0f}%",
             f"longest silence {signal.get('longest_silence_s', 0):.1f} s"]
    if signal.get("talk_ratio") is not None:
        parts.append(f"agent talk ratio {100 * signal['talk_ratio']:.0f}%")
        parts.append(f"overtalk {signal['overtalk_s']:.1f} s")
    console.print(" · ".join(parts))
    if not doc["segments"]:
        console.print("no speech recognised")


def qa_cmd(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    by: Annotated[str, typer.Option(help="Scorecards per agent, team or queue.")] = "agent",
    interaction: Annotated[str | None, typer.Option(
        help="Show one interaction's rules and evidence instead of scorecards.")] = None,
    refresh: Annotated[bool, typer.Option(
        "--refresh", help="Re-inspect every interaction before reporting.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Quality inspection: agent (team, queue) scorecards, or one interaction's evidence.

    Inspects the workspace first when it has never been inspected (or with --refresh).
    """
    from cxlens.qa.cards import GROUPINGS, interaction_detail, scorecards
    from cxlens.qa.stage import run

    if by not in GROUPINGS:
        raise InputError(f"cannot group QA scorecards by {by!r}", f"use --by {' | '.join(GROUPINGS)}")
    summary = None
    if refresh or not _inspected(workspace):
        with opened(workspace) as ws:
            summary = run(ws)
    # Reporting only reads: a running `cxlens serve` holding the warehouse does not block it.
    with opened(workspace, read_only=True) as ws:
        if interaction is not None:
            detail = interaction_detail(ws, interaction)
            if json_:
                emit_json(detail)
            else:
                _print_detail(detail)
            return
        cards = scorecards(ws, by)
    if json_:
        emit_json(cards)
        return
    if summary is not None:
        console.print(f"inspected {summary['inspected']:,} interactions, scored "
                      f"{summary['scored']:,}, pass rate {100 * (summary['pass_rate'] or 0):.1f}%")
    _print_cards(cards, by)


def _inspected(workspace: Path) -> bool:
    with opened(workspace, read_only=True) as ws:
        wh = ws.warehouse
        return "qa_results" in wh.tables() and int(wh.table("qa_results").count().execute()) > 0


def _print_cards(cards: list[dict[str, Any]], by: str) -> None:
    from rich.table import Table

    table = Table(by, "inspected", "mean score", "pass rate", "top failed rules",
                  title=f"QA scorecards by {by}")
    for card in cards:
        label = str(card[by]) + (f" {card['name']}" if card.get("name") else "")
        failed = ", ".join(f"{r['rule']} {100 * r['rate']:.0f}%" for r in card["top_failed_rules"])
        table.add_row(label, f"{card['inspected']:,}", f"{card['mean_score']:.1f}",
                      f"{100 * card['pass_rate']:.1f}%", failed or "-")
    console.print(table)
    if not cards:
        console.print("no scored interactions (no agent-handled contact with text yet)")


def _print_detail(detail: dict[str, Any]) -> None:
    from rich.table import Table

    score = detail["qa_score"]
    title = (f"{detail['interaction_id']} · agent {detail['agent_id'] or '-'} · score "
             f"{'-' if score is None else f'{score:.1f}'} · "
             f"{ {True: 'passed', False: 'failed', None: 'not scored'}[detail['qa_passed']] }")
    table = Table("rule", "result", "points", "evidence", title=title)
    for rule in detail["rules"]:
        result = "n/a" if not rule["applicable"] else "pass" if rule["passed"] else "FAIL"
        points = "-" if rule["points"] is None else f"{rule['points']:.0f}/{rule['weight']:.0f}"
        evidence = rule["evidence"] or {}
        text = evidence.get("text") or evidence.get("reason") or ""
        if "seq" in evidence:
            text = f"turn {evidence['seq']}: “{text}”"
        if "trigger_text" in evidence:
            text += f" (customer turn {evidence['trigger_seq']}: “{evidence['trigger_text']}”)"
        if "seconds" in evidence:
            text = f"{evidence['seconds']} s silence (limit {evidence['limit_s']} s)"
        table.add_row(rule["rule"], result, points, str(text))
    console.print(table)


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``transcribe`` and ``qa`` to the CLI."""
    app.command("transcribe")(transcribe_cmd)
    app.command("qa")(qa_cmd)
