"""Aggregate page views kept on disk, so a restarted server's first visitor does not wait.

The dashboards' default views take seconds to compute on a large workspace (the workforce page
fits its forecast models); `cxlens serve` computes them at start-up. Kept only in memory, every
restart — and every reopening after the data changed — paid that again before the first visit.
The store keeps each computed view as a JSON file under ``W/.cache/views/<state>/``, where
``<state>`` hashes what the view was computed from: the row count of every data table (a stage
run adds a ``stage_runs`` row, an ingest or an erasure changes counts), the settings and the
cxlens version. A different state is a different folder; the old folders are removed when the
first view of a new state is written, so a stale view is never served.

Only aggregates are kept (KPI tiles, charts, per-queue/agent tables, data quality): never a list
of contacts or a customer profile, so nothing personal outlives ``cxlens forget``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

FOLDER = Path(".cache") / "views"


class ViewStore:
    """JSON files of computed views for one workspace, grouped by the data's state."""

    def __init__(self, workspace: Path) -> None:
        self.root = workspace / FOLDER
        self._state: str | None = None
        self._pruned = False

    def use_state(self, state: str) -> None:
        """Serve and store views of ``state`` (a hash of the data, settings and version)."""
        if state != self._state:
            self._state = state
            self._pruned = False

    def _path(self, key: str) -> Path | None:
        if self._state is None:
            return None
        name = hashlib.sha256(key.encode()).hexdigest()[:40]
        return self.root / self._state / f"{name}.json"

    def get(self, key: str) -> tuple[bool, Any]:
        """``(True, view)`` when a view of ``key`` is stored for the current state."""
        path = self._path(key)
        if path is None or not path.exists():
            return False, None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # a torn or foreign file: recompute rather than fail
            return False, None
        if not isinstance(doc, dict) or doc.get("key") != key:
            return False, None
        return True, doc.get("value")

    def put(self, key: str, value: Any) -> Any:
        """Store ``value`` atomically (dropping the folders of other states) and return it as
        read back, so a view looks the same whether it was just computed or read from disk."""
        path = self._path(key)
        if path is None:
            return value
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            text = json.dumps({"key": key, "value": value})
            if not self._pruned:
                self._prune()
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except (OSError, TypeError, ValueError):
            # A read-only workspace or a value JSON cannot hold: serve from memory only.
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            return value
        return json.loads(text)["value"]

    def _prune(self) -> None:
        self._pruned = True
        if not self.root.exists():
            return
        for child in self.root.iterdir():
            if child.name != self._state:
                shutil.rmtree(child, ignore_errors=True)


def state_of(counts: dict[str, int], settings_json: str, version: str) -> str:
    """The hash that names a state's folder."""
    doc = json.dumps(
        {"counts": counts, "settings": settings_json, "version": version}, sort_keys=True
    )
    return hashlib.sha256(doc.encode()).hexdigest()[:24]
