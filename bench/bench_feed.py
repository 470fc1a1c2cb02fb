"""The change feed at national scale: one page of 1,000 items, and a client catching up on a national month.

Run: `make bench ARGS=feed` (part of `make bench`). Starts embedded PostgreSQL and Redis with the national
region list, registry-api as a real process, and writes the feed items of a national month straight into
`change_log` with set-based SQL, as the import's statement triggers write them: per desa, one Kampung KB item, three
submission items (one transaction per module file, as an integration posts them), two classification items and a
tier change (one transaction). Then a client follows the feed over HTTP, 1,000 items a page: the time of a page, of
catching up on the whole month, of a kabupaten's officer catching up with `wilayah=`, and of phones catching up on
their own Kampung KB (a device key of scope `kampung:<id>`), with PostgreSQL's work for each: its CPU time and the
`change_log` rows and pages it read (`pg_stat_user_tables`, `pg_statio_user_tables`).
"""

import asyncio
import statistics
import time

import asyncpg
import httpx
from sqlalchemy import text
from stack import Stack, local_stack, official_regions

from registry_api.auth.service import PrincipalKind, Role, create_key
from registry_api.db import create_engine, create_sessionmaker

_MODULE_FILE = """
    INSERT INTO change_log (kind, action, kampung_id, desa_code, module, period, revision)
    SELECT 'submission', 'created', row_number() OVER (ORDER BY code), code, $1, DATE '2025-06-01', 1
      FROM wilayah WHERE level = 'desa' ORDER BY code
"""
_CLASSIFIED = """
    INSERT INTO change_log (kind, action, kampung_id, desa_code, period, ruleset, tier)
    SELECT 'classification', 'classified', k.id, k.code, DATE '2025-06-01', r.ruleset, 'berkembang'
      FROM (SELECT row_number() OVER (ORDER BY code) AS id, code FROM wilayah WHERE level = 'desa') AS k
     CROSS JOIN (VALUES ('bkkbn-web-2021'), ('kkb-2025')) AS r(ruleset)
     ORDER BY k.id, r.ruleset
"""
_TIERS = """
    INSERT INTO change_log (kind, action, kampung_id, desa_code, revision, tier)
    SELECT 'kampung', 'tier_changed', row_number() OVER (ORDER BY code), code, 2, 'berkembang'
      FROM wilayah WHERE level = 'desa' ORDER BY code
"""
_LARGEST_KABUPATEN = """
    SELECT left(code, 5) AS kabupaten, count(*) AS n FROM wilayah WHERE level = 'desa'
     GROUP BY 1 ORDER BY 2 DESC LIMIT 1
"""

_READ = """
    SELECT t.seq_tup_read + coalesce(t.idx_tup_fetch, 0) AS rows,
           io.heap_blks_hit + io.heap_blks_read + coalesce(io.idx_blks_hit, 0) + coalesce(io.idx_blks_read, 0) AS pages
      FROM pg_stat_user_tables t JOIN pg_statio_user_tables io USING (relid)
     WHERE t.relname = 'change_log'
"""
PHONES = 20
"""Phones that catch up, one after another, each on a Kampung KB of its own spread over the country."""


async def write_month(database_url: str) -> tuple[int, str, int]:
    connection = await asyncpg.connect(database_url)
    try:
        for module in ("profil", "kependudukan", "kkbpk"):
            await connection.execute(_MODULE_FILE, module)
        async with connection.transaction():
            await connection.execute(_CLASSIFIED)
            await connection.execute(_TIERS)
        await connection.execute("VACUUM ANALYZE change_log")
        total = await connection.fetchval("SELECT count(*) FROM change_log")
        largest = await connection.fetchrow(_LARGEST_KABUPATEN)
        return int(total), str(largest["kabupaten"]), int(largest["n"])
    finally:
        await connection.close()


def follow(http: httpx.Client, after: str | None = None, **params: str) -> tuple[int, list[float]]:
    """Every item from the start (or after the cursor `after`), 1,000 a page; returns how many and each page's time
    in ms."""
    items, timings = 0, []
    while True:
        started = time.perf_counter()
        response = http.get("/v1/changes", params={"limit": "1000", **params, **({"after": after} if after else {})})
        timings.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        page = response.json()
        if not page["items"]:
            return items, timings[:-1]
        items += len(page["items"])
        after = page["next_cursor"]


async def device_keys(database_url: str) -> list[str]:
    """A phone's key (an operator's device, as an enrolment gives them) for each of `PHONES` Kampung KB spread over
    the month's."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            kampungs = (await session.execute(text("SELECT max(kampung_id) FROM change_log"))).scalar_one()
            return [
                (
                    await create_key(
                        session,
                        name=f"phone {kampung_id}",
                        role=Role.OPERATOR,
                        scope=f"kampung:{kampung_id}",
                        kind=PrincipalKind.DEVICE,
                    )
                )[1]
                for kampung_id in (1 + n * kampungs // PHONES for n in range(PHONES))
            ]
    finally:
        await engine.dispose()


async def change_log_read(database_url: str) -> tuple[int, int]:
    """The rows and pages (index and heap) of `change_log` read so far, once the backends have reported them (an
    idle backend reports its counts within a second)."""
    await asyncio.sleep(1.5)
    connection = await asyncpg.connect(database_url)
    try:
        row = await connection.fetchrow(_READ)
        return int(row["rows"]), int(row["pages"])
    finally:
        await connection.close()


def phones_catching_up(stack: Stack) -> tuple[list[float], float, int, int, int]:
    """Each phone follows the feed from the oldest kept change, with its own key; returns each catch-up's time in
    ms, PostgreSQL's CPU-seconds, the `change_log` rows and pages read, and the items served, in all."""
    keys = asyncio.run(device_keys(stack.database_url))
    rows_before, pages_before = asyncio.run(change_log_read(stack.database_url))
    cpu_before = stack.cpu_seconds()["postgresql"]
    timings, served = [], 0
    for key in keys:
        with httpx.Client(base_url=stack.registry_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            started = time.perf_counter()
            items, _ = follow(http)
            timings.append((time.perf_counter() - started) * 1000)
            served += items
    cpu = stack.cpu_seconds()["postgresql"] - cpu_before
    rows_after, pages_after = asyncio.run(change_log_read(stack.database_url))
    return timings, cpu, rows_after - rows_before, pages_after - pages_before, served


def main() -> None:
    if (regions := official_regions()) is None:
        return
    with local_stack("feed", regions_csv=regions, services=("registry-api",)) as stack:
        total, kabupaten, desa = asyncio.run(write_month(stack.database_url))
        with httpx.Client(base_url=stack.registry_url, headers=stack.headers, timeout=60) as http:
            follow(http, kinds="kampung")  # warm-up: the index and the process
            started = time.perf_counter()
            served, pages = follow(http)
            whole = time.perf_counter() - started
            started = time.perf_counter()
            theirs, _ = follow(http, wilayah=kabupaten)
            officer = time.perf_counter() - started
        phones, phones_cpu, phones_rows, phones_pages, phones_served = phones_catching_up(stack)
    p50, p95 = statistics.median(pages), statistics.quantiles(pages, n=100)[94]
    print(f"national month in the feed: {total:,} items ({served:,} served)")
    print(f"one page of 1,000 items over HTTP: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({len(pages)} pages)")
    print(f"a client catching up on the whole month: {whole:.1f} s ({served / whole:,.0f} items/s)")
    print(
        f"an officer of the largest kabupaten ({kabupaten}, {desa} desa) catching up: {officer:.1f} s, {theirs:,} items"
    )
    print(
        f"a phone (key of one Kampung KB) catching up on the month, {PHONES} phones: p50 "
        f"{statistics.median(phones):.1f} ms, max {max(phones):.1f} ms, {phones_served / PHONES:.0f} items each; "
        f"PostgreSQL {phones_cpu / PHONES * 1000:.1f} CPU-ms, {phones_rows / PHONES:,.0f} change_log rows and "
        f"{phones_pages / PHONES:,.0f} pages read a phone"
    )


if __name__ == "__main__":
    main()
