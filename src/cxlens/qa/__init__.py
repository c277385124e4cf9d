"""Quality inspection (质检): rule book, per-interaction scoring, agent scorecards.

>>> import cxlens, cxlens.qa
>>> ws = cxlens.open("demo-ws")                     # doctest: +SKIP
>>> cxlens.qa.scorecards(ws, by="agent")[0]         # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cxlens._lazy import lazy_exports

if TYPE_CHECKING:
    from cxlens.qa.cards import interaction_detail, scorecards
    from cxlens.qa.engine import CallContext, Inspector, Turn
    from cxlens.qa.rules import load_rules

__all__ = ["CallContext", "Inspector", "Turn", "interaction_detail", "load_rules", "scorecards"]

_WHERE = {
    "CallContext": "cxlens.qa.engine",
    "Inspector": "cxlens.qa.engine",
    "Turn": "cxlens.qa.engine",
    "load_rules": "cxlens.qa.rules",
    "scorecards": "cxlens.qa.cards",
    "interaction_detail": "cxlens.qa.cards",
}

__getattr__ = lazy_exports(__name__, _WHERE)
