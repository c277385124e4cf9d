"""The profile stage (`cxlens run profile`): refresh ``customer_360`` from the warehouse."""

from __future__ import annotations

import time
from typing import Any

from cxlens.workspace import Workspace


def run(ws: Workspace) -> dict[str, Any]:
    """Rebuild every customer's 360 row; returns how many customers and how long it took."""
    from cxlens.profile.build import customer_360

    t0 = time.perf_counter()
    wh = ws.warehouse
    if int(wh.table("identity_map").count().execute()) == 0:
        wh.replace("customer_360", wh.table("customer_360").limit(0))
        return {"customers": 0, "note": "identity_map is empty: run the identity stage first"}
    customers = wh.replace("customer_360", customer_360(ws))
    return {"customers": customers, "seconds_360": round(time.perf_counter() - t0, 2)}
