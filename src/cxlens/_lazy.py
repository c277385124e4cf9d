"""Lazy package exports: ``import cxlens.qa`` must not load numpy, scipy, jieba or pocketsphinx.

A package lists where each public name lives and gets a module ``__getattr__`` that imports the
defining module on first use::

    __getattr__ = lazy_exports(__name__, {"scorecards": "cxlens.qa.cards"})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` resolving ``where[name]`` on first access (PEP 562)."""

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(where[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
