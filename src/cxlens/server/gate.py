"""Shared access to the workspace for the server: open on demand, release when idle, cache.

DuckDB lets one process open a database file for writing, and while it does no other process can
open it at all. The server therefore opens the warehouse when a request needs it and closes it
again after ``server.idle_release_s`` seconds without requests, so ``cxlens`` commands can run
between a user's clicks. A request that arrives while a CLI command holds the file gets a 503
with ``Retry-After`` instead of hanging. Requests use the workspace one at a time (a lock):
DuckDB parallelises each query itself, and an Ibis connection is not meant to be shared by threads.

Expensive aggregates are cached per request parameters; the cache is dropped whenever the
warehouse changed between two openings (table counts and the last stage run differ), and entries
expire after ``server.cache_seconds``. Aggregate views asked with ``persist=True`` are also kept
on disk per data state (:mod:`cxlens.server.viewstore`), so a restarted server serves them at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, TypeVar

from cxlens import __version__
from cxlens.errors import CxlensError, WorkspaceError
from cxlens.server.viewstore import ViewStore, state_of
from cxlens.warehouse import Warehouse
from cxlens.workspace import Workspace, open_workspace

T = TypeVar("T")

# Backends whose storage is a file one process locks exclusively (so the server lets go of it).
EXCLUSIVE_FILE_BACKENDS: Final = frozenset({"duckdb"})
# Tables the server itself writes (a profile read, a log-in) that no aggregate view reads: their
# counts stay out of the data fingerprint, or every audited read would drop every cached page.
NOT_VIEW_INPUTS: Final = frozenset({"audit_log", "users"})
_MIGRATED: set[Path] = set()  # workspaces this process has already brought up to date


class WarehouseBusy(CxlensError):
    """Another process holds the warehouse; the request should be retried shortly."""

    exit_code = 75


class Gate:
    """The server's handle on one workspace folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        probe = open_workspace(path)  # validates the folder and settings up front
        self.settings = probe.settings
        if path.resolve() not in _MIGRATED:
            try:
                probe.warehouse  # noqa: B018 - migrate once with write access, then let go
            finally:
                probe.close()
            _MIGRATED.add(path.resolve())
        self._lock = threading.RLock()
        self._ws: Workspace | None = None
        self._last_used = 0.0
        self._in_use = 0
        self._fingerprint: str | None = None
        self._store = ViewStore(path)
        self._persist = False  # only where the fingerprint is re-read at every opening
        self._cache: dict[str, tuple[float, Any]] = {}
        self._memo: dict[Any, Any] = {}  # metric query results shared across views/languages
        self._memo_since = time.monotonic()
        self._users: dict[str, dict[str, Any]] | None = None
        self._reaper: threading.Thread | None = None
        self._closed = False
        self.opened_count = 0

    # -- opening and releasing ---------------------------------------------------------------
    @contextlib.contextmanager
    def workspace(self) -> Iterator[Workspace]:
        """The open workspace for the duration of a ``with`` block (one request at a time)."""
        with self._lock:
            if self._ws is None:
                self._open()
            assert self._ws is not None
            self._in_use += 1
            try:
                yield self._ws
            finally:
                self._in_use -= 1
                self._last_used = time.monotonic()

    def _open(self) -> None:
        try:
            ws = open_workspace(self.path)
            if self.path.resolve() in _MIGRATED:
                # Migrated when the gate was made: checking ~45 tables' columns again at every
                # reopening cost most of a reopening (≈ 0.8 of 1 s on the demo, loaded machine).
                ws = Workspace(
                    path=ws.path,
                    settings=ws.settings,
                    _warehouse=Warehouse(ws.backend_url, ws.path),
                )
            ws.warehouse  # noqa: B018 - connect now so a lock error surfaces here
        except WorkspaceError as exc:
            if "locked" in exc.message:
                raise WarehouseBusy(
                    "the warehouse is busy: a cxlens command is writing to it",
                    "retry in a few seconds",
                ) from exc
            raise
        self._ws = ws
        self.opened_count += 1
        counts = {t: n for t, n in table_counts(ws).items() if t not in NOT_VIEW_INPUTS}
        fingerprint = hashlib.sha256(json.dumps(counts, sort_keys=True).encode()).hexdigest()
        if fingerprint != self._fingerprint:
            self._cache.clear()
            self._memo.clear()
            self._fingerprint = fingerprint
        self._persist = ws.warehouse.backend in EXCLUSIVE_FILE_BACKENDS
        if self._persist:
            self._store.use_state(state_of(counts, ws.settings.model_dump_json(), __version__))
        self._users = None  # users may have been added or changed while we were closed
        self._last_used = time.monotonic()
        if ws.warehouse.backend in EXCLUSIVE_FILE_BACKENDS and self._reaper is None:
            self._reaper = threading.Thread(target=self._reap, name="cxlens-gate", daemon=True)
            self._reaper.start()

    def _reap(self) -> None:
        idle = self.settings.server.idle_release_s
        while not self._closed:
            time.sleep(min(0.5, max(idle / 4, 0.05)))
            with self._lock:
                if (
                    self._ws is not None
                    and not self._in_use
                    and time.monotonic() - self._last_used >= idle
                ):
                    self._ws.close()
                    self._ws = None

    def release(self) -> None:
        """Close the warehouse now (it reopens on the next request)."""
        with self._lock:
            if self._ws is not None:
                self._ws.close()
                self._ws = None

    def close(self) -> None:
        self._closed = True
        self.release()

    @property
    def is_open(self) -> bool:
        return self._ws is not None

    # -- caches ----------------------------------------------------------------------------------
    def cached(
        self,
        name: str,
        params: dict[str, Any],
        compute: Callable[[Workspace], T],
        persist: bool = False,
    ) -> T:
        """``compute(ws)``, remembered per ``name`` and ``params`` until the data changes.

        ``persist``: also keep it on disk for this data state (JSON-native aggregates only:
        nothing personal, see :mod:`cxlens.server.viewstore`).
        """
        key = name + ":" + json.dumps(params, sort_keys=True, default=str)
        with self.workspace() as ws:
            hit = self._cache.get(key)
            ttl = self.settings.server.cache_seconds
            if time.monotonic() - self._memo_since > ttl:
                self._memo.clear()  # backends we never reopen (Spark) still see new data
                self._memo_since = time.monotonic()
            if hit is not None and time.monotonic() - hit[0] < ttl:
                return hit[1]  # type: ignore[no-any-return]
            stored = persist and self._persist and ttl > 0
            found, value = self._store.get(key) if stored else (False, None)
            if not found:
                from cxlens.metrics.rollup import unchanged_warehouse
                from cxlens.server.data import MEMO, PARTS

                token = MEMO.set(self._memo)
                parts = PARTS.set(self._part)
                try:
                    # Nothing else writes to the warehouse while we hold it (audit rows and
                    # log-ins touch no KPI input): metric calls share their freshness checks.
                    with unchanged_warehouse():
                        value = compute(ws)
                finally:
                    PARTS.reset(parts)
                    MEMO.reset(token)
                if stored:
                    value = self._store.put(key, value)
            if ttl > 0:
                self._cache[key] = (time.monotonic(), value)
            return value

    def _part(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """A filter-independent part of a view, cached (and stored) like a view of its own."""
        return self.cached("part", {"key": list(key)}, lambda ws: compute(), persist=True)

    def users(self) -> dict[str, dict[str, Any]]:
        """All users by name (re-read whenever the warehouse is reopened)."""
        with self.workspace() as ws:
            if self._users is None:
                raw = getattr(ws.warehouse.store, "raw", None)
                # re-read at every reopening: the plain SQL spares an Ibis compilation each time
                if raw is not None:
                    found = raw.execute('SELECT * FROM "users"')
                    names = [d[0] for d in found.description]
                    rows = [dict(zip(names, r, strict=True)) for r in found.fetchall()]
                else:
                    rows = ws.warehouse.table("users").to_pyarrow().to_pylist()
                self._users = {r["username"]: r for r in rows}
            return self._users


def table_counts(ws: Workspace) -> dict[str, int]:
    """Rows per table in one statement where the store speaks SQL (Ibis compiles one query per
    table otherwise, which costs seconds on a busy machine)."""
    store = ws.warehouse.store
    raw = getattr(store, "raw", None)
    if raw is None:
        return ws.warehouse.counts()
    names = ws.warehouse.tables()
    if not names:
        return {}
    # Table names come from the warehouse's own catalogue, never from a request.
    sql = " UNION ALL ".join(
        f"SELECT '{n}' AS name, count(*) AS n FROM \"{n}\""
        for n in names
        if '"' not in n and "'" not in n
    )
    return {name: int(n) for name, n in raw.execute(sql).fetchall()}
