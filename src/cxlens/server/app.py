"""The FastAPI application: web UI (Jinja2 + ECharts) and JSON API over one workspace.

>>> from cxlens.server import create_app
>>> app = create_app("demo-workspace")      # doctest: +SKIP
>>> import uvicorn; uvicorn.run(app)         # doctest: +SKIP

Open without a credential: ``/health``, the log-in form and ``/static`` (code and styles, no data).
Everything else needs a session cookie or an API key; see :mod:`cxlens.server.auth`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from cxlens import __version__
from cxlens.errors import CxlensError, InputError, NotFoundError, WorkspaceError
from cxlens.server import auth
from cxlens.server.gate import Gate, WarehouseBusy
from cxlens.server.i18n import LANGUAGES, translator

HERE = Path(__file__).parent
LANG_COOKIE = "cxlens_lang"
log = logging.getLogger("cxlens.server")


class Unauthenticated(Exception):
    """No valid credential came with the request."""


class Forbidden(Exception):
    """The credential is valid but its role lacks the permission."""

    def __init__(self, permission: str) -> None:
        super().__init__(permission)
        self.permission = permission


def wants_json(request: Request) -> bool:
    """API paths and non-browser clients get JSON errors; pages get HTML."""
    path = request.url.path
    if path.startswith("/api/") or path in {"/openapi.json", "/health"}:
        return True
    return "text/html" not in request.headers.get("accept", "")


def language(request: Request) -> str:
    """``?lang=`` wins, then the cookie, then the workspace's default language."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or ""
    if asked in LANGUAGES:
        return asked
    default = request.app.state.gate.settings.locale.default_language
    return default if default in LANGUAGES else "en"


def principal(request: Request) -> auth.Principal:
    """The authenticated caller (dependency); raises :class:`Unauthenticated`."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    gate: Gate = request.app.state.gate
    header = request.headers.get("authorization", "")
    key = request.headers.get("x-api-key", "")
    if header.lower().startswith("bearer "):
        key = header[7:].strip()
    found: auth.Principal | None = None
    if key:
        found = auth.principal_for_key(key, gate.users())
    else:
        cookie = request.cookies.get(auth.SESSION_COOKIE)
        if cookie:
            found = auth.read_session(request.app.state.session_key, cookie, gate.users())
    if found is None:
        raise Unauthenticated()
    request.state.principal = found
    return found


def require(permission: str) -> Any:
    """A dependency that lets through only principals holding ``permission``."""

    def check(who: auth.Principal = Depends(principal)) -> auth.Principal:
        if not who.can(permission):
            raise Forbidden(permission)
        return who

    return Depends(check)


def _error(
    request: Request,
    status: int,
    message: str,
    hint: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if wants_json(request):
        body: dict[str, Any] = {"error": message}
        if hint:
            body["hint"] = hint
        return JSONResponse(body, status_code=status, headers=headers)
    templates: Jinja2Templates = request.app.state.templates
    lang = language(request)
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "t": translator(lang),
            "lang": lang,
            "status": status,
            "message": message,
            "hint": hint,
            "who": getattr(request.state, "principal", None),
            "page": "error",
            "nav": [],
        },
        status_code=status,
        headers=headers,
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(request: Request, exc: Unauthenticated) -> Response:
        if wants_json(request):
            return JSONResponse(
                {
                    "error": "authentication required",
                    "hint": "log in, or send an API key as 'Authorization: Bearer <key>'",
                },
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import urlencode

        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        t = translator(language(request))
        return _error(request, 403, t("forbidden"), f"needs the {exc.permission!r} permission")

    @app.exception_handler(WarehouseBusy)
    async def _busy(request: Request, exc: WarehouseBusy) -> Response:
        return _error(request, 503, exc.message, exc.hint, headers={"Retry-After": "3"})

    @app.exception_handler(CxlensError)
    async def _cxlens(request: Request, exc: CxlensError) -> Response:
        status = (
            404
            if isinstance(exc, NotFoundError)
            else 400
            if isinstance(exc, InputError)
            else 503
            if isinstance(exc, WorkspaceError)
            else 400
        )
        return _error(request, status, exc.message, exc.hint)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in exc.errors()
        ]
        text = "; ".join(f"{p['where']}: {p['problem']}" for p in problems[:3])
        if wants_json(request):
            return JSONResponse(
                {"error": f"invalid request: {text}", "detail": problems}, status_code=422
            )
        return _error(request, 422, f"invalid request: {text}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        incident = uuid.uuid4().hex[:12]
        log.exception("unhandled error %s on %s", incident, request.url.path)
        return _error(request, 500, "internal error", f"incident {incident} is in the server log")


def _cell(value: Any, unit: str = "") -> str:
    """Table cell text: numbers formatted by unit, ISO timestamps shortened, long text cut."""
    from cxlens.server.data import fmt_value

    if value is None:
        return ""
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, int | float):
        return fmt_value(value, unit)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    if isinstance(value, list):
        # e.g. QA's top failed rules: [{"rule": "empathy", "rate": 0.22, ...}] → "empathy 22.2%"
        return "; ".join(
            f"{v.get('rule')} {float(v['rate']) * 100:.1f}%"
            if isinstance(v, dict) and "rule" in v and isinstance(v.get("rate"), int | float)
            else _cell(v)
            for v in value[:8]
        )
    text = str(value)
    if len(text) >= 19 and text[4] == "-" and text[10] == "T":
        return text[:16].replace("T", " ")
    return text if len(text) <= 160 else text[:157] + "…"


class ServerTiming:
    """ASGI middleware: ``Server-Timing: app;dur=<ms>`` on every response, the server's whole
    time to the first byte (auth, the view, template rendering), for benchmarks and browsers."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"server-timing" for k, _ in headers):
                    ms = int((time.perf_counter() - t0) * 1000)
                    headers.append((b"server-timing", f"app;dur={ms}".encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)


def create_app(workspace_path: Path | str, warm: bool = False) -> FastAPI:
    """Build the app for one workspace (the warehouse is opened per burst of requests).

    ``warm``: compute every page's default view in the background at start-up, so the first
    visitor does not wait for the aggregates (``cxlens serve`` does this).
    """
    gate = Gate(Path(workspace_path))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warm:
            import threading

            from cxlens.server.pages import warm as warm_views

            threading.Thread(
                target=warm_views, args=(gate,), name="cxlens-warm", daemon=True
            ).start()
        yield
        gate.close()

    app = FastAPI(
        title="cxlens API",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        description="Contact-centre KPIs, journeys, customer 360 and data quality. "
        "Authenticate with `Authorization: Bearer <key>` (`cxlens user key NAME`).",
    )
    app.state.gate = gate
    app.state.session_key = auth.session_key(gate.path, gate.settings.server.session_secret)
    app.state.limiter = auth.LoginLimiter(gate.settings.security.login_attempts)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["version"] = __version__
    templates.env.filters["fmt"] = _cell
    app.state.templates = templates
    _install_error_handlers(app)
    app.add_middleware(ServerTiming)

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "warehouse_open": gate.is_open}

    @app.get("/openapi.json", include_in_schema=False, dependencies=[require("docs")])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=[require("docs")])
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="cxlens API",
            swagger_js_url="/static/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui.css",
        )

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    from cxlens.server import api, pages

    app.include_router(pages.router)
    app.include_router(api.router)
    return app
