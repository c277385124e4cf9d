"""Write synth data as the vendor files a contact centre really exports.

``emit_files(out_dir, config)`` streams :func:`cxlens.synth.iter_batches` into:

=====================  ============================================  ==========================
source                 file(s)                                       --format
=====================  ============================================  ==========================
pbx (zh queues)        ``pbx/Master.csv`` (Asterisk cdr_csv, 21 col)  asterisk
pbx (en queues)        ``pbx/ctr.jsonl`` (Amazon Connect CTRs)        amazon-connect
pbx transcripts        ``pbx/transcripts.csv`` + ``.yaml``            mapped (messages)
chat                   ``chat/conversations.jsonl`` (Chatwoot)        chatwoot
email                  ``email/tickets-NNNN.json`` (Zendesk pages)    zendesk
email (as mail)        ``mail/support.mbox`` (one message per turn)   email — not in manifest
ivr, wechat, weibo     ``<source>/interactions.csv`` + ``.yaml``      mapped
crm, billing, shop,    ``<source>/<table>.csv`` + ``.yaml``           mapped
web, survey, campaigns,
helpdesk, hr
=====================  ============================================  ==========================

``manifest.json`` lists, in load order, each file with the ``--format``/``--source``/
``--mapping`` that reproduces the synth warehouse (:func:`ingest_manifest` runs it). Times are
written as the vendors write them: local time (Asia/Shanghai) to the second in CSV/CDRs, ISO
8601 UTC in CTRs and Zendesk, epoch seconds in Chatwoot. What a format cannot carry (an
Asterisk CDR has no hold or wrap-up time, no contact reason) is lost by that format, exactly as
with real exports; docs/connectors.md lists it.
"""

from __future__ import annotations

import json
import mailbox
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from cxlens import schema

LOCAL_TZ = "Asia/Shanghai"
LOCAL_OFFSET = timedelta(hours=8)  # China Standard Time has no DST
CSV_TIME = "%Y-%m-%d %H:%M:%S"
SKIP = {"ingest_id", "interaction_id"}
TICKETS_PER_PAGE = 1000


def _local_text(column: pa.Array) -> pa.Array:
    """Naive-UTC timestamps → local wall-clock strings to the second."""
    seconds = column.cast(pa.timestamp("s"), safe=False)
    aware = seconds.cast(pa.timestamp("s", tz="UTC")).cast(pa.timestamp("s", tz=LOCAL_TZ))
    return pc.strftime(aware, format=CSV_TIME)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{value.microsecond // 1000:03d}Z"


def _local(value: datetime | None) -> str:
    return "" if value is None else (value + LOCAL_OFFSET).strftime(CSV_TIME)


class _Csv:
    """A mapped CSV + its YAML mapping, written batch by batch."""

    def __init__(self, out: Path, rel: str, table: str, source: str) -> None:
        self.path = out / rel
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.table, self.source = table, source
        self.columns = [c for c in schema.CANONICAL[table] if c not in SKIP | {"source"}]
        self.writer: pcsv.CSVWriter | None = None
        self._write_mapping()

    def _write_mapping(self) -> None:
        import yaml

        columns = {c: c for c in self.columns if c != "source_id"}
        doc = {"table": self.table, "source": self.source, "format": "csv",
               "timezone": LOCAL_TZ, "timestamp_format": CSV_TIME, "id": "source_id",
               "columns": columns}
        self.mapping = self.path.with_suffix(".yaml")
        self.mapping.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False),
                                encoding="utf-8")

    def write(self, data: pa.Table) -> None:
        cols = {}
        for name in self.columns:
            column = data.column(name).combine_chunks()
            if pa.types.is_timestamp(column.type):
                column = _local_text(column)
            elif pa.types.is_date(column.type):
                column = pc.strftime(column.cast(pa.timestamp("s")), format="%Y-%m-%d")
            cols[name] = column.cast(pa.string())
        table = pa.table(cols)
        if self.writer is None:
            self.writer = pcsv.CSVWriter(str(self.path), table.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is None:  # no rows: still a valid CSV with its header
            header = pa.table({c: pa.array([], pa.string()) for c in self.columns})
            pcsv.write_csv(header, str(self.path))
        else:
            self.writer.close()


def _by_source(table: pa.Table) -> Iterator[tuple[str, pa.Table]]:
    sources = table.column("source")
    for source in pc.unique(sources).to_pylist():
        yield source, table.filter(pc.equal(sources, source))


class Emitter:
    """Routes canonical batches to vendor files; holds one chunk of conversations at a time."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.csv: dict[tuple[str, str], _Csv] = {}
        self.manifest: list[dict[str, str]] = []
        self.pending: dict[str, list[dict[str, Any]]] = {"chat": [], "email": []}
        self.turns: dict[str, list[dict[str, Any]]] = {}
        self.ticket_page = 0
        self.tickets: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, Any]] = {}
        (out / "pbx").mkdir(parents=True, exist_ok=True)
        self.master = (out / "pbx" / "Master.csv").open("w", encoding="utf-8", newline="")
        self.ctr = (out / "pbx" / "ctr.jsonl").open("w", encoding="utf-8")
        (out / "chat").mkdir(exist_ok=True)
        self.chat = (out / "chat" / "conversations.jsonl").open("w", encoding="utf-8")
        (out / "mail").mkdir(exist_ok=True)
        self.mbox = mailbox.mbox(str(out / "mail" / "support.mbox"))
        self.files_seen: set[str] = set()

    # -- routing ---------------------------------------------------------------------------
    def add(self, table: str, data: pa.Table) -> None:
        if table not in ("interactions", "messages"):
            self.flush_conversations()
        for source, rows in _by_source(data):
            if table == "interactions" and source == "pbx":
                self._calls(rows)
            elif table == "interactions" and source in ("chat", "email"):
                self.pending[source].extend(rows.to_pylist())
            elif table == "messages" and source in ("chat", "email"):
                for row in rows.to_pylist():
                    self.turns.setdefault(row["interaction_id"], []).append(row)
            else:
                self._mapped(table, source, rows)

    def _mapped(self, table: str, source: str, rows: pa.Table) -> None:
        key = (table, source)
        if key not in self.csv:
            name = "transcripts" if table == "messages" else table
            self.csv[key] = _Csv(self.out, f"{source}/{name}.csv", table, source)
        self.csv[key].write(rows)

    # -- phone -----------------------------------------------------------------------------
    def _calls(self, rows: pa.Table) -> None:
        import csv

        writer = csv.writer(self.master, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for r in rows.to_pylist():
            if str(r.get("queue") or "").endswith("_en"):
                self.ctr.write(json.dumps(_ctr(r), ensure_ascii=False) + "\n")
            else:
                writer.writerow(_cdr(r))

    # -- chat and e-mail conversations -----------------------------------------------------
    def flush_conversations(self) -> None:
        for row in self.pending["chat"]:
            turns = sorted(self.turns.pop(row["interaction_id"], []), key=lambda t: t["seq"])
            self.chat.write(json.dumps(_chatwoot(row, turns), ensure_ascii=False) + "\n")
        for row in self.pending["email"]:
            turns = sorted(self.turns.pop(row["interaction_id"], []), key=lambda t: t["seq"])
            ticket, user = _ticket(row, turns)
            self.tickets.append(ticket)
            self.users[str(user["id"])] = user
            for message in _mails(row, turns):
                self.mbox.add(message)
            if len(self.tickets) >= TICKETS_PER_PAGE:
                self._write_page()
        self.pending = {"chat": [], "email": []}
        self.turns.clear()

    def _write_page(self) -> None:
        self.ticket_page += 1
        path = self.out / "email" / f"tickets-{self.ticket_page:04d}.json"
        path.parent.mkdir(exist_ok=True)
        doc = {"tickets": self.tickets, "users": list(self.users.values()),
               "next_page": None, "count": len(self.tickets)}
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        self.manifest.append({"path": str(path.relative_to(self.out)), "format": "zendesk",
                              "source": "email"})
        self.tickets, self.users = [], {}

    def close(self) -> list[dict[str, str]]:
        self.flush_conversations()
        if self.tickets:
            self._write_page()
        self.master.close()
        self.ctr.close()
        self.chat.close()
        self.mbox.close()
        order = ("hr", "crm", "billing", "shop", "web", "ivr", "wechat", "weibo", "campaigns")
        mapped = []
        for (table, source), writer in self.csv.items():
            writer.close()
            mapped.append({"path": str(writer.path.relative_to(self.out)), "format": "mapped",
                           "source": source,
                           "mapping": str(writer.mapping.relative_to(self.out)),
                           "_order": f"{order.index(source) if source in order else 99:02d}"
                                     f"{table == 'messages'}"})
        mapped.sort(key=lambda m: m.pop("_order"))
        calls = [{"path": "pbx/Master.csv", "format": "asterisk", "source": "pbx"},
                 {"path": "pbx/ctr.jsonl", "format": "amazon-connect", "source": "pbx"},
                 {"path": "chat/conversations.jsonl", "format": "chatwoot", "source": "chat"}]
        # interactions before the tables that refer to them (messages, surveys, cases)
        first = [m for m in mapped if not m["path"].endswith(("transcripts.csv", "surveys.csv",
                                                              "cases.csv"))]
        later = [m for m in mapped if m not in first]
        return first + calls + self.manifest + later


def _cdr(r: dict[str, Any]) -> list[str]:
    """One canonical phone interaction → an Asterisk Master.csv line (21 columns)."""
    inbound = r.get("direction") != "outbound"
    phone = str(r.get("phone") or "")
    agent = str(r.get("agent_id") or "")
    started, answered, ended = r.get("started_at"), r.get("answered_at"), r.get("ended_at")
    ended = ended or started
    duration = max(int(round((ended - started).total_seconds())), 0) if started else 0
    billsec = max(int(round((ended - answered).total_seconds())), 0) if answered else 0
    billsec = min(billsec, duration)
    name = str(r.get("contact_name") or "")
    queue = str(r.get("queue") or "")
    uid = str(r["source_id"])
    trunk = f"SIP/trunk-{abs(hash(uid)) % 16**8:08x}"
    agent_chan = f"SIP/{agent}-{abs(hash(uid + 'a')) % 16**8:08x}" if agent else ""
    return [
        str(r.get("account") or ""),
        phone if inbound else agent, "8000" if inbound else phone,
        "from-trunk" if inbound else "from-internal",
        f'"{name}" <{phone}>' if inbound else f'"{agent}" <{agent}>',
        trunk if inbound else agent_chan, agent_chan if inbound else trunk,
        "Queue" if inbound else "Dial", f"{queue},t" if inbound else f"SIP/trunk/{phone}",
        _local(started), _local(answered), _local(ended), str(duration), str(billsec),
        "ANSWERED" if answered else "NO ANSWER", "DOCUMENTATION", uid, str(r.get("audio_ref") or ""),
        "", uid, "",
    ]


def _ctr(r: dict[str, Any]) -> dict[str, Any]:
    """One canonical phone interaction → an Amazon Connect contact trace record."""
    started, answered, ended = r.get("started_at"), r.get("answered_at"), r.get("ended_at")
    agent = None
    if r.get("agent_id") and answered:
        agent = {"Username": r["agent_id"], "ConnectedToAgentTimestamp": _iso(answered),
                 "AgentInteractionDuration": r.get("talk_s"),
                 "CustomerHoldDuration": r.get("hold_s"),
                 "AfterContactWorkDuration": r.get("acw_s")}
    attributes = {k: str(r[k]).lower() if isinstance(r[k], bool) else str(r[k])
                  for k in ("reason", "account", "language", "disposition", "resolved")
                  if r.get(k) is not None}
    if r.get("contact_name"):
        attributes["customer_name"] = r["contact_name"]
    last = (ended or started) + timedelta(seconds=30) if (ended or started) else None
    return {
        "AWSContactTraceRecordFormatVersion": "2017-03-10",
        "ContactId": r["source_id"], "Channel": "VOICE",
        "InitiationMethod": "OUTBOUND" if r.get("direction") == "outbound" else "INBOUND",
        "InitiationTimestamp": _iso(started), "DisconnectTimestamp": _iso(ended),
        "LastUpdateTimestamp": _iso(last),
        "CustomerEndpoint": {"Address": r.get("phone"), "Type": "TELEPHONE_NUMBER"},
        "Queue": {"Name": r.get("queue"), "Duration": r.get("wait_s"),
                  "EnqueueTimestamp": _iso(started)} if r.get("queue") else None,
        "Agent": agent,
        "TransferCompletedTimestamp": _iso(ended) if (r.get("transfers") or 0) > 0 else None,
        "Recording": {"Location": r["audio_ref"]} if r.get("audio_ref") else None,
        "Attributes": attributes,
    }


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else (value - datetime(1970, 1, 1)).total_seconds()


def _chatwoot(r: dict[str, Any], turns: list[dict[str, Any]]) -> dict[str, Any]:
    """A canonical chat + its turns → a Chatwoot conversation export object."""
    kinds = {"customer": ("incoming", "contact"), "agent": ("outgoing", "user"),
             "bot": ("outgoing", "agent_bot"), "system": ("activity", "user")}
    return {
        "id": r["source_id"], "inbox_id": r.get("queue"),
        "status": "resolved" if r.get("resolved") else "open",
        "channel": "Channel::WebWidget", "created_at": _epoch(r.get("started_at")),
        "last_activity_at": _epoch(r.get("ended_at")),
        "meta": {"sender": {"name": r.get("contact_name"), "email": r.get("email"),
                            "phone_number": r.get("phone")},
                 "assignee": {"id": r.get("agent_id")} if r.get("agent_id") else None},
        "labels": [r["reason"]] if r.get("reason") else [],
        "custom_attributes": {k: r[k] for k in ("account", "language", "disposition")
                              if r.get(k) is not None},
        "messages": [{"id": t["source_id"], "content": t.get("text"),
                      "created_at": _epoch(t.get("ts")),
                      "message_type": kinds.get(t.get("speaker"), kinds["system"])[0],
                      "sender": {"type": kinds.get(t.get("speaker"), kinds["system"])[1]}}
                     for t in turns],
    }


def _ticket(r: dict[str, Any], turns: list[dict[str, Any]]) -> tuple[dict[str, Any],
                                                                      dict[str, Any]]:
    """A canonical e-mail conversation → a Zendesk ticket (+ its side-loaded requester)."""
    user_id = "u-" + (r.get("email") or r.get("phone") or r["source_id"])
    user = {"id": user_id, "name": r.get("contact_name"), "email": r.get("email"),
            "phone": r.get("phone")}
    ticket = {
        "id": r["source_id"], "subject": r.get("subject"), "description": r.get("text"),
        "status": "solved" if r.get("resolved") else "open",
        "requester_id": user_id, "assignee_id": r.get("agent_id"), "group_id": r.get("queue"),
        "external_id": r.get("account"), "tags": [r["reason"]] if r.get("reason") else [],
        "via": {"channel": "email"},
        "created_at": _iso(r.get("started_at")), "updated_at": _iso(r.get("ended_at")),
        "comments": [{"id": t["source_id"], "author_id": user_id if t.get("speaker") ==
                      "customer" else (r.get("agent_id") or "agent"),
                      "body": t.get("text"), "public": t.get("speaker") != "system",
                      "created_at": _iso(t.get("ts"))} for t in turns],
    }
    return ticket, user


def _mails(r: dict[str, Any], turns: list[dict[str, Any]]) -> list[EmailMessage]:
    """The same conversation as RFC 5322 messages threaded by References."""
    out = []
    root = f"<{r['source_id']}.0@mail.synth>"
    customer = r.get("email") or "customer@unknown.invalid"
    for t in turns:
        message = EmailMessage()
        mid = f"<{r['source_id']}.{t['seq']}@mail.synth>"
        message["Message-ID"] = mid
        ts = t.get("ts") or r.get("started_at")
        from datetime import UTC

        message["Date"] = format_datetime(ts.replace(tzinfo=UTC))
        support = "support@cxlens.synth"
        message["From"] = customer if t.get("speaker") == "customer" else support
        message["To"] = support if t.get("speaker") == "customer" else customer
        message["Subject"] = (r.get("subject") or "(no subject)") if t["seq"] == 0 else \
            "Re: " + (r.get("subject") or "")
        if t["seq"] > 0:
            message["In-Reply-To"] = root
            message["References"] = root
        message.set_content(t.get("text") or "")
        out.append(message)
    return out


def emit_files(out_dir: Path, config: Any) -> dict[str, str]:
    """Write the synth data of ``config`` as vendor files under ``out_dir``.

    Returns ``{relative path: format}`` for every file written; ``manifest.json`` beside them
    holds the ingest commands (format, source, mapping) in load order.

    >>> from cxlens.synth import SynthConfig
    >>> files = emit_files(Path("src-files"), SynthConfig.checked(customers=100, days=7))  # doctest: +SKIP
    """
    from cxlens.synth import iter_batches

    out_dir.mkdir(parents=True, exist_ok=True)
    emitter = Emitter(out_dir)
    for table, data in iter_batches(config):
        if table.startswith("truth:") or data.num_rows == 0:
            continue
        emitter.add(table, data)
    manifest = emitter.close()
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False),
                                           encoding="utf-8")
    files = {m["path"]: m["format"] for m in manifest}
    files["mail/support.mbox"] = "email"
    return files


def ingest_manifest(ws: Any, out_dir: Path) -> list[dict[str, Any]]:
    """Ingest every file of ``manifest.json`` in order; returns the ingest results."""
    from cxlens.ingest import ingest

    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    results = []
    for item in manifest:
        path = out_dir / item["path"]
        if not path.exists() or path.stat().st_size == 0:
            continue
        mapping = out_dir / item["mapping"] if item.get("mapping") else None
        results.append(ingest(ws, path, item["format"], source=item["source"],
                              mapping=mapping).as_dict())
    return results
