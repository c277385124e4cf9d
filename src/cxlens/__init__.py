"""cxlens — open, offline-first customer-contact intelligence.

>>> import cxlens
>>> ws = cxlens.open("demo-ws")   # doctest: +SKIP
>>> ws.warehouse.counts()         # doctest: +SKIP
"""

from __future__ import annotations

from cxlens.errors import CxlensError
from cxlens.workspace import Workspace, init
from cxlens.workspace import open_workspace as open  # noqa: A001

__version__ = "0.1.0"
__all__ = ["CxlensError", "Workspace", "__version__", "init", "open"]
