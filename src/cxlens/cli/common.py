"""What every command shares: the workspace option, JSON output, the console."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)

WorkspaceOpt = Annotated[
    Path,
    typer.Option(
        "--workspace", "-w", envvar="CXLENS_WORKSPACE", help="Workspace folder.",
        show_default=True,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
DEFAULT_WORKSPACE = Path("cxlens-workspace")


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(obj: Any) -> str:
    return json.dumps(obj, default=_default, ensure_ascii=False, indent=2)


def emit_json(obj: Any) -> None:
    """Write JSON to stdout (not through Rich, so nothing wraps or colours it)."""
    sys.stdout.write(to_json(obj) + "\n")
    sys.stdout.flush()


@contextmanager
def opened(path: Path, read_only: bool = False) -> Iterator[Any]:
    """Open the workspace for one command and close it afterwards."""
    from cxlens.workspace import open_workspace

    ws = open_workspace(path, read_only=read_only)
    try:
        yield ws
    finally:
        ws.close()
