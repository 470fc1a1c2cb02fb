import asyncio
import datetime as dt
import uuid

import asyncpg
import orjson
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from kampungkb_shared.classification import Scores
from registry_api import migrate
from registry_api.db import create_engine
from registry_api.models import Base
from registry_api.reports import repository
from tests.conftest import create_database, drop_database
from tests.factories import DEMO_DESA, demo_kampung_by_sql


@pytest.fixture
async def empty_database_url(servers: tuple[str, str]):  # type: ignore[no-untyped-def]
    name = f"kkb_mig_{uuid.uuid4().hex[:8]}"
    url = await create_database(servers[0], name)
    yield url
    await drop_database(servers[0], name)


async def _tables(url: str) -> set[str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row["tablename"] for row in rows}
    finally:
        await connection.close()


async def test_migrations_go_up_down_and_up_again(empty_database_url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, empty_database_url)
    assert {"wilayah", "kampung", "submission", "classification", "outbox", "api_key"} <= await _tables(
        empty_database_url
    )
    await asyncio.to_thread(migrate.downgrade, empty_database_url, "base")
    assert await _tables(empty_database_url) == {"alembic_version"}
    await asyncio.to_thread(migrate.upgrade, empty_database_url)
    assert "kampung" in await _tables(empty_database_url)


async def test_models_and_migrations_agree(database_url: str) -> None:
    """Autogenerate finds nothing to add: every model change has its migration."""
    engine = create_engine(database_url, pool_size=1)

    def compare(connection: Connection) -> list[object]:
        return list(
            compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
        )

    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(compare)
    finally:
        await engine.dispose()
    assert diff == []


async def test_the_migration_to_small_classifications_keeps_what_they_stored(empty_database_url: str) -> None:
    """0015 moves each stored result's tier, sub-scores, indices and passes into columns, in one statement, and back."""
    await asyncio.to_thread(migrate.upgrade, empty_database_url, "0014")
    await demo_kampung_by_sql(empty_database_url)
    result = {
        "ruleset": "kkb-2025",
        "ruleset_hash": "h",
        "period": "2024-01",
        "tier": "berkembang",
        "scores": {name: (n % 4) + 1 if n != 3 else None for n, name in enumerate(Scores.model_fields)},
        "indices": {"input": 3.0, "proses": 2.67, "output": None},
        "passed": {"input": True, "proses": False, "output": None},
        "threshold": 3.0,
        "raw": {"pus": 100},
        "missing": [],
        "next_tier": None,
    }
    connection = await asyncpg.connect(empty_database_url)
    try:
        await connection.execute("INSERT INTO classification_snapshot (hash, snapshot) VALUES ('s', '{}')")
        await connection.execute(
            """INSERT INTO classification (kampung_id, period, ruleset, ruleset_hash, tier, snapshot_hash, result)
               SELECT id, '2024-01-01', 'kkb-2025', 'h', 'berkembang', 's', $1::text::json FROM kampung""",
            orjson.dumps(result).decode(),
        )
        await asyncio.to_thread(migrate.upgrade, empty_database_url)
        row = await connection.fetchrow(
            "SELECT scores, CAST(indices AS text[]) AS indices, passed, tier FROM classification"
        )
        assert row["scores"] == list(result["scores"].values())  # type: ignore[attr-defined]
        assert row["indices"] == ["3.0", "2.67", None] and row["passed"] == [True, False, None]
        await asyncio.to_thread(migrate.downgrade, empty_database_url, "0014")
        back = orjson.loads(await connection.fetchval("SELECT CAST(result AS text) FROM classification"))
        assert {k: back[k] for k in ("tier", "scores", "indices", "passed")} == {
            k: result[k] for k in ("tier", "scores", "indices", "passed")
        }
    finally:
        await connection.close()


async def test_the_migration_to_narrow_kkbpk_users_fills_them_from_the_stored_kkbpk(empty_database_url: str) -> None:
    """0018 writes a `kkbpk_users` row for every kkbpk stored before it, and none for the other modules."""
    await asyncio.to_thread(migrate.upgrade, empty_database_url, "0017")
    await demo_kampung_by_sql(empty_database_url)
    connection = await asyncpg.connect(empty_database_url)
    try:
        await connection.execute(
            """INSERT INTO submission (kampung_id, module, period, payload, content_hash, revision)
               SELECT id, m, '2024-01-01', CAST(p AS jsonb), 'h', 1 FROM kampung,
                      (VALUES ('kkbpk', '{"kb_users": {"KB_MOW": 2, "KB_PIL": 9}}'),
                              ('kependudukan', '{"pus": 9}')) AS x(m, p)"""
        )
        await asyncio.to_thread(migrate.upgrade, empty_database_url)
        rows = await connection.fetch("SELECT period::text, kb_mow, kb_pil, kb_iud FROM kkbpk_users")
        assert [tuple(row) for row in rows] == [("2024-01-01", 2, 9, 0)]
        await asyncio.to_thread(migrate.downgrade, empty_database_url, "0017")
        assert "kkbpk_users" not in await _tables(empty_database_url)
    finally:
        await connection.close()


async def test_the_migration_to_superseded_revisions_drops_only_the_copies_of_what_is_in_force(
    empty_database_url: str,
) -> None:
    """0019 deletes each submission's revision row that repeats the submission (its revision in force) and keeps the
    ones it replaced; an update then keeps the version it replaces; going down writes the ones in force back."""
    await asyncio.to_thread(migrate.upgrade, empty_database_url, "0018")
    await demo_kampung_by_sql(empty_database_url)
    connection = await asyncpg.connect(empty_database_url)
    revisions = """SELECT s.module, r.revision, r.payload->>'pus' AS pus FROM submission_revision r
                     JOIN submission s ON s.id = r.submission_id ORDER BY s.module, r.revision"""
    try:
        # As 0018 kept them: kependudukan at revision 2 with both versions, kkbpk at revision 1 with its one.
        await connection.execute(
            """INSERT INTO submission (kampung_id, module, period, payload, content_hash, revision)
               SELECT id, m, '2024-01-01', CAST(p AS jsonb), 'h', r FROM kampung,
                      (VALUES ('kependudukan', '{"pus": 2}', 2), ('kkbpk', '{}', 1)) AS x(m, p, r);
               INSERT INTO submission_revision (submission_id, revision, payload)
               SELECT s.id, v.revision, CAST(v.payload AS jsonb) FROM submission s
                 JOIN (VALUES ('kependudukan', 1, '{"pus": 1}'), ('kependudukan', 2, '{"pus": 2}'), ('kkbpk', 1, '{}'))
                   AS v(module, revision, payload) ON v.module = s.module"""
        )
        await asyncio.to_thread(migrate.upgrade, empty_database_url)
        assert [tuple(row) for row in await connection.fetch(revisions)] == [("kependudukan", 1, "1")]

        await connection.execute(
            """UPDATE submission SET payload = '{"pus": 3}', revision = revision + 1 WHERE module = 'kependudukan';
               UPDATE submission SET submitted_by = 'x' WHERE module = 'kkbpk'"""
        )
        assert [tuple(row) for row in await connection.fetch(revisions)] == [
            ("kependudukan", 1, "1"),
            ("kependudukan", 2, "2"),
        ]

        await asyncio.to_thread(migrate.downgrade, empty_database_url, "0018")
        assert [tuple(row) for row in await connection.fetch(revisions)] == [
            ("kependudukan", 1, "1"),
            ("kependudukan", 2, "2"),
            ("kependudukan", 3, "3"),
            ("kkbpk", 1, None),
        ]
    finally:
        await connection.close()


@pytest.mark.parametrize(
    ("table", "other", "before", "keyed", "was"),
    [
        # 0020: classification keyed (kampung_id, ruleset, period), the index of that order beside the old key dropped
        (
            "classification",
            "ix_classification_snapshot_hash",
            "0019",
            [("pk_classification", ["kampung_id", "ruleset", "period"])],
            [
                ("ix_classification_as_of", ["kampung_id", "ruleset", "period"]),
                ("pk_classification", ["kampung_id", "period", "ruleset"]),
            ],
        ),
        # 0029: change_log keyed by its position, the index of the position beside the key of `id` dropped
        (
            "change_log",
            "ix_change_log_kabupaten",
            "0028",
            [("ix_change_log_kampung", ["kampung_id", "txid", "id"]), ("pk_change_log", ["txid", "id"])],  # 0039's too
            [("ix_change_log_position", ["txid", "id"]), ("pk_change_log", ["id"])],
        ),
    ],
)
async def test_the_migrations_that_key_a_table_as_its_readers_ask(
    empty_database_url: str,
    table: str,
    other: str,
    before: str,
    keyed: list[tuple[str, list[str]]],
    was: list[tuple[str, list[str]]],
) -> None:
    """0020 and 0029 key a table in the order its readers ask for and drop the index of that order beside the old key:
    one index fewer to write with every row; going down restores both."""
    indexes = f"""SELECT i.relname, array_agg(a.attname ORDER BY k.n)::text[] AS columns
                   FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                  CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
                   JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                  WHERE x.indrelid = '{table}'::regclass AND i.relname <> '{other}'
                  GROUP BY i.relname ORDER BY i.relname"""
    await asyncio.to_thread(migrate.upgrade, empty_database_url)
    connection = await asyncpg.connect(empty_database_url)
    try:
        assert [tuple(row) for row in await connection.fetch(indexes)] == keyed
        await asyncio.to_thread(migrate.downgrade, empty_database_url, before)
        assert [tuple(row) for row in await connection.fetch(indexes)] == was
    finally:
        await connection.close()


@pytest.mark.parametrize(
    ("table", "before", "foreign_keys", "indexes"),
    [
        # 0021: classification's references to the Kampung KB and to its snapshot
        (
            "classification",
            "0020",
            ["fk_classification_kampung_id_kampung", "fk_classification_snapshot_hash_classification_snapshot"],
            [],
        ),
        # 0026: submission's reference to the Kampung KB, and its index of submitted_at alone
        ("submission", "0025", ["fk_submission_kampung_id_kampung"], ["ix_submission_submitted_at"]),
    ],
)
async def test_the_migrations_that_drop_references_their_writer_guarantees(
    empty_database_url: str, table: str, before: str, foreign_keys: list[str], indexes: list[str]
) -> None:
    """0021 and 0026 drop foreign keys (the tables' one writer guarantees their references) and an index nothing
    reads by; going down restores them."""
    keys = f"""SELECT conname FROM pg_constraint WHERE conrelid = '{table}'::regclass AND contype = 'f'
                ORDER BY conname"""
    names = f"SELECT indexname FROM pg_indexes WHERE tablename = '{table}' AND indexname = ANY($1::text[])"
    await asyncio.to_thread(migrate.upgrade, empty_database_url)
    connection = await asyncpg.connect(empty_database_url)
    try:
        assert await connection.fetch(keys) == []
        assert await connection.fetch(names, indexes) == []
        await asyncio.to_thread(migrate.downgrade, empty_database_url, before)
        assert [row["conname"] for row in await connection.fetch(keys)] == foreign_keys
        assert [row["indexname"] for row in await connection.fetch(names, indexes)] == indexes
    finally:
        await connection.close()


async def test_the_migration_of_the_classification_statistics_leaves_its_figures_out(empty_database_url: str) -> None:
    """0022 takes no planner statistics of the figures; going down takes them as for any column again."""
    targets = """SELECT attname, attstattarget FROM pg_attribute
                  WHERE attrelid = 'classification'::regclass AND attname IN ('scores', 'indices', 'passed', 'tier')
                  ORDER BY attname"""
    await asyncio.to_thread(migrate.upgrade, empty_database_url)
    connection = await asyncpg.connect(empty_database_url)
    try:
        assert [tuple(row) for row in await connection.fetch(targets)] == [
            ("indices", 0),
            ("passed", 0),
            ("scores", 0),
            ("tier", -1),
        ]
        await asyncio.to_thread(migrate.downgrade, empty_database_url, "0021")
        assert {row["attstattarget"] for row in await connection.fetch(targets)} == {-1}
    finally:
        await connection.close()


@pytest.mark.parametrize(
    ("index", "before", "columns", "included"),
    [
        # 0023: the partners of each activity in the kegiatan index by (kampung_id, date)
        ("ix_kegiatan_kampung_date", "0022", "(kampung_id, date)", "INCLUDE (partners)"),
        # 0024: the kind and status of each flag in its index by (period, desa_code)
        ("ix_quality_flag_period_desa", "0023", "(period, desa_code text_pattern_ops)", "INCLUDE (kind, status)"),
    ],
)
async def test_the_migrations_that_widen_an_index_and_take_it_back(
    empty_database_url: str, index: str, before: str, columns: str, included: str
) -> None:
    """Migrations that add columns to an index (`INCLUDE`): going up adds them, going down takes them out."""
    definition = f"SELECT pg_get_indexdef('{index}'::regclass)"
    await asyncio.to_thread(migrate.upgrade, empty_database_url)
    connection = await asyncpg.connect(empty_database_url)
    try:
        assert (await connection.fetchval(definition)).endswith(f"{columns} {included}")
        await asyncio.to_thread(migrate.downgrade, empty_database_url, before)
        assert (await connection.fetchval(definition)).endswith(columns)
    finally:
        await connection.close()


async def test_the_migration_of_kampung_lets_a_tier_change_in_place(empty_database_url: str) -> None:
    """0025: a tier set for every Kampung KB in one statement (as a national month's classification does) leaves
    each row on its page, a heap-only update; before it, full pages and a B-tree on `updated_at` moved them all."""
    blocks = "SELECT id, (ctid::text::point)[0] AS block FROM kampung ORDER BY id"
    set_tiers = "UPDATE kampung SET tier = 'berkelanjutan', version = version + 1, updated_at = clock_timestamp()"
    many = f"""INSERT INTO kampung (name, desa_code, kecamatan_code, kabupaten_code, provinsi_code, formed_on, active)
               SELECT 'Kampung KB ' || g, '{DEMO_DESA}', '{DEMO_DESA[:8]}', '{DEMO_DESA[:5]}', '{DEMO_DESA[:2]}',
                      '2020-01-01', false
                 FROM generate_series(1, 600) AS g"""
    await asyncio.to_thread(migrate.upgrade, empty_database_url, "0024")
    await demo_kampung_by_sql(empty_database_url)
    connection = await asyncpg.connect(empty_database_url)
    try:
        await connection.execute(many)
        before = await connection.fetch(blocks)
        await connection.execute(set_tiers)
        assert sum(a["block"] != b["block"] for a, b in zip(before, await connection.fetch(blocks), strict=True)) > 500

        await connection.execute("DELETE FROM kampung WHERE NOT active")
        await connection.execute("VACUUM kampung")
        await asyncio.to_thread(migrate.upgrade, empty_database_url)
        assert await connection.fetchval("SELECT reloptions FROM pg_class WHERE relname = 'kampung'") == [
            "fillfactor=40"
        ]
        definition = "SELECT pg_get_indexdef('ix_kampung_updated_at'::regclass)"
        assert " USING brin (updated_at)" in await connection.fetchval(definition)
        await connection.execute(many)
        before = await connection.fetch(blocks)
        await connection.execute(set_tiers)
        assert await connection.fetch(blocks) == before

        await asyncio.to_thread(migrate.downgrade, empty_database_url, "0024")
        assert (await connection.fetchval(definition)).endswith("USING btree (updated_at)")
        assert await connection.fetchval("SELECT reloptions FROM pg_class WHERE relname = 'kampung'") is None
    finally:
        await connection.close()


async def test_the_migrations_of_autovacuum_keep_years_of_history_vacuumed_and_analysed(
    empty_database_url: str,
) -> None:
    """0027: the tables read from their indexes alone are vacuumed after a hundredth of their rows changes (so that
    the visibility map lets those reads skip the heap); 0030: `quality_flag`, counted by its newest period, is
    analysed after 10,000 changed rows. Going down restores autovacuum's defaults, one migration at a time."""
    options = """SELECT relname, reloptions FROM pg_class
                  WHERE relname IN ('quality_flag', 'kegiatan', 'kkbpk_users') ORDER BY relname"""
    often = {"autovacuum_vacuum_insert_scale_factor=0.01", "autovacuum_vacuum_scale_factor=0.01"}
    analysed = {"autovacuum_analyze_scale_factor=0", "autovacuum_analyze_threshold=10000"}

    async def tuned() -> dict[str, set[str] | None]:
        rows = await connection.fetch(options)
        return {row["relname"]: None if row["reloptions"] is None else set(row["reloptions"]) for row in rows}

    await asyncio.to_thread(migrate.upgrade, empty_database_url)
    connection = await asyncpg.connect(empty_database_url)
    try:
        assert await tuned() == {"kegiatan": often, "kkbpk_users": often, "quality_flag": often | analysed}
        await asyncio.to_thread(migrate.downgrade, empty_database_url, "0029")
        assert await tuned() == {"kegiatan": often, "kkbpk_users": often, "quality_flag": often}
        await asyncio.to_thread(migrate.downgrade, empty_database_url, "0026")
        assert await tuned() == {"kegiatan": None, "kkbpk_users": None, "quality_flag": None}
    finally:
        await connection.close()


async def test_the_migration_of_the_percontohan_index_serves_a_reports_list(empty_database_url: str) -> None:
    """0028: a report's list of its region's percontohan Kampung KB is read from their partial index, not from every
    Kampung KB (the nation's list, on a table of thousands with two percontohan); going down drops the index."""
    kecamatan = DEMO_DESA[:8]
    desa = f"""INSERT INTO wilayah (code, name, level, kind, parent_code)
               SELECT '{kecamatan}.' || (3000 + g), 'Desa ' || g, 'desa', 'desa', '{kecamatan}'
                 FROM generate_series(1, 5000) AS g"""
    many = f"""INSERT INTO kampung (name, desa_code, kecamatan_code, kabupaten_code, provinsi_code, formed_on,
                                    percontohan_kabupaten)
               SELECT 'Kampung KB ' || g, '{kecamatan}.' || (3000 + g), '{kecamatan}', '{DEMO_DESA[:5]}',
                      '{DEMO_DESA[:2]}', '2020-01-01', g <= 2
                 FROM generate_series(1, 5000) AS g"""
    plan = f"EXPLAIN {repository._PERCONTOHAN}"
    arguments = ("00", dt.date(2025, 6, 1), "kkb-2025", dt.date(2025, 6, 30))
    await asyncio.to_thread(migrate.upgrade, empty_database_url)
    await demo_kampung_by_sql(empty_database_url)
    connection = await asyncpg.connect(empty_database_url)
    try:
        await connection.execute(desa)
        await connection.execute(many)
        await connection.execute("ANALYZE kampung")
        assert "ix_kampung_percontohan" in "\n".join(row[0] for row in await connection.fetch(plan, *arguments))
        await asyncio.to_thread(migrate.downgrade, empty_database_url, "0027")
        assert await connection.fetchval("SELECT to_regclass('ix_kampung_percontohan')") is None
    finally:
        await connection.close()


async def test_the_migration_of_dashboard_sessions_keeps_them_with_their_key(empty_database_url: str) -> None:
    """0036: a dashboard session's row goes with its key (`ON DELETE CASCADE`); going down drops the table."""
    await asyncio.to_thread(migrate.upgrade, empty_database_url)
    connection = await asyncpg.connect(empty_database_url)
    try:
        key_id = await connection.fetchval(
            """WITH p AS (INSERT INTO principal (kind, name, role, scope) VALUES ('person', 'x', 'viewer', '00')
                          RETURNING id)
               INSERT INTO api_key (principal_id, name, prefix, secret_hash) SELECT id, 'x', 'p', 'h' FROM p
               RETURNING id"""
        )
        await connection.execute(
            """INSERT INTO dashboard_session (token_hash, key_id, expires_at)
               VALUES ('a', $1, now() + interval '12 hours'), ('b', $1, now() + interval '12 hours')""",
            key_id,
        )
        assert await connection.fetchval("SELECT count(*) FROM dashboard_session") == 2
        await connection.execute("DELETE FROM api_key WHERE id = $1", key_id)
        assert await connection.fetchval("SELECT count(*) FROM dashboard_session") == 0
        await asyncio.to_thread(migrate.downgrade, empty_database_url, "0035_passrules")
        assert "dashboard_session" not in await _tables(empty_database_url)
    finally:
        await connection.close()


async def test_the_migration_of_webhook_replays_counts_none_for_the_subscriptions_before(
    empty_database_url: str,
) -> None:
    """0037: each subscription made before it counts no replays; going down drops the count."""
    await asyncio.to_thread(migrate.upgrade, empty_database_url, "0036_dashsessions")
    connection = await asyncpg.connect(empty_database_url)
    try:
        await connection.execute(
            """INSERT INTO webhook_subscription (owner, owner_role, scope, url, secret, cursor)
               VALUES ('principal:1', 'admin', '00', 'https://hooks.test/', 'whsec_x', '1-0')"""
        )
        await asyncio.to_thread(migrate.upgrade, empty_database_url)
        assert await connection.fetchval("SELECT replays FROM webhook_subscription") == 0
        await asyncio.to_thread(migrate.downgrade, empty_database_url, "0036_dashsessions")
        assert (
            await connection.fetchval(
                "SELECT count(*) FROM information_schema.columns WHERE table_name = 'webhook_subscription'"
                " AND column_name = 'replays'"
            )
            == 0
        )
    finally:
        await connection.close()


async def test_the_migration_of_webhook_idempotency_keeps_one_subscription_per_owner_and_key(
    empty_database_url: str,
) -> None:
    """0040: the subscriptions before it have no key; a key is unique per owner (any number without one); going down
    drops the key, the hash and their index."""
    await asyncio.to_thread(migrate.upgrade, empty_database_url, "0039_feedkampung")
    insert = """INSERT INTO webhook_subscription (owner, owner_role, scope, url, secret, cursor{columns})
                VALUES ($1, 'admin', '00', 'https://hooks.test/', 'whsec_x', '1-0'{values})"""
    keyed = insert.format(columns=", idempotency_key, request_hash", values=", $2, 'h'")
    columns = """SELECT array_agg(column_name::text ORDER BY column_name) FROM information_schema.columns
                  WHERE table_name = 'webhook_subscription' AND column_name IN ('idempotency_key', 'request_hash')"""
    index = "SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_webhook_subscription_idempotency'"
    connection = await asyncpg.connect(empty_database_url)
    try:
        await connection.execute(insert.format(columns="", values=""), "principal:1")
        await asyncio.to_thread(migrate.upgrade, empty_database_url)
        assert [
            tuple(row)
            for row in await connection.fetch("SELECT idempotency_key, request_hash FROM webhook_subscription")
        ] == [(None, None)]
        assert "UNIQUE" in await connection.fetchval(index)
        await connection.execute(insert.format(columns="", values=""), "principal:1")  # another without a key
        await connection.execute(keyed, "principal:1", "k")
        await connection.execute(keyed, "principal:2", "k")  # another owner's
        with pytest.raises(asyncpg.UniqueViolationError):
            await connection.execute(keyed, "principal:1", "k")
        await asyncio.to_thread(migrate.downgrade, empty_database_url, "0039_feedkampung")
        assert await connection.fetchval(columns) is None
        assert await connection.fetchval(index) is None
        assert await connection.fetchval("SELECT count(*) FROM webhook_subscription") == 4
    finally:
        await connection.close()


async def test_a_migration_behind_a_long_transaction_gives_up_its_lock_wait_and_is_tried_again(
    empty_database_url: str,
) -> None:
    """A migration that needs a table a long transaction holds waits only `lock_timeout`, so the writes queued behind
    it are not held for as long as that transaction lasts; the ones before it stay committed, and a later try goes on
    from there."""
    await asyncio.to_thread(migrate.upgrade, empty_database_url, "0031_qperiod")
    blocker = await asyncpg.connect(empty_database_url)
    try:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.fetchval("SELECT count(*) FROM outbox")  # held until the end of the transaction
        with pytest.raises(Exception, match="lock timeout"):
            await asyncio.to_thread(migrate.upgrade, empty_database_url, lock_timeout="200ms", attempts=2, retry_s=0.0)
        # Nothing of the blocked migration is left; a write to the table goes straight in meanwhile.
        writer = await asyncpg.connect(empty_database_url)
        try:
            await writer.execute("SET lock_timeout = '2s'")
            await writer.execute("INSERT INTO outbox (topic, key, payload) VALUES ('report', 'k', '{}')")
            assert await writer.fetchval("SELECT version_num FROM alembic_version") == "0031_qperiod"
        finally:
            await writer.close()
        await transaction.rollback()
    finally:
        await blocker.close()
    await asyncio.to_thread(migrate.upgrade, empty_database_url)
    connection = await asyncpg.connect(empty_database_url)
    try:
        assert await connection.fetchval("SELECT version_num FROM alembic_version") == "0040_webhookidem"
    finally:
        await connection.close()
