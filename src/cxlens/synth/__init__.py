"""A realistic synthetic contact centre with ground truth (see docs/synth.md).

>>> from cxlens import synth
>>> config = synth.SynthConfig.checked(customers=500, days=30, seed=7)
>>> summary = synth.generate(ws, config)      # doctest: +SKIP
>>> for table, rows in synth.iter_batches(config):   # doctest: +SKIP
...     ...

Operational rows go into the warehouse through :func:`cxlens.load.store_records`; ground truth
(who is behind every record, true reasons, outcomes, sentiment, planted PII, QA slips, churn)
goes to ``<workspace>/truth/*.parquet`` and is never read by pipeline stages.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxlens.errors import InputError
from cxlens.synth.config import SynthConfig

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pyarrow as pa

    from cxlens.workspace import Workspace

__all__ = ["SynthConfig", "emit_files", "generate", "iter_batches", "iter_truth"]


def generate(ws: Workspace, config: SynthConfig, progress: Any = None,
             workers: int | None = None) -> dict[str, Any]:
    """Generate the contact centre into ``ws`` (idempotent); returns rows per table.

    ``workers``: processes generating chunks (default: CPUs available, at most 2 — the memory
    bound, see ``cxlens.cpus.MAX_DEFAULT_WORKERS``); the data
    does not depend on it.
    """
    from cxlens.synth.build import generate as _generate

    return _generate(ws, config, progress=progress, workers=workers)


def iter_batches(config: SynthConfig, workers: int = 1) -> Iterator[tuple[str, pa.Table]]:
    """Yield ``(table, arrow)`` chunk by chunk; truth tables are named ``truth:<name>``."""
    from cxlens.synth.build import iter_batches as _iter

    return _iter(config, workers)


def iter_truth(config: SynthConfig) -> Iterator[tuple[str, pa.Table]]:
    """Yield only the truth batches, as ``(name, arrow)`` without the prefix."""
    from cxlens.synth.build import iter_truth as _iter

    return _iter(config)


def emit_files(out_dir: Path | str, config: SynthConfig) -> dict[str, Any]:
    """Write the same data as vendor-format source files (delegates to ``synth.formats``)."""
    try:
        from cxlens.synth.formats import emit_files as _emit
    except ImportError as exc:
        if exc.name != "cxlens.synth.formats":
            raise
        raise InputError("vendor-format emitters not available",
                         "update cxlens; until then load the synth straight into a workspace"
                         ) from exc
    return _emit(Path(out_dir), config)
