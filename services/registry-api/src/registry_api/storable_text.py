"""Text PostgreSQL cannot store: a NUL character (`\\u0000` in JSON, `%00` in a URL) or half of a surrogate pair.

Neither fits in a `text` or `jsonb` value (PostgreSQL refuses the first, the driver cannot encode the second), so a
request carrying either in its path, its query or a JSON or form body is refused at the door with a 422 naming the
field, before any handler or statement runs; an import's NDJSON row carrying either is that row's error
(`imports.reading`). A CSV body cannot carry them: a NUL byte makes it binary, and UTF-8 has no surrogates.
"""

import json
import re
from collections.abc import Iterator
from urllib.parse import parse_qsl

from kampungkb_shared.errors import Unprocessable
from kampungkb_shared.observability import ASGIApp, Message, Receive, Scope, Send
from kampungkb_shared.problems import problem_response

MESSAGE = "holds a NUL character or half of a surrogate pair, which cannot be stored"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# In a JSON body, the escapes that may decode to either (a pair of surrogate escapes decodes to one character, which is
# stored like any other; `unstorable` tells them apart).
_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_FORM = b"application/x-www-form-urlencoded"

Loc = list[str | int]


Place = tuple["Place", str | int] | None
"""Where a value is: the place of its container and its key or index there (None: the document itself)."""


def unstorable(data: object) -> Loc | None:
    """Where the first unstorable text is in decoded JSON (the keys and indexes down to it), or None. Depth first, in
    document order, without recursion (a body may nest as deep as its decoder allows), holding only the containers
    on the way down and their places: what a body costs to walk never grows with its size or its depth squared."""
    if isinstance(data, str):
        return [] if _UNSTORABLE.search(data) else None
    way_down: list[tuple[Place, Iterator[tuple[str | int, object]]]] = [(None, _members(data))]
    while way_down:
        place, members = way_down[-1]
        for step, value in members:
            if isinstance(step, str) and _UNSTORABLE.search(step):
                return _loc((place, step))
            if isinstance(value, str):
                if _UNSTORABLE.search(value):
                    return _loc((place, step))
            elif value and isinstance(value, dict | list):
                way_down.append(((place, step), _members(value)))
                break
        else:
            way_down.pop()
    return None


def _members(value: object) -> Iterator[tuple[str | int, object]]:
    """The keys and values of an object, the indexes and items of an array, in document order; nothing else."""
    if isinstance(value, dict):
        return iter(value.items())
    if isinstance(value, list):
        return enumerate(value)
    return iter(())


def _loc(place: Place) -> Loc:
    steps: Loc = []
    while place is not None:
        place, step = place
        steps.append(step)
    return steps[::-1]


def _in_form(encoded: bytes) -> str | None:
    """The name of the first field of a URL-encoded query or form whose name or value holds a NUL, or None."""
    if b"%00" not in encoded and b"\x00" not in encoded:
        return None
    for name, value in parse_qsl(encoded.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "")
    return None


def _in_target(scope: Scope) -> Loc | None:
    """Where the first unstorable text is in the path or the query string, or None."""
    if _UNSTORABLE.search(scope["path"]):
        return ["path"]
    name = _in_form(scope["query_string"])
    return None if name is None else ["query", name]


def _in_body(content_type: bytes, body: bytes) -> Loc | None:
    """Where the first unstorable text is in a JSON or URL-encoded body, or None."""
    if content_type.startswith(_FORM):
        name = _in_form(body)
        return None if name is None else ["body", name]
    if not _ESCAPE.search(body):
        return None
    try:
        data = json.loads(body)  # as the endpoint decodes it: the standard library keeps an unpaired surrogate
    except (ValueError, RecursionError):
        return None  # not JSON, or nested deeper than it reads: the endpoint says so
    loc = unstorable(data)
    return None if loc is None else ["body", *loc]


def _read_here(content_type: bytes) -> bool:
    """Whether a body of this type is looked at here: JSON (not NDJSON, whose rows the import checks) and forms."""
    return (b"json" in content_type and b"ndjson" not in content_type) or content_type.startswith(_FORM)


class StorableTextMiddleware:
    """422 for a request whose path, query, JSON or form body holds text that cannot be stored (see the module).

    Bodies under `bulk_paths` (imports: CSV or NDJSON, whose rows are checked one by one as they are read, up to
    hundreds of megabytes) are passed on unread."""

    def __init__(self, app: ASGIApp, *, bulk_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.bulk_paths = bulk_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if (loc := _in_target(scope)) is not None:
            await self._refuse(loc, scope, receive, send)
            return
        content_type = next((value for name, value in scope["headers"] if name == b"content-type"), b"").lower()
        if (
            scope["method"] in ("GET", "HEAD")
            or not _read_here(content_type)
            or scope["path"].startswith(self.bulk_paths)
        ):
            await self.app(scope, receive, send)
            return
        # The body is read whole here (the endpoint reads it whole anyway), looked at, then handed on as it came.
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before its body was whole: nobody to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if (loc := _in_body(content_type, body)) is not None:
            await self._refuse(loc, scope, receive, send)
            return
        replay: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

        async def replaying_receive() -> Message:
            return replay.pop() if replay else await receive()

        await self.app(scope, replaying_receive, send)

    @staticmethod
    async def _refuse(loc: Loc, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(Unprocessable.field(loc, MESSAGE).problem())
        await response(scope, receive, send)
