"""Report aggregates at national scale: whole-nation rebuild, one chain refresh, and freshness under load.

Run: `.venv/bin/python bench/bench_reports.py`. Starts its own embedded PostgreSQL and Redis in a temporary folder,
loads ../shared/data/wilayah.csv (skips when absent), generates with SQL (fixed seed) one Kampung KB in every
desa/kelurahan with profil, kependudukan and kkbpk for one period plus classifications under both rule sets, then
times the worker's statements (a chain refresh with its data-quality pass when nothing changed and right after one
Kampung KB changed, and without the pass) and, with report-worker running as a real process, how long a submission
takes to show in its kabupaten's report while others keep arriving; last, the data-quality pass of a national
rebuild, alone and within the rebuild, once without history and once with six earlier months, and the chain refreshes
again with that history. Bounded to about four minutes.
"""

import asyncio
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
from arq.connections import ArqRedis, RedisSettings, create_pool
from sqlalchemy.ext.asyncio import AsyncSession
from stack import official_regions

from kampungkb_local import processes
from kampungkb_local.servers import RedisServer, free_port, start_postgres, stop_postgres
from kampungkb_shared.jobs import REFRESH_REGION_CHAIN, REPORT_QUEUE, RefreshRegionChain, deserialize_job, serialize_job
from registry_api import migrate
from registry_api.db import create_engine
from registry_api.wilayah.service import import_csv
from report_worker.aggregates import rebuild_period, refresh_chain
from report_worker.apart import Apart
from report_worker.quality import QualityRules, flag_quality

PERIOD = dt.date(2025, 6, 1)
RULESETS = ["bkkbn-web-2021", "kkb-2025"]
FRESHNESS_SECONDS = 20.0
WRITES_PER_SECOND = 25
RELAY_DEFER_S = 0.05

GENERATE = """
SELECT setseed(0.42);
INSERT INTO kampung (name, desa_code, kecamatan_code, kabupaten_code, provinsi_code, formed_on)
SELECT 'Kampung KB ' || name, code, left(code, 8), left(code, 5), left(code, 2),
       date '2016-01-01' + (random() * 3400)::int
  FROM wilayah WHERE level = 'desa' ORDER BY code;
INSERT INTO submission (kampung_id, module, period, payload, content_hash, revision)
SELECT id, 'profil', $P, jsonb_build_object(
         'pokja', jsonb_build_object('exists', random() < 0.8, 'sk', random() < 0.6, 'members', 10,
                                     'trained_members', 3, 'trained', random() < 0.5),
         'funding_sources', '["DANA_DESA"]'::jsonb, 'poktan', '["BKB", "BKR"]'::jsonb,
         'facilities',
         CASE WHEN random() < 0.5 THEN '["SEKRETARIAT", "RUMAH_DATAKU"]' ELSE '["SEKRETARIAT"]' END::jsonb,
         'pkb_pendamping', random() < 0.6,
         'regulations', CASE WHEN random() < 0.4 THEN '["SK_KADES_LURAH"]' ELSE '[]' END::jsonb,
         'rkm', random() < 0.5, 'data_sources', '[]'::jsonb, 'operational', '{}'::jsonb), 'h', 1
  FROM kampung ORDER BY id;
INSERT INTO submission (kampung_id, module, period, payload, content_hash, revision)
SELECT id, 'kependudukan', $P, jsonb_build_object('pus', 400, 'families', 600, 'remaja', 150,
         'families_with_balita', (random() * 200)::int, 'families_with_remaja', 100, 'families_with_lansia', 80), 'h', 1
  FROM kampung ORDER BY id;
INSERT INTO submission (kampung_id, module, period, payload, content_hash, revision)
SELECT id, 'kkbpk', $P, jsonb_build_object(
         'poktan_participants', '{}'::jsonb,
         'kb_users', jsonb_build_object('KB_IUD', 20, 'KB_MOW', 5, 'KB_MOP', 1, 'KB_KONDOM', 10, 'KB_IMPLAN', 30,
                                        'KB_SUNTIK', 100, 'KB_PIL', 60),
         'non_users', jsonb_build_object('HAMIL', 100, 'INGIN_ANAK_SEGERA', 20, 'IAT', 30, 'TIAL', 24)), 'h', 1
  FROM kampung ORDER BY id;
INSERT INTO classification_snapshot (hash, snapshot) VALUES ('s', '{}') ON CONFLICT DO NOTHING;
INSERT INTO classification (kampung_id, period, ruleset, ruleset_hash, tier, snapshot_hash, scores, indices, passed)
SELECT k.id, $P, r.ruleset, 'r',
       (ARRAY['dasar', 'berkembang', 'mandiri', 'berkelanjutan', 'belum_terklasifikasi'])[1 + floor(random() * 5)::int],
       's', array_fill(NULL::smallint, ARRAY[12]), array_fill(NULL::numeric, ARRAY[3]),
       array_fill(NULL::boolean, ARRAY[3])
  FROM kampung k CROSS JOIN unnest(ARRAY['bkkbn-web-2021', 'kkb-2025']) AS r(ruleset) ORDER BY k.id, r.ruleset;
ANALYZE;
"""


def line(text: str) -> None:
    print(text, flush=True)


async def load(url: str, regions: bytes) -> None:
    engine = create_engine(url, pool_size=1)
    started = time.perf_counter()
    async with AsyncSession(engine) as session:
        result = await import_csv(session, regions)
        await session.commit()
    await engine.dispose()
    line(f"regions loaded: {result.rows:,} rows in {time.perf_counter() - started:.1f} s")
    connection = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        await connection.execute(GENERATE.replace("$P", f"date '{PERIOD.isoformat()}'"))
        kampung = await connection.fetchval("SELECT count(*) FROM kampung")
        submissions = await connection.fetchval("SELECT count(*) FROM submission")
        line(
            f"generated {kampung:,} Kampung KB, {submissions:,} submissions, classifications under "
            f"{len(RULESETS)} rule sets in {time.perf_counter() - started:.1f} s"
        )
    finally:
        await connection.close()


async def time_statements(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        ways = {"one statement": None, "in shares on 2 connections": Apart(lambda: asyncpg.connect(url), 2)}
        times: dict[str, list[float]] = {way: [] for way in ways}
        for _ in range(3):  # the two ways alternating, so that the machine's load meets both alike
            for way, apart in ways.items():
                started = time.perf_counter()
                await rebuild_period(connection, period=PERIOD, rulesets=RULESETS, quality=None, apart=apart)
                times[way].append(time.perf_counter() - started)
        for way, runs in times.items():
            line(
                f"report rebuild without its quality pass, whole nation, one period, {len(RULESETS)} rule sets, {way}: "
                f"{min(runs):.2f} s (runs: {', '.join(f'{t:.2f}' for t in runs)})"
            )
        for ruleset in RULESETS:
            started = time.perf_counter()
            await rebuild_period(connection, period=PERIOD, rulesets=[ruleset])
            line(
                f"report rebuild, whole nation, one period, rule set {ruleset} alone: "
                f"{time.perf_counter() - started:.2f} s"
            )
        await chain_refreshes(connection, "")
    finally:
        await connection.close()


async def chain_refreshes(connection: asyncpg.Connection, data: str) -> None:
    """A median and the largest kabupaten's chain refresh with its data-quality pass, 15 runs each: nothing changed
    since the last, right after one of its Kampung KB changed, and (for reference) without the quality pass."""
    biggest, desa = await connection.fetchrow(
        "SELECT kabupaten_code, count(*) FROM kampung GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    )
    typical = await connection.fetchval(
        "SELECT kabupaten_code FROM kampung GROUP BY 1 ORDER BY count(*), kabupaten_code OFFSET 257 LIMIT 1"
    )
    pid = await connection.fetchval("SELECT pg_backend_pid()")
    cases = (
        ("with its quality pass, nothing changed since the last", False, QualityRules()),
        ("with its quality pass, right after one of its Kampung KB changed", True, QualityRules()),
        ("without the quality pass, right after one of its Kampung KB changed", True, None),
    )
    for kab, label in ((typical, "a median kabupaten"), (biggest, f"the largest kabupaten ({desa} desa)")):
        one = await connection.fetchval("SELECT id FROM kampung WHERE kabupaten_code = $1 ORDER BY id LIMIT 1", kab)
        # The first catches up with every Kampung KB the generated data changed (or, before it, a first pass).
        cpu_before, started = backend_cpu_s(pid), time.perf_counter()
        await refresh_chain(connection, period=PERIOD, kabupaten_code=kab, rulesets=RULESETS)
        line(
            f"report chain refresh with its quality pass, first after the data were written{data}, {label} {kab}: "
            f"{(time.perf_counter() - started) * 1000:.0f} ms; PostgreSQL CPU "
            f"{(backend_cpu_s(pid) - cpu_before) * 1000:.0f} ms"
        )
        for case, change, quality in cases:
            runs, cpu = [], 0.0
            for _ in range(15):
                if change:  # one kkbpk of the kabupaten written again, as a PUT does, before each refresh
                    await connection.execute(CHANGE_ONE, one, PERIOD)
                cpu_before, started = backend_cpu_s(pid), time.perf_counter()
                await refresh_chain(connection, period=PERIOD, kabupaten_code=kab, rulesets=RULESETS, quality=quality)
                runs.append(time.perf_counter() - started)
                cpu += backend_cpu_s(pid) - cpu_before
            line(
                f"report chain refresh {case}{data}, {label} {kab} + provinsi + nation: median "
                f"{statistics.median(runs) * 1000:.0f} ms, max {max(runs) * 1000:.0f} ms; PostgreSQL CPU "
                f"{cpu / len(runs) * 1000:.1f} ms a run"
            )


CHANGE_ONE = """
UPDATE submission SET payload = jsonb_set(payload, '{kb_users,KB_PIL}',
                                          to_jsonb((payload->'kb_users'->>'KB_PIL')::int + 1)),
       revision = revision + 1
 WHERE kampung_id = $1 AND module = 'kkbpk' AND period = $2"""

HISTORY_MONTHS = 6

HISTORY = """
SELECT setseed(0.7);
INSERT INTO submission (kampung_id, module, period, payload, content_hash, revision)
SELECT s.kampung_id, 'kkbpk', ($P - make_interval(months => m))::date,
       jsonb_set(s.payload, '{kb_users,KB_PIL}', to_jsonb(55 + (random() * 10)::int)), 'h', 1
  FROM submission s CROSS JOIN generate_series(1, $N) AS m
 WHERE s.module = 'kkbpk' AND s.period = $P;
INSERT INTO submission (kampung_id, module, period, payload, content_hash, revision)
SELECT s.kampung_id, 'kependudukan', ($P - interval '1 month')::date,
       jsonb_set(s.payload, '{pus}', to_jsonb(CASE WHEN random() < 0.01 THEN 200 ELSE 400 END)), 'h', 1
  FROM submission s WHERE s.module = 'kependudukan' AND s.period = $P;
ANALYZE submission;
"""
"""Six earlier months of kkbpk (the pill's users moving a little) and the month before's kependudukan (one in a
hundred with half the PUS): every Kampung KB has the history the outlier and jump checks read."""


def backend_cpu_s(pid: int) -> float:
    """CPU seconds a PostgreSQL backend of this machine has used: unlike wall time, hardly moved by other load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def time_quality(url: str) -> None:
    connection = await asyncpg.connect(url)
    pid = await connection.fetchval("SELECT pg_backend_pid()")
    try:

        async def flags_alone() -> tuple[float, float]:
            cpu, started = backend_cpu_s(pid), time.perf_counter()
            async with connection.transaction():
                await connection.execute("SET LOCAL work_mem = '64MB'")  # as in a rebuild
                await flag_quality(connection, periods=[PERIOD], kabupaten_code=None, rules=QualityRules())
            return time.perf_counter() - started, backend_cpu_s(pid) - cpu

        async def rebuild(quality: QualityRules | None, apart: Apart | None = None) -> tuple[float, float]:
            cpu, started = backend_cpu_s(pid), time.perf_counter()
            await rebuild_period(connection, period=PERIOD, rulesets=RULESETS, quality=quality, apart=apart)
            return time.perf_counter() - started, backend_cpu_s(pid) - cpu

        def measured(label: str, runs: list[tuple[float, float]]) -> None:
            best = min(runs)
            walls = ", ".join(f"{t:.2f}" for t, _ in runs)
            line(f"{label}: {best[0]:.2f} s ({best[1]:.2f} s of PostgreSQL CPU); runs: {walls}")

        for history in (False, True):
            if history:
                started = time.perf_counter()
                await connection.execute(
                    HISTORY.replace("$P", f"date '{PERIOD.isoformat()}'").replace("$N", str(HISTORY_MONTHS))
                )
                line(f"generated {HISTORY_MONTHS} earlier months of kkbpk in {time.perf_counter() - started:.1f} s")
            label = f"{HISTORY_MONTHS} months of history" if history else "no history"
            measured(f"quality pass alone, whole nation, one period, {label}", [await flags_alone() for _ in range(3)])
            measured(f"report rebuild without the quality pass, {label}", [await rebuild(None) for _ in range(2)])
            measured(
                f"report rebuild with its quality pass, {label}", [await rebuild(QualityRules()) for _ in range(2)]
            )
            apart = Apart(lambda: asyncpg.connect(url), 2)
            measured(
                f"report rebuild with its quality pass, {label}, in shares on 2 connections (CPU: the job's own)",
                [await rebuild(QualityRules(), apart) for _ in range(2)],
            )
        flags = await connection.fetch("SELECT kind, count(*) FROM quality_flag GROUP BY 1 ORDER BY 1")
        line("flags raised: " + (", ".join(f"{r['kind']} {r['count']:,}" for r in flags) or "none"))
        await chain_refreshes(connection, f", {HISTORY_MONTHS} months of history")
    finally:
        await connection.close()


async def deliver(redis: ArqRedis, job: RefreshRegionChain) -> bool:
    """What the outbox relay does: enqueue with a deterministic id and a small defer.

    arq answers None when the id is queued or running. Queued (not started) is delivered: the job will read our
    commit. Running may have read the database before it, so the event stays pending and is tried again.
    """
    queued = await redis.enqueue_job(
        REFRESH_REGION_CHAIN, job.model_dump(), _job_id=job.job_id(), _queue_name=REPORT_QUEUE, _defer_by=RELAY_DEFER_S
    )
    if queued is not None:
        return True
    async with redis.pipeline(transaction=True) as pipe:
        pipe.exists(f"arq:job:{job.job_id()}")
        pipe.exists(f"arq:in-progress:{job.job_id()}")
        exists, running = await pipe.execute()
    return bool(exists) and not running


async def freshness(url: str, redis_url: str) -> None:
    worker = processes.report_worker()
    worker.env = {
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "WORKER_METRICS_PORT": str(free_port()),
        "WORKER_REBUILD_ON_STARTUP": "false",
        "LOG_LEVEL": "WARNING",
    }
    worker.start(quiet=True)
    redis = await create_pool(
        RedisSettings.from_dsn(redis_url), job_serializer=serialize_job, job_deserializer=deserialize_job
    )
    connection = await asyncpg.connect(url)
    observer = await asyncpg.connect(url)
    try:
        for _ in range(200):
            if await redis.exists(REPORT_QUEUE + ":health-check"):
                break
            await asyncio.sleep(0.1)
        rng = random.Random(7)
        kampung = [
            (r["id"], r["kabupaten_code"]) for r in await connection.fetch("SELECT id, kabupaten_code FROM kampung")
        ]
        level = {
            r["code"]: r["kb_users"]
            for r in await connection.fetch(
                """SELECT code, kb_users FROM report_aggregate
                    WHERE period = $1 AND ruleset = $2 AND level = 'kabupaten'""",
                PERIOD,
                RULESETS[0],
            )
        }
        pending: list[tuple[str, int, float]] = []  # kabupaten, kb_users it must reach, commit time
        undelivered: list[RefreshRegionChain] = []
        latencies: list[float] = []
        stop_at = time.perf_counter() + FRESHNESS_SECONDS
        writes = 0

        async def write() -> None:
            nonlocal writes
            while time.perf_counter() < stop_at:
                kampung_id, kab = rng.choice(kampung)
                # one PUS moves from "hamil" to the pill: the kabupaten's KB users rise by exactly one
                await connection.execute(
                    """UPDATE submission
                          SET payload = jsonb_set(jsonb_set(payload, '{kb_users,KB_PIL}',
                                          to_jsonb((payload->'kb_users'->>'KB_PIL')::int + 1)),
                                          '{non_users,HAMIL}', to_jsonb((payload->'non_users'->>'HAMIL')::int - 1)),
                              revision = revision + 1, submitted_at = now()
                        WHERE kampung_id = $1 AND module = 'kkbpk' AND period = $2""",
                    kampung_id,
                    PERIOD,
                )
                committed = time.perf_counter()
                level[kab] += 1
                pending.append((kab, level[kab], committed))
                writes += 1
                job = RefreshRegionChain(
                    period=PERIOD.strftime("%Y-%m"), kabupaten_code=kab, request_id=f"bench-{writes}"
                )
                if not await deliver(redis, job):
                    undelivered.append(job)
                await asyncio.sleep(1 / WRITES_PER_SECOND)

        async def relay_retries() -> None:
            while time.perf_counter() < stop_at + 10 and (time.perf_counter() < stop_at or undelivered):
                for job in list(undelivered):
                    if await deliver(redis, job):
                        undelivered.remove(job)
                await asyncio.sleep(0.02)

        async def observe() -> None:
            while time.perf_counter() < stop_at + 10 and (time.perf_counter() < stop_at or pending):
                if pending:
                    kabs = sorted({kab for kab, _, _ in pending})
                    rows = await observer.fetch(
                        """SELECT code, kb_users FROM report_aggregate
                            WHERE period = $1 AND ruleset = $2 AND code = ANY($3::text[])""",
                        PERIOD,
                        RULESETS[0],
                        kabs,
                    )
                    now, seen = time.perf_counter(), {r["code"]: r["kb_users"] for r in rows}
                    for item in list(pending):
                        if seen.get(item[0], -1) >= item[1]:
                            latencies.append(now - item[2])
                            pending.remove(item)
                await asyncio.sleep(0.01)

        await asyncio.gather(write(), relay_retries(), observe())
        latencies.sort()
        p50 = latencies[len(latencies) // 2]
        p95 = latencies[int(len(latencies) * 0.95) - 1]
        line(
            f"freshness, submission to its kabupaten's report, {writes} writes at ~{WRITES_PER_SECOND}/s over "
            f"{FRESHNESS_SECONDS:.0f} s (relay defer {RELAY_DEFER_S * 1000:.0f} ms): p50 {p50 * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms, never seen {len(pending)}"
        )
    finally:
        await observer.close()
        await connection.close()
        await redis.aclose()
        worker.stop()


async def main() -> None:
    if (regions := official_regions()) is None:
        return
    with tempfile.TemporaryDirectory(prefix="kkb-bench-reports-") as tmp:
        pg_dir = Path(tmp) / "pg"
        url = start_postgres(pg_dir)
        redis_server = RedisServer(Path(tmp) / "redis", free_port()).start()
        try:
            await asyncio.to_thread(migrate.upgrade, url)
            await load(url, regions)
            await time_statements(url)
            await freshness(url, redis_server.url)
            await time_quality(url)
        finally:
            redis_server.stop()
            stop_postgres(pg_dir)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    started = time.perf_counter()
    asyncio.run(main())
    line(f"bench_reports took {time.perf_counter() - started:.0f} s")
    sys.exit(0)
