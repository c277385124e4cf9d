"""What every call-detail-record format shares: start/answer/end stamps, duration and billsec,
and the validity checks that send an impossible call to quarantine."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from cxlens.clean import values as V
from cxlens.clean.quarantine import Checks

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DAY_S = 86_400.0


@dataclass
class CallTimes:
    started: pa.Array
    answered: pa.Array
    ended: pa.Array
    duration: pa.Array
    billsec: pa.Array


def call_times(start: pa.Array, answer: pa.Array, end: pa.Array, duration: pa.Array,
               billsec: pa.Array, tz: str, checks: Checks) -> CallTimes:
    """Parse local stamps to UTC and durations to seconds, adding the shared checks in order."""
    started, bad_start = V.to_utc(start, tz, [TIME_FORMAT])
    answered, bad_answer = V.to_utc(answer, tz, [TIME_FORMAT])
    ended, bad_end = V.to_utc(end, tz, [TIME_FORMAT])
    seconds, bad_duration = V.to_float(duration)
    billed, bad_billsec = V.to_float(billsec)
    checks.add(pc.is_null(start), "missing start time")
    checks.add(bad_start, "unparseable start time")
    checks.add(pc.or_(bad_answer, bad_end), "unparseable answer/end time")
    checks.add(pc.or_(bad_duration, bad_billsec), "duration/billsec not a number")
    checks.add(pc.less(seconds, 0), "negative duration")
    checks.add(pc.less(billed, 0), "negative billsec")
    checks.add(pc.greater(billed, pc.add(seconds, 1)), "billsec longer than duration")
    checks.add(pc.less(ended, started), "end before start")
    checks.add(pc.greater(seconds, DAY_S), "call longer than 24 h")
    return CallTimes(started, answered, ended, seconds, billed)
