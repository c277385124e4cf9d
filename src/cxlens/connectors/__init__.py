"""Connectors: one module per source format and a registry (a plain dict name → connector).

>>> from cxlens.connectors import REGISTRY
>>> sorted(REGISTRY)  # doctest: +NORMALIZE_WHITESPACE
['amazon-connect', 'asterisk', 'chatwoot', 'email', 'freeswitch', 'genesys', 'mapped', 'zendesk']

A connector reads a file and yields :class:`~cxlens.connectors.base.Batch` objects (canonical
Arrow rows + quarantine rows); :func:`cxlens.ingest.ingest` writes them. ``auto`` is not a
connector: :func:`cxlens.connectors.sniff.sniff` picks one.
"""

from __future__ import annotations

from cxlens.connectors.amazon_connect import AmazonConnectConnector
from cxlens.connectors.asterisk import AsteriskConnector
from cxlens.connectors.base import Batch, Connector, ReadOptions
from cxlens.connectors.chatwoot import ChatwootConnector
from cxlens.connectors.email import EmailConnector
from cxlens.connectors.freeswitch import FreeSwitchConnector
from cxlens.connectors.genesys import GenesysConnector
from cxlens.connectors.mapped import MappedConnector
from cxlens.connectors.zendesk import ZendeskConnector
from cxlens.errors import NotFoundError

REGISTRY: dict[str, Connector] = {
    c.name: c for c in (
        AsteriskConnector(), FreeSwitchConnector(), AmazonConnectConnector(), GenesysConnector(),
        ZendeskConnector(), ChatwootConnector(), EmailConnector(), MappedConnector(),
    )
}
FORMATS = (*REGISTRY, "auto")


def get_connector(name: str) -> Connector:
    """The connector registered as ``name``; a clear error listing the known formats."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise NotFoundError(f"unknown format {name!r}",
                            f"use one of: {', '.join(FORMATS)}") from None


__all__ = ["FORMATS", "REGISTRY", "Batch", "Connector", "ReadOptions", "get_connector"]
