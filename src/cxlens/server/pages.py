"""The web UI: server-rendered pages (Jinja2) with ECharts options embedded in the HTML."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cxlens import audit
from cxlens import users as users_mod
from cxlens.errors import CxlensError, NotFoundError
from cxlens.server import auth, dashboards, data, views
from cxlens.server.app import LANG_COOKIE, language, principal, require
from cxlens.server.filters import Filters
from cxlens.server.filters import parse as parse_filters
from cxlens.server.gate import Gate
from cxlens.server.i18n import translator

router = APIRouter(include_in_schema=False)

NAV = (
    ("overview", "/", "aggregates"),
    ("journeys", "/journeys", "aggregates"),
    ("customers", "/customers", "profile"),
    ("agents", "/agents", "aggregates"),
    ("quality", "/quality", "aggregates"),
    ("workforce", "/workforce", "aggregates"),
)
Text = Annotated[str | None, Query(max_length=80)]


def _gate(request: Request) -> Gate:
    return request.app.state.gate  # type: ignore[no-any-return]


def page_filters(
    request: Request,
    start: Text = None,
    end: Text = None,
    channel: Text = None,
    queue: Text = None,
    tier: Text = None,
) -> Filters:
    """Dependency: the page's filters, defaulting to the last 28 days that have data."""
    return parse_filters(start, end, channel, queue, tier, dashboards.period(_gate(request)))


def render(
    request: Request, template: str, page: str, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render ``template`` with what every page needs (labels, nav, filters, timing)."""
    lang = language(request)
    who: auth.Principal | None = getattr(request.state, "principal", None)
    query = dict(request.query_params)
    query["lang"] = "en" if lang == "zh" else "zh"
    ctx: dict[str, Any] = {
        "t": translator(lang),
        "lang": lang,
        "page": page,
        "who": who,
        "nav": [{"id": i, "href": h} for i, h, perm in NAV if who and who.can(perm)],
        "lang_query": urlencode(query),
        "keep": {},
        "options": {},
        "elapsed_ms": int((time.perf_counter() - request.state.t0) * 1000)
        if hasattr(request.state, "t0")
        else None,
    }
    ctx.update(context)
    templates = request.app.state.templates
    response: HTMLResponse = templates.TemplateResponse(request, template, ctx, status_code=status)
    if request.query_params.get("lang") == lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def _start(request: Request) -> None:
    request.state.t0 = time.perf_counter()


Timed = Depends(_start)


# -- log-in --------------------------------------------------------------------------------------
def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would let a phishing link bounce through our log-in.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(
    request: Request, target: str | None, status: int = 200, message: str = ""
) -> HTMLResponse:
    return render(
        request, "login.html", "login", status=status, next=_safe_next(target), message=message
    )


@router.get("/login")
def login_form(request: Request, next: Text = None) -> HTMLResponse:  # noqa: A002
    return _login_page(request, next)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "/",  # noqa: A002
) -> Response:
    gate = _gate(request)
    limiter: auth.LoginLimiter = request.app.state.limiter
    t = translator(language(request))
    if limiter.blocked(username):
        return _login_page(request, next, status=429, message=t("locked_out"))
    user = gate.users().get(username)
    ok = users_mod.verify_password(password, user["password_hash"] if user else None)
    if not ok or user is None or user["disabled"]:
        limiter.failed(username)
        return _login_page(request, next, status=401, message=t("bad_login"))
    limiter.succeeded(username)
    with gate.workspace() as ws:
        audit.record(ws, username, "login", username, "web")
    target = _safe_next(next)
    if target == "/" and not users_mod.allowed(user["role"], "aggregates"):
        target = "/customers"
    response = RedirectResponse(target, status_code=303)
    settings = gate.settings
    response.set_cookie(
        auth.SESSION_COOKIE,
        auth.make_session(request.app.state.session_key, user, settings.security.session_hours),
        max_age=int(settings.security.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=settings.server.cookie_secure,
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE)
    return response


# -- dashboards ----------------------------------------------------------------------------------
def _dashboard(request: Request, name: str, f: Filters) -> Response:
    gate = _gate(request)
    view = dashboards.dashboard(gate, name, f, language(request))
    return render(
        request, f"{name}.html", name, filters=f, options=dashboards.options(gate), view=view
    )


@router.get("/", dependencies=[Timed])
def overview_page(
    request: Request, who: auth.Principal = Depends(principal), f: Filters = Depends(page_filters)
) -> Response:
    if not who.can("aggregates"):
        return RedirectResponse("/customers", status_code=303)
    return _dashboard(request, "overview", f)


def _aggregate_page(name: str) -> Callable[..., Response]:
    """The handler of dashboard page ``/name`` (roles with the ``aggregates`` permission)."""

    def handler(
        request: Request,
        who: auth.Principal = require("aggregates"),
        f: Filters = Depends(page_filters),
    ) -> Response:
        return _dashboard(request, name, f)

    handler.__name__ = f"{name}_page"
    return handler


for _name in ("journeys", "agents", "workforce"):
    router.add_api_route(f"/{_name}", _aggregate_page(_name), methods=["GET"], dependencies=[Timed])


@router.get("/quality", dependencies=[Timed])
def quality_page(request: Request, who: auth.Principal = require("aggregates")) -> Response:
    view = dashboards.quality(_gate(request), language(request))
    return render(request, "quality.html", "quality", view=view)


@router.get("/contacts", dependencies=[Timed])
def contacts_page(
    request: Request,
    kpi: Annotated[str, Query(max_length=64)],
    who: auth.Principal = require("contacts"),
    f: Filters = Depends(page_filters),
) -> Response:
    gate = _gate(request)
    lang = language(request)
    view = dashboards.contacts(gate, kpi, f)
    catalog = dashboards.catalog(gate)
    csv_link = "/api/v1/contacts.csv?" + urlencode(f.query(kpi=kpi))
    return render(
        request,
        "contacts.html",
        "contacts",
        filters=f,
        options=dashboards.options(gate),
        view=view,
        keep={"kpi": kpi},
        kpi_label=data.kpi_label(kpi, lang, catalog),
        definition=catalog.get(kpi, {}).get("definition", ""),
        csv_link=csv_link,
        can_export=who.can("export"),
    )


@router.get("/customers", dependencies=[Timed])
def customers_page(
    request: Request,
    who: auth.Principal = require("profile"),
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    q = q.strip()
    if not q:
        return render(request, "customers.html", "customers", q="", profile=None, message="")
    gate = _gate(request)
    try:
        with gate.workspace() as ws:
            profile = views.customer_view(ws, q, who.username)
    except NotFoundError as exc:
        t = translator(language(request))
        return render(
            request,
            "customers.html",
            "customers",
            status=404,
            q=q,
            profile=None,
            message=t("no_customer") if "customer" in exc.message.lower() else str(exc),
        )
    except CxlensError as exc:
        return render(
            request, "customers.html", "customers", status=400, q=q, profile=None, message=str(exc)
        )
    return render(request, "customers.html", "customers", q=q, profile=profile, message="")


def warm(gate: Gate, languages: tuple[str, ...] = ("en", "zh")) -> int:
    """Compute the default view of every dashboard ahead of the first visitor (see
    :func:`cxlens.server.dashboards.warm`)."""
    return dashboards.warm(gate, languages)
