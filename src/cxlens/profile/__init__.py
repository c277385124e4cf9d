"""Customer 360: the ``customer_360`` table (stage :mod:`cxlens.profile.stage`) and lookups.

>>> import cxlens
>>> from cxlens import profile
>>> ws = cxlens.open("demo-ws")                              # doctest: +SKIP
>>> profile.lookup(ws, "138-0013-8000")["customer_key"]      # doctest: +SKIP
'C0000001234'
"""

from __future__ import annotations

from cxlens.profile.reader import find_customer, lookup

__all__ = ["find_customer", "lookup"]
