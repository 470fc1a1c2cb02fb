"""How many exports one process streams at once.

An export holds a database connection of its own, in one repeatable-read transaction, for as long as its client
takes to read the file: seconds on a dashboard's network, minutes for a tablet on 2G. Without a cap, a dozen slow
downloads would hold every connection of the pool, and every other request would wait for one and answer 503; a long
snapshot also holds back vacuum. Past `REGISTRY_EXPORTS_AT_ONCE`, an export answers 503 with `Retry-After` before
anything is read, and the writes and reads beside it go on.
"""

from collections.abc import AsyncIterator, Callable, Mapping

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from kampungkb_shared.errors import ServiceUnavailable

RETRY_AFTER_S = 10
"""A national file streams in a second or two to a fast client; a slot held by a slow one frees later."""


class ExportSlots:
    """The exports streaming in this process, at most `size` (one event loop: a count is enough)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.streaming = 0

    def take(self) -> Callable[[], None]:
        """A slot, or 503 when every one is held; call what it returns, once, when the export has ended."""
        if self.streaming >= self.size:
            raise ServiceUnavailable(
                f"{self.size} exports are streaming from this server, the most it streams at once; retry later",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        self.streaming += 1
        released = False

        def give_back() -> None:
            nonlocal released
            if not released:
                released = True
                self.streaming -= 1

        return give_back


class SlotHoldingResponse(StreamingResponse):
    """A streamed export that gives its slot back when the response ends, however it ends: sent whole, the client
    gone before or during the body, or the database stopping it."""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        give_back: Callable[[], None],
        media_type: str,
        headers: Mapping[str, str],
    ) -> None:
        super().__init__(_giving_back(content, give_back), media_type=media_type, headers=headers)
        self._give_back = give_back

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._give_back()  # the body never started: the client was gone before the headers


async def _giving_back(content: AsyncIterator[bytes], give_back: Callable[[], None]) -> AsyncIterator[bytes]:
    """The body, giving the slot back as it ends: before the end of the response is sent, so that a client that has
    read one file to the end finds the slot free for its next."""
    try:
        async for chunk in content:
            yield chunk
    finally:
        give_back()
