"""Journeys: a customer's contacts stitched into episodes across channels.

Stage entry: :func:`cxlens.journeys.stage.run`; the Ibis expressions live in
:mod:`cxlens.journeys.build`; scoring against synth truth in :mod:`cxlens.journeys.evaluate`.
"""

from __future__ import annotations
