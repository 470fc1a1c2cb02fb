"""`report_worker.worker.RedisRetry`: the wait before trying Redis again doubles up to its maximum, and starts over
only after a Worker served that long, not because a connection opened (a Redis failing every command after accepting
the connection is then not tried every half second)."""

import asyncio

from report_worker.worker import RETRY_FIRST_S, RedisRetry


async def test_each_wait_doubles_up_to_the_maximum() -> None:
    retry = RedisRetry(max_s=4.0)
    stopping = asyncio.Event()
    stopping.set()  # each wait returns at once; what it would wait is read before it
    waits = []
    for _ in range(5):
        waits.append(retry.delay_s)
        await retry.wait(stopping)
    assert waits == [RETRY_FIRST_S, 1.0, 2.0, 4.0, 4.0]


async def test_a_worker_failed_at_once_keeps_the_wait_growing_one_that_served_long_starts_it_over() -> None:
    retry = RedisRetry(max_s=4.0)
    stopping = asyncio.Event()
    stopping.set()
    for _ in range(3):
        await retry.wait(stopping)
    retry.served(0.2)  # connected, then failed by its first command
    assert retry.delay_s == 4.0
    retry.served(4.0)  # a Worker that ran as long as the longest wait: Redis had been back
    assert retry.delay_s == RETRY_FIRST_S


async def test_a_stop_ends_the_wait() -> None:
    retry = RedisRetry(max_s=30.0, delay_s=30.0)
    stopping = asyncio.Event()
    waiting = asyncio.create_task(retry.wait(stopping))
    await asyncio.sleep(0)
    stopping.set()
    await asyncio.wait_for(waiting, 5)
