"""The officer's page: server-rendered HTML, outside the OpenAPI document (it is a page, not an API)."""

from collections.abc import Callable, Coroutine
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from kampungkb_shared.errors import AppError, Forbidden, Unauthorized
from kampungkb_shared.problems import validation_problem
from kampungkb_shared.regions import NATION_CODE
from registry_api.auth import sessions
from registry_api.auth.deps import dashboard_reader, limited_client
from registry_api.auth.service import Principal, authenticate
from registry_api.charts import service as charts
from registry_api.charts.labels import Lang, tier_label, word
from registry_api.charts.router import chart_response
from registry_api.dashboard import service
from registry_api.dashboard.labels import Translate
from registry_api.db import SessionDep
from registry_api.reports import export
from registry_api.reports import service as reports
from registry_api.reports.spans import ReportPeriod
from registry_api.settings import Settings

HERE = FilePath(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
static = StaticFiles(directory=HERE / "static")

COOKIE = "kkb_dashboard"
"""Holds the token of the officer's session (`auth.sessions`), never the API key signed in with: HttpOnly (no script
reads it), SameSite=Strict (no other site sends it), Secure over HTTPS, limited to `/dashboard`, gone when the
browser closes. The session ends on the server at sign-out, after `REGISTRY_DASHBOARD_SESSION_HOURS`, or when its key
is revoked or expires; the API does not take the token."""
PAGE_CACHE = "private, no-store"
"""A page may show what only the signed-in officer may read."""

PeriodQuery = Annotated[ReportPeriod | None, Query()]
LangQuery = Annotated[Lang, Query()]
ModuleQuery = Annotated[charts.Module, Query()]
CHARTS: tuple[charts.ChartName, ...] = ("tiers", "trend", "reporting", "kkbpk")
MODULES: tuple[charts.Module, ...] = ("kkbpk", "kependudukan", "profil")
"""The modules the reporting chart shows, the monthly report first (the default: profil is carried over month to
month, so its own month is rarely written)."""
NARROW_MEDIA = "(max-width: 600px)"
"""Where the page shows the charts drawn `narrow`."""
ERROR_WORDS = {401: "error_401", 403: "error_403", 404: "error_404", 422: "error_422", 429: "error_429"}


def _page_lang(request: Request) -> Lang:
    asked = request.query_params.get("lang")
    return "en" if asked == "en" else "id"


def _error_page(request: Request, exc: AppError | RequestValidationError) -> Response:
    """An error of a dashboard route as a page in the page's language, with the status (and headers, such as
    `Retry-After`) the API would answer; the problem's detail (English) below it."""
    error = validation_problem(exc) if isinstance(exc, RequestValidationError) else exc  # as the API names it
    status, headers, detail = error.status, error.headers, error.detail
    lang = _page_lang(request)
    context = {
        "t": Translate(lang),
        "lang": lang,
        "principal": None,
        "status": status,
        "message": ERROR_WORDS.get(status, "error_other"),
        "detail": detail,
    }
    response = templates.TemplateResponse(request, "error.html", context, status_code=status, headers=headers)
    response.headers["Cache-Control"] = PAGE_CACHE
    return response


class PageRoute(APIRoute):
    """A dashboard route: what the API would answer as problem+json (an unknown region, a period not written
    YYYY-MM, a refused key) is a page here, with the same status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except (AppError, RequestValidationError) as exc:
                return _error_page(request, exc)

        return page_handler


router = APIRouter(prefix="/dashboard", include_in_schema=False, route_class=PageRoute)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _reader(request: Request, session: SessionDep) -> Principal | None:
    return await dashboard_reader(request, session, request.cookies.get(COOKIE))


def _forget(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/dashboard", httponly=True, samesite="strict")


def _login(request: Request, *, lang: Lang, target: str, failed: bool = False, status: int = 401) -> Response:
    context = {"t": Translate(lang), "lang": lang, "next": target, "failed": failed, "principal": None}
    response = templates.TemplateResponse(request, "login.html", context, status_code=status)
    response.headers["Cache-Control"] = PAGE_CACHE
    return response


def _check_same_origin(request: Request) -> None:
    """403 for a form sent from another site, so that a page elsewhere can neither sign a visitor into a key of its
    choosing nor sign one out. A browser says where a request comes from in `Sec-Fetch-Site`; one too old for it, by
    its `Origin` (the pages' `Referrer-Policy: same-origin` lets a browser name its own there, where `no-referrer`
    makes it `null`). A client that sends neither is no browser acting for another site."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site not in ("same-origin", "none"):
            raise Forbidden(f"a form of the dashboard is sent from the dashboard, not from a {site} page")
        return
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise Forbidden(f"a form of the dashboard is sent from the dashboard, not from {origin}")


async def _default_period(request: Request, session: SessionDep, ruleset: str | None) -> str:
    """The period a page opens on when none is named (`service.default_period`)."""
    settings = _settings(request)
    computed = await service.computed_months(session, ruleset=ruleset or settings.primary_ruleset)
    return service.default_period(computed, reporting=service.reporting_month(settings))


def _safe_target(target: str) -> str:
    """Only a path of the dashboard: a sign-in never sends the browser elsewhere."""
    return target if target.startswith("/dashboard/") and not target.startswith("//") else "/dashboard/"


async def _page(
    request: Request,
    session: SessionDep,
    *,
    code: str,
    period: str | None,
    ruleset: str | None,
    lang: Lang,
    module: charts.Module,
) -> Response:
    try:
        principal = await _reader(request, session)
    except Unauthorized:
        asked = _login(request, lang=lang, target=str(request.url.path) + "?" + request.url.query)
        if COOKIE in request.cookies:  # a session that has ended, or a cookie of before sessions
            _forget(asked)
        return asked
    page = await service.load(
        session,
        code=code,
        period=period,
        ruleset=ruleset,
        principal=principal,
        settings=_settings(request),
        classifier=request.app.state.classifier,
        module=module,
        lang=lang,
    )

    def link(target: str, **changes: str) -> str:
        """A dashboard URL of `target` keeping the period, rule set, language and module unless changed."""
        params = {"period": page.period, "ruleset": page.ruleset, "lang": lang, "module": page.module, **changes}
        return f"/dashboard/{target}?{urlencode(params)}"

    def chart_src(chart: str, size: charts.PageSize) -> str:
        params = {"period": page.period, "ruleset": page.ruleset, "lang": lang, "size": size}
        if chart == "reporting":
            params["module"] = page.module
        return f"/dashboard/{page.code}/charts/{chart}.svg?{urlencode(params)}"

    context = {
        "t": Translate(lang),
        "lang": lang,
        "page": page,
        "report": page.report,
        "principal": principal,
        "rulesets": _settings(request).rulesets,
        "link": link,
        "login_href": "/dashboard/login?" + urlencode({"lang": lang, "next": link(page.code)}),
        "tier_label": lambda tier: tier_label(tier, lang) if tier else "",
        "charts": CHARTS,
        "chart_src": chart_src,
        "sizes": charts.PAGE_SIZES,
        "narrow_media": NARROW_MEDIA,
        "modules": MODULES,
        "module_word": lambda module: word(module, lang),
    }
    status = 200 if page.report is not None else 404
    response = templates.TemplateResponse(request, "page.html", context, status_code=status)
    response.headers["Cache-Control"] = PAGE_CACHE
    return response


@router.get("/", response_class=HTMLResponse)
async def nation_page(
    request: Request,
    session: SessionDep,
    period: PeriodQuery = None,
    ruleset: str | None = None,
    lang: LangQuery = "id",
    module: ModuleQuery = "kkbpk",
) -> Response:
    """The nation's page."""
    return await _page(request, session, code=NATION_CODE, period=period, ruleset=ruleset, lang=lang, module=module)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, lang: LangQuery = "id", next: str = "/dashboard/") -> Response:
    """The sign-in form."""
    return _login(request, lang=lang, target=_safe_target(next), status=200)


@router.post("/login")
async def login(
    request: Request,
    session: SessionDep,
    key: Annotated[str, Form(min_length=1, max_length=200)],
    next: Annotated[str, Form()] = "/dashboard/",
    lang: Annotated[Lang, Form()] = "id",
) -> Response:
    """Check the key, open a session of it (ending the browser's previous one), keep the session's token in the
    cookie and go back to the page. A refused key counts against the client's address, as one presented to the API
    does."""
    _check_same_origin(request)
    try:
        principal = await authenticate(session, key.strip())
    except Unauthorized:
        await limited_client(request)
        return _login(request, lang=lang, target=_safe_target(next), failed=True)
    if previous := request.cookies.get(COOKIE):
        await sessions.sign_out(session, token=previous)
    token = await sessions.sign_in(session, principal=principal, hours=_settings(request).dashboard_session_hours)
    response = RedirectResponse(_safe_target(next), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/dashboard",
    )
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep, lang: Annotated[Lang, Form()] = "id") -> Response:
    """End the session on the server (its token is refused from now on) and forget the cookie."""
    _check_same_origin(request)
    if token := request.cookies.get(COOKIE):
        await sessions.sign_out(session, token=token)
    response = RedirectResponse(f"/dashboard/?lang={lang}", status_code=303)
    _forget(response)
    return response


@router.get("/{code}", response_class=HTMLResponse)
async def region_page(
    request: Request,
    session: SessionDep,
    code: str,
    period: PeriodQuery = None,
    ruleset: str | None = None,
    lang: LangQuery = "id",
    module: ModuleQuery = "kkbpk",
) -> Response:
    """A region's page: figures, targets, charts, children down to the desa, the list to chase, downloads."""
    return await _page(request, session, code=code, period=period, ruleset=ruleset, lang=lang, module=module)


@router.get("/{code}/charts/{chart}.svg")
async def page_chart(
    request: Request,
    session: SessionDep,
    code: str,
    chart: Annotated[charts.ChartName, Path()],
    period: PeriodQuery = None,
    ruleset: str | None = None,
    lang: LangQuery = "id",
    module: ModuleQuery = "kkbpk",
    size: Annotated[charts.PageSize, Query()] = "wide",
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """A chart of the page, read with the page's session, drawn at the page's `size` (text legible where shown)."""
    await _reader(request, session)
    response = await chart_response(
        request,
        session,
        chart=chart,
        code=code,
        period=period or await _default_period(request, session, ruleset),
        ruleset=ruleset,
        lang=lang,
        module=module,
        if_none_match=if_none_match,
        size=charts.PAGE_SIZES[size],
    )
    response.headers["Cache-Control"] = "private, no-cache"
    # On a 304 too: a browser keeps the headers of a revalidation, and the page's policy would block the SVG's styles.
    response.headers["Content-Security-Policy"] = charts.SVG_POLICY
    return response


@router.get("/{code}/export.{format}")
async def page_export(
    request: Request,
    session: SessionDep,
    code: str,
    format: Literal["csv", "xlsx"],
    period: PeriodQuery = None,
    ruleset: str | None = None,
) -> Response:
    """The children table of the page as CSV or XLSX, as `GET /v1/reports/{code}/export` gives it."""
    await _reader(request, session)
    settings = _settings(request)
    report = await reports.get_report(
        session,
        code=code,
        period=period or await _default_period(request, session, ruleset),
        ruleset=ruleset or settings.primary_ruleset,
        rulesets=settings.rulesets,
        closing=settings.closing(),
    )
    body, media_type, disposition = export.as_file(report, format)
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})
