"""Chunked generation: per chunk of customers, every canonical table and its ground truth.

``iter_batches`` yields ``(table, arrow)`` pairs: canonical tables by name and truth tables as
``"truth:<name>"``. Memory stays bounded by the chunk size whatever the total size; the same seed
gives the same rows (each chunk has its own seeded generators, the centre is built once).
"""

from __future__ import annotations

import gc
import json
import random
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.cpus import MAX_DEFAULT_WORKERS, default_workers  # noqa: F401 (re-exported)
from cxlens.synth import people as pp
from cxlens.synth import vocab
from cxlens.synth.centre import Centre, build_centre
from cxlens.synth.config import SynthConfig
from cxlens.synth.journeys import ChunkSim
from cxlens.synth.outcomes import settle
from cxlens.synth.people import DAY, Person, scramble
from cxlens.synth.rows import TRUTH_SCHEMAS, Rows

if TYPE_CHECKING:
    from cxlens.load import PreparedRecords
    from cxlens.workspace import Workspace

    # a canonical chunk table -> its rows and identifier rows, ready for load.write_records
    Prepare = Callable[[str, pa.Table], PreparedRecords]

# share of WeChat users whose OpenID the CRM holds: customer service on the official account
# binds the OpenID to the member account (docs/synth.md "Identifiers")
WECHAT_BOUND = 0.85

# high-volume tables are buffered as tuples in this column order (see journeys/contacts)
TUPLE_FIELDS = {
    "messages": ("interaction_id", "source", "source_id", "seq", "speaker", "ts", "text"),
    "web_events": ("source", "source_id", "session_id", "ts", "page", "event_type", "dwell_s",
                   "device", "account"),
    "truth:records": ("record_table", "source", "source_id", "person_id"),
    "truth:messages": ("interaction_id", "seq", "speaker", "sentiment"),
    "truth:interactions": tuple(TRUTH_SCHEMAS["interactions"]),
    "truth:problems": tuple(TRUTH_SCHEMAS["problems"]),
}
CANONICAL_ORDER = ("parties", "orders", "web_events", "interactions", "messages", "surveys",
                   "outreach", "cases")
TRUTH_TABLES = tuple(TRUTH_SCHEMAS)
# campaign, channel, day (fraction of the period), variant response rates (A, B)
CAMPAIGNS = (
    ("app_promo", "sms", 0.15, (0.04, 0.06)),
    ("retention_offer", "phone", 0.35, (0.22, 0.30)),
    ("plus_upgrade", "email", 0.55, (0.06, 0.09)),
)


def _base_us(config: SynthConfig) -> int:
    return int((config.start_utc - datetime(1970, 1, 1)) / timedelta(microseconds=1))


def iter_batches(config: SynthConfig, workers: int = 1) -> Iterator[tuple[str, pa.Table]]:
    """Yield ``(table_name, rows)`` chunk by chunk; truth tables come as ``"truth:<name>"``.

    ``workers`` > 1 generates chunks in that many processes; the output is the same rows in the
    same order (each chunk is seeded on its own), and at most ``2 × workers`` chunks are in
    flight, so memory stays bounded.

    >>> from cxlens.synth import SynthConfig, iter_batches
    >>> names = {name for name, _ in iter_batches(SynthConfig.checked(customers=50, days=7))}
    >>> {"parties", "interactions", "truth:records"} <= names
    True
    """
    yield from _batches(config, workers)


def _batches(config: SynthConfig, workers: int,
             prepare: Prepare | None = None) -> Iterator[tuple[str, Any]]:
    """:func:`iter_batches`; with ``prepare``, the canonical tables of chunks generated in worker
    processes come prepared there (identifier extraction off the storing process)."""
    config.validate()
    centre = build_centre(config)
    yield from _centre_tables(centre)
    if workers <= 1 or config.chunks == 1 or not _can_fork():
        for chunk in range(config.chunks):
            yield from chunk_tables(centre, chunk)
        return
    yield from _parallel_chunks(centre, workers, prepare)


_WORKER_CENTRE: Centre | None = None
_WORKER_PREPARE: Prepare | None = None


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _run_chunk(chunk: int) -> list[tuple[str, Any]]:
    assert _WORKER_CENTRE is not None
    prepare = _WORKER_PREPARE
    return [(name, prepare(name, table) if prepare is not None and ":" not in name else table)
            for name, table in chunk_tables(_WORKER_CENTRE, chunk)]


def _parallel_chunks(centre: Centre, workers: int,
                     prepare: Prepare | None = None) -> Iterator[tuple[str, Any]]:
    import multiprocessing
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor

    global _WORKER_CENTRE, _WORKER_PREPARE
    config = centre.config
    # fork: workers inherit the centre (and ``prepare``) and need no __main__ guard in the
    # caller's script; they run only the generator (never the caller's DuckDB connection)
    _WORKER_CENTRE, _WORKER_PREPARE = centre, prepare
    context = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            pending: deque[Future[list[tuple[str, Any]]]] = deque()
            submitted = 0
            while submitted < config.chunks and len(pending) < 2 * workers:
                pending.append(pool.submit(_run_chunk, submitted))
                submitted += 1
            while pending:
                batch = pending.popleft().result()
                if submitted < config.chunks:
                    pending.append(pool.submit(_run_chunk, submitted))
                    submitted += 1
                yield from batch
    finally:
        _WORKER_CENTRE = _WORKER_PREPARE = None


def iter_truth(config: SynthConfig) -> Iterator[tuple[str, pa.Table]]:
    """Only the truth batches of :func:`iter_batches` (names without the ``truth:`` prefix)."""
    for name, table in iter_batches(config):
        if name.startswith("truth:"):
            yield name[6:], table


def _centre_tables(centre: Centre) -> Iterator[tuple[str, pa.Table]]:
    config = centre.config
    base = _base_us(config)
    agents = Rows("agents", base)
    truth = Rows("agents", base, truth=True)
    for a in centre.agents:
        agents.add(source="hr", source_id=a.agent_id, name=a.name, team=a.queue, skills=a.skills,
                   site=a.site, hired_at=-a.hired_days_ago * DAY)
        truth.add(agent_id=a.agent_id, queue=a.queue, shift=a.shift,
                  off_days=",".join(map(str, a.off_days)), hired_days_ago=a.hired_days_ago,
                  aht_factor=a.aht_factor, resolve_effect=a.resolve_effect,
                  csat_effect=a.csat_effect, qa_risk=a.qa_risk)
    incidents = Rows("incidents", base, truth=True)
    for inc in centre.incidents:
        incidents.add(kind=inc.kind, reason=inc.reason,
                      first_day=config.start_date + timedelta(days=inc.first_day),
                      multipliers=json.dumps(inc.multipliers), description=inc.description)
    yield "agents", agents.to_arrow()
    yield "truth:agents", truth.to_arrow()
    yield "truth:incidents", incidents.to_arrow()


def chunk_tables(centre: Centre, chunk: int) -> Iterator[tuple[str, pa.Table]]:
    """Every table of one chunk of customers."""
    config = centre.config
    rng = random.Random(f"synth-{config.seed}-{chunk}")
    nrng = np.random.default_rng([config.seed, chunk])
    base = _base_us(config)
    buffers = {name: Rows(name, base, fields=TUPLE_FIELDS.get(name))
                for name in CANONICAL_ORDER}
    buffers.update({f"truth:{name}": Rows(name, base, truth=True,
                                          fields=TUPLE_FIELDS.get(f"truth:{name}"))
                    for name in ("persons", "records", "problems", "interactions", "messages")})
    # a chunk allocates millions of small tuples/strings and almost no reference cycles: the
    # cyclic GC's repeated full scans of the growing buffers cost ~25 % of the CPU, so it is
    # paused while the chunk is built (memory stays bounded by the chunk)
    with _gc_paused():
        persons = pp.make_people(config, chunk, rng)
        orders = _plan_orders(config, persons, rng)
        sim = ChunkSim(centre, chunk, rng, nrng, buffers, orders)
        problems = sim.problems(persons)
        for p in persons:
            sim.person(p, problems.get(p.idx, []))
        settle(sim)
        for p in persons:
            _browsing(sim, p)
        _orders(sim, persons, orders)
        _parties(sim, persons)
        _outreach(sim, persons)
        _truth_persons(sim, persons)
        del sim, problems, persons, orders
        names = [*CANONICAL_ORDER,
                 *(f"truth:{name}" for name in ("persons", "records", "problems",
                                                 "interactions", "messages"))]
        # convert and drop each buffer in turn so tuples and Arrow copies do not pile up
        tables = [(name, buffers.pop(name).to_arrow()) for name in names]
    yield from tables


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Disable the cyclic garbage collector inside the block (its state is restored after)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# -- orders ------------------------------------------------------------------------------------

def _plan_orders(config: SynthConfig, persons: list[Person],
                 rng: random.Random) -> dict[int, list[tuple[float, str, int]]]:
    """Order times per person before churn is known (churners' later orders are dropped)."""
    horizon = config.days * DAY
    out: dict[int, list[tuple[float, str, int]]] = {}
    start = config.start_date
    for p in persons:
        rate = {"basic": 0.018, "plus": 0.028, "premium": 0.04}[p.plan] * (
            1.5 if p.tier == "vip" else 1.0)
        t = rng.expovariate(rate) * DAY - 20 * DAY  # some orders before the period: quotable
        k = 0
        items = []
        while t < horizon and k < 40:
            if t >= -20 * DAY:
                day = start + timedelta(days=int(t // DAY))
                serial = scramble(p.idx * 40 + k, 10**9, config.seed * 16 + 10)
                number = f"{day:%Y%m%d}{serial:09d}"
                items.append((t, number, rng.randrange(len(vocab.PRODUCTS))))
                k += 1
            t += rng.expovariate(rate) * DAY
        out[p.idx] = items
    return out


def _orders(sim: ChunkSim, persons: list[Person],
            orders: dict[int, list[tuple[float, str, int]]]) -> None:
    rng, horizon = sim.rng, sim.horizon
    rows = sim.b["orders"]
    for p in persons:
        for t, number, product_i in orders.get(p.idx, ()):
            if t < 0 or (p.churn_date is not None and t >= p.churn_date):
                continue  # before the period, or after the customer left
            zh, _, price = vocab.PRODUCTS[product_i]
            qty = 1 if rng.random() < 0.85 else 2
            status = ("shipped" if horizon - t < 3 * DAY else
                      rng.choices(("delivered", "cancelled", "returned"), (88, 6, 6), k=1)[0])
            landline = p.landline is not None and rng.random() < 0.25
            rows.add(source="shop", source_id=number, ordered_at=t,
                     amount=round(price * qty * rng.choice((1.0, 1.0, 0.9, 0.8)), 2),
                     currency="CNY", product=zh, status=status,
                     order_channel=rng.choices(("app", "web", "store"), (55, 35, 10), k=1)[0],
                     account=pp.write_account(rng, p.account) if rng.random() < 0.92 else None,
                     phone=pp.write_landline(rng, p.landline, len(p.area_code)) if landline
                     else pp.write_mobile(rng, p.mobile),
                     email=pp.write_email(rng, p.email) if p.email and rng.random() < 0.4
                     else None)
            sim.record("orders", "shop", number, p)


def _browsing(sim: ChunkSim, p: Person) -> None:
    rng = sim.rng
    n = int(rng.expovariate(1 / (0.8 * sim.config.days / 90)))
    for _ in range(n):
        t = rng.random() * sim.horizon
        if p.churn_date is not None and t >= p.churn_date:
            continue
        sim.web_session(p, t, vocab.BROWSE_PAGES, None)


# -- parties -----------------------------------------------------------------------------------

def _parties(sim: ChunkSim, persons: list[Person]) -> None:
    cfg, rng, rows = sim.config, sim.rng, sim.b["parties"]
    seed = cfg.seed
    for p in persons:
        crm_id = f"C{scramble(p.idx, 10**9, seed * 16 + 6):09d}"
        rows.add(source="crm", source_id=crm_id, name=p.name, birth_date=p.birth_date,
                 gender=p.gender, city=p.city, region=p.region, tier=p.tier,
                 language=p.language, plan=p.plan, created_at=p.created_at,
                 phone=pp.write_mobile(rng, p.mobile),
                 email=pp.write_email(rng, p.email) if p.email and rng.random() < 0.92 else None,
                 account=p.account if rng.random() < 0.96 else None,
                 wechat=p.wechat if p.wechat and rng.random() < WECHAT_BOUND else None,
                 handle=p.weibo if p.weibo and rng.random() < 0.3 else None)
        sim.record("parties", "crm", crm_id, p)
        if rng.random() < cfg.billing_share:
            bill_id = f"B{p.account[1:]}"
            k = rng.random()
            name = pp.traditional(p.name) if k < 0.10 else (
                pp.typo_name(rng, p.name) if k < 0.15 else p.name)
            use_landline = p.landline is not None and rng.random() < 0.4
            rows.add(source="billing", source_id=bill_id, name=name, city=p.city,
                     region=p.region, created_at=p.created_at + rng.random() * DAY,
                     account=pp.write_account(rng, p.account),
                     phone=pp.write_landline(rng, p.landline, len(p.area_code)) if use_landline
                     else pp.write_mobile(rng, p.mobile),
                     email=pp.write_email(rng, p.email) if p.email and rng.random() < 0.5
                     else None, plan=p.plan)
            sim.record("parties", "billing", bill_id, p)
        if rng.random() < cfg.duplicate_share:
            dup_id = f"C{scramble(p.idx + 10**8, 10**9, seed * 16 + 6):09d}"
            name = pp.typo_name(rng, p.name) if rng.random() < 0.6 else p.name
            phone = pp.swap_digits(rng, p.mobile) if rng.random() < 0.5 else p.mobile
            rows.add(source="crm", source_id=dup_id, name=name, gender=p.gender, city=p.city,
                     region=p.region, tier="regular", language=p.language,
                     birth_date=p.birth_date if rng.random() < 0.5 else None,
                     created_at=p.created_at + rng.random() * 200 * DAY,
                     phone=pp.write_mobile(rng, phone),
                     email=pp.write_email(rng, p.email) if p.email and rng.random() < 0.4
                     else None)
            sim.record("parties", "crm", dup_id, p)


def _outreach(sim: ChunkSim, persons: list[Person]) -> None:
    rng, rows = sim.rng, sim.b["outreach"]
    for name, channel, at, rates in CAMPAIGNS:
        sent_day = int(sim.config.days * at)
        for p in persons:
            sent = sent_day * DAY + 9.5 * 3600 - 8 * 3600 + rng.random() * 3 * 3600
            if p.churn_date is not None and p.churn_date < sent:
                continue
            if name == "plus_upgrade" and (p.plan != "basic" or not p.email):
                continue
            if name == "retention_offer" and p.dissatisfaction <= 0 and rng.random() > 0.05:
                continue
            if name == "app_promo" and rng.random() > 0.3:
                continue
            variant = "A" if rng.random() < 0.5 else "B"
            rate = rates[variant == "B"] * (1.4 if p.tier == "vip" else 1.0) * (
                0.6 if name != "retention_offer" and p.dissatisfaction > 0.2 else 1.0)
            responded = rng.random() < rate
            sid = sim.next_id("OR")
            contact = ({"email": pp.write_email(rng, p.email or "")} if channel == "email"
                       else {"phone": pp.write_mobile(rng, p.mobile)})
            rows.add(source="campaigns", source_id=sid, campaign=name, variant=variant,
                     channel=channel, sent_at=sent,
                     responded_at=sent + rng.expovariate(1 / 20_000) if responded else None,
                     converted=responded and rng.random() < 0.35, **contact)
            sim.record("outreach", "campaigns", sid, p)


def _truth_persons(sim: ChunkSim, persons: list[Person]) -> None:
    rows = sim.b["truth:persons"]
    for p in persons:
        rows.add(person_id=p.person_id, name=p.name, gender=p.gender, birth_date=p.birth_date,
                 age=p.age, tier=p.tier, plan=p.plan, region=p.region, city=p.city,
                 language=p.language, created_at=p.created_at, mobile="+86" + p.mobile,
                 email=p.email, account=p.account, wechat=p.wechat, weibo=p.weibo,
                 devices=",".join(p.devices),
                 household_id=None if p.household is None else f"H{p.household:08d}",
                 landline=None if p.landline is None else "+86" + p.landline[1:],
                 problems=p.problem_count, unresolved_problems=p.unresolved_count,
                 churned=p.churned, churn_date=p.churn_date)


# -- into a workspace ----------------------------------------------------------------------------



# rows per write while generating, and per identifier group (see generate). Each write commits,
# and more commits cost more checkpoint work: replaying the demo's chunks, writes of >= 20k rows
# took 14-16.5 CPU-s, >= 100k 10.7-12.1, the old single stores 10.2-13.4 (load 7-10)
WRITE_ROWS = 100_000
STORE_GROUP_ROWS = 250_000


def _group_identifiers(name: str, parts: list[pa.Table]) -> PreparedRecords:
    """The identifier rows of consecutive chunks as preparing their concatenation orders them:
    ``identifiers.extract`` emits one block per identifier column (column order) with the rows
    in table order, so the chunks' identifier rows are put back in that order by a stable sort
    on the column's rank. No data rows: those are written as they come."""
    from cxlens.clean.identifiers import IDENTIFIER_COLUMNS
    from cxlens.load import PreparedRecords

    ids = pa.concat_tables(parts)
    if len(parts) > 1:
        ranks = pa.array([*IDENTIFIER_COLUMNS.values(), "order"], pa.string())
        ids = ids.take(pc.sort_indices(pc.index_in(ids["id_type"], value_set=ranks)))
    return PreparedRecords(name, pa.table({"source": pa.array([], pa.string()),
                                           "source_id": pa.array([], pa.string())}), ids, None)


def generate(ws: Workspace, config: SynthConfig, progress: Any = None,
             workers: int | None = None) -> dict[str, Any]:
    """Generate into ``ws``: canonical rows as ``store_records`` stores them, truth into
    ``ws.truth_dir``. The identifier extraction (``load.prepare_records``) runs in the worker
    processes beside the generation; this process only writes (``load.write_records``).

    Re-running with the same config changes nothing (rows are upserted on (source, source_id);
    truth files are rewritten identically). Returns rows per table and timings.

    >>> import cxlens                                          # doctest: +SKIP
    >>> ws = cxlens.init("demo-ws")                            # doctest: +SKIP
    >>> generate(ws, SynthConfig.checked(customers=1000))      # doctest: +SKIP
    """
    import pyarrow.parquet as pq

    from cxlens.load import PreparedRecords, WrittenKeys, prepare_records, write_records

    config.validate()
    started = time.perf_counter()
    truth_dir = Path(ws.truth_dir)
    staging = truth_dir.with_name(truth_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    writers: dict[str, pq.ParquetWriter] = {}
    rows: dict[str, int] = {}
    pending: dict[str, list[PreparedRecords]] = {}  # rows not yet written, per table
    pending_rows: dict[str, int] = {}
    group_ids: dict[str, list[pa.Table]] = {}  # identifier rows of the open store group
    group_rows: dict[str, int] = {}
    ingest_id = f"synth-{config.seed}"
    # the keys written so far: a fresh workspace's upserts then skip their DELETE scans (a
    # re-run finds its sources stored and deletes as store_records does)
    written = WrittenKeys()

    def prepare(name: str, table: pa.Table) -> PreparedRecords:
        return prepare_records(ws, name, table, ingest_id=ingest_id)

    def write_rows(name: str) -> None:
        # the table's rows so far, in chunk order (their identifiers wait for the group's end)
        parts = pending.pop(name, [])
        pending_rows.pop(name, None)
        if parts:
            data = pa.concat_tables(p.data for p in parts)
            write_records(ws, PreparedRecords(name, data, parts[0].identifiers.slice(0, 0), None),
                          scan=True, keys=written)

    def close_group(name: str) -> None:
        # the group's identifier rows as store_records(ws, name, concat(chunks)) orders them
        write_rows(name)
        ids = group_ids.pop(name)
        group_rows.pop(name)
        if any(t.num_rows for t in ids):
            write_records(ws, _group_identifiers(name, ids), scan=True, keys=written)

    try:
        for name, item in _batches(config, workers or default_workers(), prepare):
            if name.startswith("truth:"):
                key = name[6:]
                if key not in writers:
                    writers[key] = pq.ParquetWriter(staging / f"{key}.parquet", item.schema)
                writers[key].write_table(item)
                n = item.num_rows
            else:
                prepared = item if isinstance(item, PreparedRecords) else prepare(name, item)
                n = prepared.data.num_rows
                pending.setdefault(name, []).append(prepared)
                pending_rows[name] = pending_rows.get(name, 0) + n
                group_ids.setdefault(name, []).append(prepared.identifiers)
                group_rows[name] = group_rows.get(name, 0) + n
                # Rows are written as they come (in chunk order: the same table as one write),
                # while the workers go on generating, not all in a serial tail after the last
                # chunk; each group of >= 250k rows then writes its identifiers (fewer, larger
                # statements; identifier order as before).
                if group_rows[name] >= STORE_GROUP_ROWS:
                    close_group(name)
                elif pending_rows[name] >= WRITE_ROWS:
                    write_rows(name)
            rows[name] = rows.get(name, 0) + n
            if progress is not None:
                progress(name, n)
        for name in list(group_ids):
            close_group(name)
    finally:
        for writer in writers.values():
            writer.close()
    shutil.rmtree(truth_dir, ignore_errors=True)
    staging.rename(truth_dir)
    return {
        "customers": config.customers, "days": config.days, "seed": config.seed,
        "start": str(config.start_date),
        "rows": {k: v for k, v in rows.items() if not k.startswith("truth:")},
        "truth": {k[6:]: v for k, v in rows.items() if k.startswith("truth:")},
        "truth_dir": str(truth_dir),
        "seconds": round(time.perf_counter() - started, 2),
    }
