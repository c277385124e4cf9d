"""zendesk connector (being written)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cxlens.connectors.base import Batch, ReadOptions


class ZendeskConnector:
    name = "zendesk"
    description = "zendesk"
    tables = ("interactions",)

    def sniff(self, path: Path, head: bytes) -> bool:
        return False

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        raise NotImplementedError
