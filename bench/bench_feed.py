"""The change feed at national scale: one page of 1,000 items, and a client catching up on a national month.

Run: `make bench ARGS=feed` (part of `make bench`). Starts embedded PostgreSQL and Redis with the national
region list, registry-api as a real process, and writes the feed items of a national month straight into
`change_log` with set-based SQL, as the import's statement triggers write them: per desa, one Kampung KB item, three
submission items (one transaction per module file, as an integration posts them), two classification items and a
tier change (one transaction). Then a client follows the feed over HTTP, 1,000 items a page: the time of a page, of
catching up on the whole month, and of a kabupaten's officer catching up with `wilayah=`.
"""

import asyncio
import statistics
import time

import asyncpg
import httpx
from stack import local_stack, official_regions

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
    p50, p95 = statistics.median(pages), statistics.quantiles(pages, n=100)[94]
    print(f"national month in the feed: {total:,} items ({served:,} served)")
    print(f"one page of 1,000 items over HTTP: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({len(pages)} pages)")
    print(f"a client catching up on the whole month: {whole:.1f} s ({served / whole:,.0f} items/s)")
    print(
        f"an officer of the largest kabupaten ({kabupaten}, {desa} desa) catching up: {officer:.1f} s, {theirs:,} items"
    )


if __name__ == "__main__":
    main()
