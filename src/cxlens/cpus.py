"""Worker processes for the CPU-bound stages: how many by default, and an ordered forked map."""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import TypeVar

# Worker processes a stage forks when not told (synth, text, qa). Synth peak RSS measured at 1M
# customers (10M interactions): main ≈ 0.6 GB + ≈ 0.5 GB per worker (benchmarks/results/synth.json),
# so two workers keep the generator under 2 GB; more must be asked for (``workers=``, ``--workers``).
MAX_DEFAULT_WORKERS = 2

T = TypeVar("T")
U = TypeVar("U")


def default_workers(cap: int = MAX_DEFAULT_WORKERS) -> int:
    """The CPUs this process may use (its affinity on Linux), at least 1 and at most ``cap``."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cap, cpus))


def forked_map(fn: Callable[[T], U], items: Iterable[T], workers: int, *,
               initializer: Callable[[], object] | None = None, ahead: int = 2) -> Iterator[U]:
    """``fn`` over ``items`` in ``workers`` forked processes, results yielded in input order.

    The workers inherit this process's memory at the fork (set what ``fn`` reads, e.g. a module
    global, before the first item): only the items and results are pickled. At most
    ``ahead × workers`` items are in flight, so memory stays bounded while the caller consumes
    (and writes) the results; a result ready early is yielded at once. The pool is shut down
    and its processes reaped on exit, so their CPU time counts in this process's children."""
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=initializer)
    return ordered_results(pool, fn, items, ahead * workers, eager=True)


def ordered_results(pool: Executor, fn: Callable[[T], U], items: Iterable[T], in_flight: int,
                    *, eager: bool = False) -> Iterator[U]:
    """``fn`` over ``items`` submitted to ``pool``, results yielded in input order, at most
    ``in_flight`` items submitted ahead of the result waited for (``eager``: a result ready
    early is yielded at once). An exception is raised here, in order; a consumer that stops
    early cancels what has not started. The pool is shut down (and waited for) at the end."""
    pending: deque[Future[U]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            while len(pending) >= in_flight or (eager and pending and pending[0].done()):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)


def can_fork() -> bool:
    """Whether worker processes can be forked here (not on Windows)."""
    return "fork" in multiprocessing.get_all_start_methods()
