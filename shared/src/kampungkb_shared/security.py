"""Security headers on every response of an HTTP service, the same in every service.

`install_security_headers` wraps the whole application (outside Starlette's error middleware), so that an
unexpected 500 carries the headers too. Every response gets `X-Content-Type-Options`, `Referrer-Policy`,
`X-Frame-Options` and a `Content-Security-Policy` that allows nothing (the API serves JSON, CSV, XLSX and NDJSON),
except the registry's dashboard, whose policy allows its own script, style sheet and charts, and the interactive
documentation, whose policy allows the Swagger UI and ReDoc assets FastAPI loads. The dashboard's referrer policy is
`same-origin`, not `no-referrer`: under `no-referrer` a browser names no origin on a form's POST (`Origin: null`),
and the dashboard's sign-in and sign-out accept only their own origin. `Strict-Transport-Security` is
off unless asked for: TLS ends at the Ingress, which knows the host names.
A response to a request that carries credentials is `Cache-Control: no-store`, so no shared cache keeps it.
"""

from typing import TYPE_CHECKING

from kampungkb_shared.observability import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from starlette.applications import Starlette

API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
"""Nothing may load, nothing may frame a response."""

DOCS_POLICY = (
    "default-src 'none'; "
    "script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; "
    "font-src 'self' data:; "
    "img-src 'self' data:; "
    "connect-src 'self'; worker-src blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
"""The documentation pages (Swagger UI and ReDoc, served by the service itself): their inline start-up script and
their own assets, nothing from elsewhere."""

DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})

DASHBOARD_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""The registry's dashboard pages: only their own script, style sheet and charts, served by the service itself."""

DASHBOARD_PREFIX = "/dashboard"
DASHBOARD_REFERRER = b"same-origin"
"""A browser sends a dashboard form's POST with the page's origin, and another site never a referrer."""

CREDENTIAL_HEADERS = frozenset({b"authorization", b"x-api-key"})


class SecurityHeadersMiddleware:
    """Pure ASGI middleware: adds the security headers to each HTTP response (a header the app set stays)."""

    def __init__(self, app: ASGIApp, *, hsts_max_age_s: int = 0) -> None:
        self.app = app
        self.common: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        if hsts_max_age_s > 0:
            self.common.append((b"strict-transport-security", f"max-age={hsts_max_age_s}; includeSubDomains".encode()))
        self.dashboard = [
            (name, DASHBOARD_REFERRER if name == b"referrer-policy" else value) for name, value in self.common
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        policy = DOCS_POLICY if path in DOCS_PATHS else API_POLICY
        common = self.common
        if path == DASHBOARD_PREFIX or path.startswith(DASHBOARD_PREFIX + "/"):
            policy, common = DASHBOARD_POLICY, self.dashboard
        added = [*common, (b"content-security-policy", policy.encode())]
        credentials = any(name in CREDENTIAL_HEADERS for name, _ in scope["headers"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if not (credentials and name.lower() == b"cache-control")
                ]
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in added if name not in present)
                if credentials:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security_headers(app: "Starlette", *, hsts_max_age_s: int = 0) -> None:
    """Put `SecurityHeadersMiddleware` around the whole app, error responses included (`add_middleware` would place
    it inside Starlette's error middleware, whose 500 would go out without the headers)."""
    build = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        return SecurityHeadersMiddleware(build(), hsts_max_age_s=hsts_max_age_s)

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]
