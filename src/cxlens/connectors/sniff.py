"""``--format auto``: pick the connector whose sniffer recognises the file."""

from __future__ import annotations

from pathlib import Path

from cxlens.errors import InputError


def sniff(path: Path) -> str:
    """The format name of ``path``; a clear error when nothing recognises it."""
    from cxlens.connectors import REGISTRY

    head = b""
    if path.is_file():
        with path.open("rb") as handle:
            head = handle.read(1 << 16)
    for name, connector in REGISTRY.items():
        if connector.sniff(path, head):
            return name
    raise InputError(f"cannot tell the format of {path.name}",
                     "pass --format (asterisk, freeswitch, amazon-connect, genesys, zendesk, "
                     "chatwoot, email, or mapped with --mapping)")
