"""Entity tags: a resource's version as `ETag`, checked against `If-Match` on writes and `If-None-Match` on reads."""

import hashlib

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kampungkb_shared.errors import PreconditionFailed


def etag(version: int) -> str:
    return f'"v{version}"'


def content_etag(content: bytes) -> str:
    """A strong tag of a representation that has no version number: a hash of its bytes."""
    return f'"{hashlib.blake2b(content, digest_size=12).hexdigest()}"'


def _tags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


def check_if_match(if_match: str | None, version: int) -> None:
    """Pass when there is no `If-Match`, or when it names the current version (or `*`); otherwise 412."""
    if if_match is not None and not matches(if_match, etag(version)):
        raise PreconditionFailed(f"If-Match {if_match} does not match the current version {etag(version)}")


def matches(if_match: str, current: str) -> bool:
    """Whether `If-Match` names the current tag (strong comparison of the tags' values) or is `*`."""
    tags = _tags(if_match)
    return "*" in tags or current in tags


def none_match(if_none_match: str, current: str) -> bool:
    """False when `If-None-Match` names the current tag (weak comparison, RFC 9110 13.1.2) or is `*`."""
    tags = _tags(if_none_match)
    return "*" not in tags and current.removeprefix("W/") not in tags


_KEPT_ON_304 = {b"etag", b"cache-control", b"vary", b"content-location", b"date", b"expires", b"x-request-id"}


class NotModifiedMiddleware:
    """`ETag` and `304 Not Modified` for every read answered whole: one mechanism for every single resource.

    A route that has a version number sets `ETag` itself; a 200 to a `GET` without one, whose body comes in one
    piece, is tagged here with a hash of its bytes (`content_etag`). A `GET` or `HEAD` whose `If-None-Match` names
    the tag gets a 304 and the body is dropped, so that a phone that has the current version pays only the headers.
    A streamed answer (a CSV or NDJSON export) passes as it comes, untagged unless its route tagged it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in {"GET", "HEAD"}:
            await self.app(scope, receive, send)
            return
        if_none_match = Headers(scope=scope).get("if-none-match")
        tags_content = scope["method"] == "GET"  # a HEAD's body is empty: it is tagged only by its route
        if if_none_match is None and not tags_content:
            await self.app(scope, receive, send)
            return
        held: Message | None = None  # the start of a 200 without a tag, until its body says whether it comes whole
        not_modified = False

        async def not_modified_or(start: Message, tag: str, *, body: Message | None = None) -> None:
            nonlocal not_modified
            if if_none_match is not None and not none_match(if_none_match, tag):
                not_modified = True
                headers = [(name, value) for name, value in start["headers"] if name.lower() in _KEPT_ON_304]
                await send({"type": "http.response.start", "status": 304, "headers": headers})
                await send({"type": "http.response.body", "body": b""})
                return
            await send(start)
            if body is not None:
                await send(body)

        async def send_tagged(message: Message) -> None:
            nonlocal held
            if not_modified:
                return
            if message["type"] == "http.response.start" and message["status"] == 200:
                current = Headers(raw=message["headers"]).get("etag")
                if current is not None:
                    await not_modified_or(message, current)
                elif tags_content:
                    held = message
                else:
                    await send(message)
                return
            if held is not None and message["type"] == "http.response.body":
                start, held = held, None
                if message.get("more_body", False):
                    await send(start)
                    await send(message)
                    return
                tag = content_etag(message.get("body", b""))
                tagged = {**start, "headers": [*start["headers"], (b"etag", tag.encode())]}
                await not_modified_or(tagged, tag, body=message)
                return
            await send(message)

        await self.app(scope, receive, send_tagged)
