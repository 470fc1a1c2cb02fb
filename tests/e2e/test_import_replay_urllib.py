"""A replayed import (same `Idempotency-Key`) sent by a client that reads its response only once its whole body is
sent (Python's `urllib`): the registry reads the body to its end before answering, so the client gets the first job
rather than a connection reset under its upload."""

import asyncio
import json
import urllib.request
from typing import Any

from tests.e2e.conftest import Stack

_HEADER = b"desa_code,pus,families,remaja,families_with_balita,families_with_remaja,families_with_lansia\n"
_ROW = b"99.01.01.2001,100,150,60,40,35,30\n"


def _post(stack: Stack, body: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{stack.registry_url}/v1/imports?module=kependudukan&period=2024-03",
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {stack.key}",
            "Content-Type": "text/csv",
            "Idempotency-Key": "march-upload",
        },
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.status, json.loads(response.read())


async def test_a_replay_of_a_multi_megabyte_import_gets_the_first_job(stack: Stack) -> None:
    status, first = await asyncio.to_thread(_post, stack, _HEADER + _ROW)
    assert status == 202, first
    # The retry carries the whole (large) file again; only its answer was lost the first time.
    large = _HEADER + _ROW * (12 * 1024 * 1024 // len(_ROW))
    status, replay = await asyncio.to_thread(_post, stack, large)
    assert status == 200, replay
    assert replay["id"] == first["id"]
