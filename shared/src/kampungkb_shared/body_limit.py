"""Request bodies have a size limit (413): checked on Content-Length before reading, and counted while streaming."""

from kampungkb_shared.errors import PayloadTooLarge
from kampungkb_shared.observability import ASGIApp, Message, Receive, Scope, Send
from kampungkb_shared.problems import problem_response


class BodyLimitMiddleware:
    """Rejects bodies over `default_limit` bytes, or over `limits[prefix]` for paths under a prefix."""

    def __init__(self, app: ASGIApp, *, default_limit: int, limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = limits or {}

    def _limit(self, path: str) -> int:
        return next((limit for prefix, limit in self.limits.items() if path.startswith(prefix)), self.default_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        length = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        if length is not None and length.isdigit() and int(length) > limit:
            await self._reject(scope, receive, send, limit)
            return
        received = 0
        response_started = False
        exceeded = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise PayloadTooLarge(f"request body over the limit of {limit} bytes")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if exceeded:
                # FastAPI answers a failed body read with its own 400; the client is owed the 413.
                if not response_started:
                    response_started = True
                    await self._reject(scope, receive, send, limit)
                return
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except PayloadTooLarge:
            if not response_started:
                await self._reject(scope, receive, send, limit)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(PayloadTooLarge(f"request body over the limit of {limit} bytes").problem())
        await response(scope, receive, send)
