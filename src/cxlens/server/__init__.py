"""The web UI and JSON API (`cxlens serve`). See docs/web.md and docs/api.md."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["create_app"]


def create_app(workspace_path: Any, warm: bool = False) -> FastAPI:
    """Build the FastAPI app for the workspace at ``workspace_path`` (see server.app)."""
    from cxlens.server.app import create_app as _create

    return _create(workspace_path, warm=warm)
