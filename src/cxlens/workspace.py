"""The workspace: one folder holding settings, the warehouse and what stages write beside it.

Layout::

    W/cxlens.toml        settings (the marker that this folder is a cxlens workspace)
    W/warehouse.duckdb   the embedded warehouse (DuckDB backend)
    W/spark/             table batches (PySpark backend)
    W/truth/             synth ground truth — never read by the pipeline, only by `eval`
    W/models/            trained models
    W/exports/, W/reports/
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cxlens.config import SETTINGS_FILE, Settings, dump_settings, load_settings
from cxlens.errors import WorkspaceError
from cxlens.warehouse import Warehouse

WAREHOUSE_FILE = "warehouse.duckdb"


@dataclass
class Workspace:
    """Settings + warehouse of one workspace folder. Use :func:`open_workspace` or :func:`init`."""

    path: Path
    settings: Settings
    read_only: bool = False
    _warehouse: Warehouse | None = field(default=None, repr=False)

    @property
    def backend_url(self) -> str:
        url = self.settings.warehouse.backend
        return url or f"duckdb:///{(self.path / WAREHOUSE_FILE).resolve()}"

    @property
    def warehouse(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = Warehouse(self.backend_url, self.path, read_only=self.read_only)
            if not self.read_only:
                self._warehouse.migrate()
        return self._warehouse

    @cached_property
    def truth_dir(self) -> Path:
        return self.path / "truth"

    @cached_property
    def models_dir(self) -> Path:
        return self.path / "models"

    def close(self) -> None:
        if self._warehouse is not None:
            self._warehouse.close()
            self._warehouse = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_path() -> Path:
    return Path(os.environ.get("CXLENS_WORKSPACE", "cxlens-workspace"))


def init(path: Path | str, settings: Settings | None = None, exist_ok: bool = True) -> Workspace:
    """Create (or reuse) a workspace folder with a settings file and an empty warehouse."""
    path = Path(path)
    marker = path / SETTINGS_FILE
    if path.exists() and not path.is_dir():
        raise WorkspaceError(f"{path} exists and is not a folder")
    if marker.exists():
        if not exist_ok:
            raise WorkspaceError(f"{path} is already a cxlens workspace")
        ws = open_workspace(path)
        ws.warehouse  # noqa: B018 - migrate
        return ws
    if path.exists() and any(path.iterdir()):
        raise WorkspaceError(
            f"{path} is not empty and is not a cxlens workspace (no {SETTINGS_FILE})",
            "choose a new folder for the workspace",
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        chosen = settings or load_settings(None)
        (path / SETTINGS_FILE).write_text(dump_settings(chosen), encoding="utf-8")
    except OSError as exc:
        raise WorkspaceError(f"cannot create workspace {path}: {exc.strerror}") from exc
    ws = Workspace(path=path, settings=chosen)
    try:
        ws.warehouse  # noqa: B018 - create tables
    except Exception:
        (path / SETTINGS_FILE).unlink(missing_ok=True)
        raise
    return ws


def open_workspace(path: Path | str, read_only: bool = False) -> Workspace:
    """Open an existing workspace; a clear error when the folder is not one."""
    path = Path(path)
    marker = path / SETTINGS_FILE
    if not path.exists():
        raise WorkspaceError(
            f"workspace {path} does not exist", f"create it with `cxlens init --workspace {path}`"
        )
    if not path.is_dir():
        raise WorkspaceError(f"workspace {path} is not a folder")
    if not marker.exists():
        raise WorkspaceError(
            f"{path} is not a cxlens workspace (no {SETTINGS_FILE})",
            f"create one with `cxlens init --workspace {path}`",
        )
    if not os.access(marker, os.R_OK):
        raise WorkspaceError(f"cannot read {marker}: permission denied")
    return Workspace(path=path, settings=load_settings(marker), read_only=read_only)
