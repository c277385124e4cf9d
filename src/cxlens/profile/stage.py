"""The profile stage (`cxlens run profile`): refresh ``customer_360`` and the lookup tables."""

from __future__ import annotations

import time
from typing import Any

from cxlens.workspace import Workspace


def run(ws: Workspace) -> dict[str, Any]:
    """Rebuild every customer's 360 row and the point-lookup tables; returns counts and times."""
    from cxlens.profile import lookups
    from cxlens.profile.build import customer_360

    t0 = time.perf_counter()
    wh = ws.warehouse
    lookups.drop_indexes(wh)  # rebuilt once at the end: cheaper than row-by-row maintenance
    if wh.count("identity_map") == 0:
        for name in ("customer_360", *lookups.BUILDERS):
            wh.replace(name, wh.table(name).limit(0))
        lookups.create_indexes(wh)
        return {"customers": 0, "note": "identity_map is empty: run the identity stage first"}
    # sorted by key: DuckDB's per-row-group min/max then skips most of the table on a lookup
    customers = wh.replace("customer_360", customer_360(ws).order_by("customer_key"))
    t1 = time.perf_counter()
    rows = lookups.refresh(wh)
    t2 = time.perf_counter()
    indexes = lookups.create_indexes(wh)
    return {"customers": customers, "seconds_360": round(t1 - t0, 2),
            "lookup_rows": rows, "seconds_lookups": round(t2 - t1, 2),
            "indexes": len(indexes), "seconds_indexes": round(time.perf_counter() - t2, 2)}
