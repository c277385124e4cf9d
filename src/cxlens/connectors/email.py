"""E-mail → ``interactions`` (channel ``email``): a folder of ``.eml`` files or an ``mbox``.

Per RFC 5322 / 2045: ``Message-ID`` (source_id; a content hash when missing), ``Date``
(explicit offset honoured), ``From``, ``To``, ``Subject`` (RFC 2047 words decoded),
``In-Reply-To`` and ``References``; the body is the first ``text/plain`` part (or the HTML part
with tags stripped), decoded with its declared charset (GB2312/GBK/Big5 mail is common).

Threads: messages linked by ``References``/``In-Reply-To`` get one ``thread_id`` — the
Message-ID of the thread's root (union-find over the file, so order does not matter).
Direction: the *support addresses* are the ``To`` addresses of messages that start a thread
(customers write to support); a message from a support address is ``outbound`` (its customer is
its ``To``), any other is ``inbound`` (its customer is its ``From``).
"""

from __future__ import annotations

import hashlib
import mailbox
import re
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any

from cxlens.connectors.base import Batch, ReadOptions
from cxlens.connectors.jsonio import JsonRecord
from cxlens.connectors.records import Reject, Rows, batches_from_records
from cxlens.errors import InputError

_ID = re.compile(r"<([^<>\s]+)>")
_TAG = re.compile(r"<[^>]+>")


class EmailConnector:
    name = "email"
    description = "E-mail: a folder of .eml files or an mbox file (threads by References)"
    tables = ("interactions",)

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return any(path.glob("*.eml"))
        if path.suffix.lower() in (".eml", ".mbox"):
            return True
        return head.startswith(b"From ") and b"\nMessage-ID:" in head[:65536] or (
            head[:4096].lower().count(b"\nsubject:") >= 1 and b"\nfrom:" in head[:4096].lower()
            and head[:5].lower() in (b"retur", b"recei", b"from:", b"messa", b"date:"))

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        messages = list(_iter_messages(path))
        parsed: list[tuple[str, dict[str, Any] | None, str | None, bytes]] = []
        for locator, raw in messages:
            try:
                info = _parse(raw)
                parsed.append((locator, info, None, raw))
            except Reject as exc:
                parsed.append((locator, None, str(exc), raw))
        threads = _threads([p[1] for p in parsed if p[1] is not None])
        support = _support_addresses([p[1] for p in parsed if p[1] is not None])
        size = sum(len(p[3]) for p in parsed)
        records = []
        for locator, info, error, raw in parsed:
            if info is None:
                records.append(JsonRecord(locator, None, raw.decode("utf-8", "replace"),
                                          error, size))
                continue
            info["thread_id"] = threads.get(info["message_id"], info["message_id"])
            info["support"] = support
            records.append(JsonRecord(locator, info, "", None, size))
        yield from batches_from_records(records, to_rows, "interactions", options)


def _iter_messages(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in
                       (".eml", ".msg", ".txt", ""))
        if not files:
            raise InputError(f"{path} holds no .eml files")
        for file in files:
            yield str(file.relative_to(path)), file.read_bytes()
        return
    with path.open("rb") as handle:
        head = handle.read(5)
    if head == b"From ":
        box = mailbox.mbox(str(path), create=False)
        try:
            for index, key in enumerate(box.iterkeys()):
                yield f"{path.name}#{index}", box.get_bytes(key)
        finally:
            box.close()
    else:
        yield path.name, path.read_bytes()


def _ids(value: Any) -> list[str]:
    return _ID.findall(str(value or ""))


def _body(message: EmailMessage) -> str | None:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return None
    try:
        text = part.get_content()
    except (LookupError, UnicodeDecodeError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        text = payload.decode("gb18030", "replace") if isinstance(payload, bytes) else str(payload)
    if part.get_content_subtype() == "html":
        text = _TAG.sub(" ", text)
    return text.strip() or None


def _parse(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise Reject("empty message")
    if b"\x00" in raw[:1024]:
        raise Reject("binary data, not an e-mail message")
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if not message.keys():
        raise Reject("no e-mail headers")
    try:
        date_header = message["Date"]
        sent = parsedate_to_datetime(str(date_header)) if date_header else None
    except (TypeError, ValueError, IndexError):
        raise Reject(f"unparseable Date header {message['Date']!r}") from None
    if sent is None:
        raise Reject("missing Date header")
    try:
        senders = getaddresses([str(message.get("From", ""))])
        recipients = getaddresses([str(v) for v in message.get_all("To", [])])
    except (TypeError, ValueError, IndexError):
        raise Reject("unparseable address header") from None
    ids = _ids(message.get("Message-ID"))
    message_id = ids[0] if ids else "sha1:" + hashlib.sha1(raw).hexdigest()
    refs = _ids(message.get("References")) + _ids(message.get("In-Reply-To"))
    return {
        "message_id": message_id,
        "refs": refs,
        "sent": sent.isoformat(),
        "from": (senders[0][1].lower(), senders[0][0]) if senders and senders[0][1] else ("", ""),
        "to": [(a.lower(), n) for n, a in recipients if a],
        "subject": str(message.get("Subject", "")) or None,
        "body": _body(message),
    }


def _threads(infos: list[dict[str, Any]]) -> dict[str, str]:
    """Message-ID → thread id. Messages linked by References/In-Reply-To form one thread
    (union-find, so file order does not matter); the thread is named after its root: the id
    most often first in its members' References (RFC 5322 puts the root first), else its
    earliest message."""
    from collections import Counter

    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for info in infos:
        find(info["message_id"])
        for ref in info["refs"]:
            a, b = find(info["message_id"]), find(ref)
            if a != b:
                parent[a] = b
    first_refs: dict[str, Counter[str]] = {}
    earliest: dict[str, tuple[str, str]] = {}
    for info in infos:
        root = find(info["message_id"])
        if info["refs"]:
            first_refs.setdefault(root, Counter())[info["refs"][0]] += 1
        when = (info["sent"], info["message_id"])
        if root not in earliest or when < earliest[root]:
            earliest[root] = when
    names = {root: (refs.most_common(1)[0][0] if (refs := first_refs.get(root)) else
                    earliest[root][1]) for root in earliest}
    return {info["message_id"]: names[find(info["message_id"])] for info in infos}


def _support_addresses(infos: list[dict[str, Any]]) -> set[str]:
    roots = [i for i in infos if not i["refs"]]
    return {addr for info in roots for addr, _ in info["to"]}


def to_rows(info: dict[str, Any]) -> Rows:
    sender, sender_name = info["from"]
    outbound = sender in info["support"]
    customer, name = (info["to"][0] if info["to"] else ("", "")) if outbound else (
        sender, sender_name)
    row = {
        "source_id": info["message_id"],
        "channel": "email",
        "direction": "outbound" if outbound else "inbound",
        "started_at": info["sent"],
        "subject": info["subject"],
        "text": info["body"],
        "email": customer or None,
        "contact_name": name or None,
        "thread_id": info["thread_id"],
        "agent_id": sender if outbound else None,
    }
    return {"interactions": [row]}
