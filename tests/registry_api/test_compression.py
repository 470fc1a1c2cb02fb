"""gzip keeps a streamed answer streaming: each chunk leaves compressed and readable before the next one exists."""

import asyncio
import zlib
from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse

from registry_api.main import create_app
from registry_api.settings import Settings


async def test_a_streamed_ndjson_answer_is_compressed_chunk_by_chunk(settings: Settings) -> None:
    app = create_app(settings)
    first_line_arrived = asyncio.Event()
    lines = [b'{"n": %d, "padding": "%s"}\n' % (n, b"x" * 2000) for n in range(3)]

    async def body() -> AsyncIterator[bytes]:
        for line in lines:
            yield line
            await first_line_arrived.wait()  # the next line exists only once the client has read the first

    @app.get("/stream-probe", include_in_schema=False)
    async def probe() -> StreamingResponse:
        return StreamingResponse(body(), media_type="application/x-ndjson")

    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    received = bytearray()
    headers: dict[bytes, bytes] = {}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            headers.update(message["headers"])  # type: ignore[arg-type]
        elif message["type"] == "http.response.body":
            received.extend(inflate.decompress(message.get("body", b"")))  # type: ignore[arg-type]
            if received.startswith(lines[0]):
                first_line_arrived.set()

    requests = [{"type": "http.request", "body": b"", "more_body": False}]
    never_disconnected = asyncio.Event()

    async def receive() -> dict[str, object]:
        if requests:
            return requests.pop()
        await never_disconnected.wait()  # the client stays connected
        return {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/stream-probe",
        "raw_path": b"/stream-probe",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"registry.test"), (b"accept-encoding", b"gzip")],
        "client": ("127.0.0.1", 1),
        "server": ("registry.test", 80),
    }
    # Were the first chunk held back until the stream ends, the stream would wait forever: bounded, it fails instead.
    await asyncio.wait_for(app(scope, receive, send), timeout=30)
    assert headers[b"content-encoding"] == b"gzip"
    assert bytes(received) == b"".join(lines)
