"""Waiting between the passes of the registry's background loops (the outbox relay, the import runner)."""

import asyncio


async def any_set(*events: asyncio.Event, timeout_s: float) -> None:
    """Wait until one of `events` is set (a stop, a wake-up), or `timeout_s` has passed (the next poll)."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
