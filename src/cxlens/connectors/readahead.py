"""Read ahead: run a connector's batch generator in a background thread.

Parsing and cleaning (pyarrow, which releases the GIL) then overlap with the writes of the
ingest runner (DuckDB, which releases it too), so a big file keeps two cores busy instead of
alternating between the stages. Memory stays bounded: the reader is at most ``depth`` batches
ahead. An exception in the reader (a CSV that is not UTF-8…) is raised in the consumer, and a
consumer that stops early (an error while writing) stops the reader.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from cxlens.cpus import ordered_results

T = TypeVar("T")

DEPTH = 2
_POLL_S = 0.1


class _Done:
    """End of the stream (``error`` set when the reader failed)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def read_ahead(items: Iterator[T], depth: int = DEPTH) -> Iterator[T]:
    """Yield ``items`` in order, produced by a background thread at most ``depth`` ahead.

    >>> list(read_ahead(iter(range(5))))
    [0, 1, 2, 3, 4]
    """
    slots: queue.Queue[T | _Done] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: T | _Done) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, re-raised there
            put(_Done(exc))
            return
        put(_Done())

    worker = threading.Thread(target=produce, name="cxlens-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if isinstance(item, _Done):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        worker.join()
        close = getattr(items, "close", None)
        if close is not None and not worker.is_alive():
            close()


U = TypeVar("U")

# Chunks converted at the same time by :func:`ordered_map`. 1 (inline, as before): two
# converting threads measured no faster and 9-15 % more CPU on the loaded 2-core machine
# (docs/connectors.md, "Cleaning on two threads"); 2 is the setting to try on a quiet one.
CONVERT_WORKERS = 1


def ordered_map(fn: Callable[[T], U], items: Iterator[T],
                workers: int = CONVERT_WORKERS) -> Iterator[U]:
    """``fn`` over ``items`` on ``workers`` threads, results yielded in input order.

    At most ``workers`` items are taken ahead of the result being waited for, so memory stays
    bounded; ``fn`` should release the GIL (Arrow compute does) for this to use more than one
    core. An exception from ``fn`` or ``items`` is raised here, in order; a consumer that stops
    early cancels what has not started and waits for what has.

    >>> list(ordered_map(lambda x: x * x, iter(range(5))))
    [0, 1, 4, 9, 16]
    """
    if workers <= 1:
        for item in items:
            yield fn(item)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cxlens-convert")
    yield from ordered_results(pool, fn, items, workers)
