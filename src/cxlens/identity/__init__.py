"""Identity resolution: which source records belong to the same person.

The stage entry is :func:`cxlens.identity.stage.run`; the graph maths lives in
:mod:`cxlens.identity.graph`, stable keys in :mod:`cxlens.identity.keys`, Splink matching in
:mod:`cxlens.identity.fuzzy`, scoring against synth truth in :mod:`cxlens.identity.evaluate`.
"""
