"""Data-quality flags raised by the refreshes: every flag against the plain-loop oracle, each kind beside the values
that must not raise it, and a checked flag left checked by a recomputation of the same values."""

import datetime as dt
import json
from typing import Any

import asyncpg

from kampungkb_local.demo import demo_regions
from report_worker.aggregates import rebuild_period, refresh_chain
from report_worker.quality import QualityRules
from report_worker.settings import Settings
from tests.report_worker import oracle
from tests.report_worker.data import PERIODS, RULESETS, Dataset, insert_kampung, insert_regions, upsert_submission
from tests.report_worker.quality_oracle import Key, expected_flags, months_before

PERIOD = dt.date(2025, 6, 1)
SHORT_HISTORY = QualityRules(min_history=2)
"""The random dataset has at most eight earlier months, each reported a third of the time."""


async def stored_flags(pg: asyncpg.Connection) -> dict[Key, asyncpg.Record]:
    rows = await pg.fetch("SELECT *, evidence::text AS evidence_text FROM quality_flag")
    return {(r["kampung_id"], r["period"], r["kind"], r["subject"]): r for r in rows}


async def test_flags_match_the_oracle(pg: asyncpg.Connection, dataset: Dataset) -> None:
    for period in PERIODS:
        await rebuild_period(pg, period=period, rulesets=RULESETS, quality=SHORT_HISTORY)
    rows = await oracle.read_rows(pg)
    wanted = expected_flags(rows, PERIODS, min_history=2)
    stored = await stored_flags(pg)
    assert stored.keys() == wanted.keys()
    for key, want in wanted.items():
        flag = stored[key]
        assert flag["value"] == want["value"], key
        evidence = json.loads(flag["evidence_text"])
        if key[2] == "kkbpk_outlier":
            got = {name: evidence[name] for name in ("median", "mad", "min", "max", "history")}
            assert got == {name: want[name] for name in got}, key
        elif key[2] == "jump":
            assert evidence["previous"] == want["previous"], key
    kinds = {key[2] for key in wanted}
    assert kinds == {"kkbpk_outlier", "jump", "implausible_ratio"}, "the dataset raises every kind"
    outliers = [key for key in wanted if key[2] == "kkbpk_outlier"]
    assert len(outliers) > 5 and {key[3] for key in outliers} > {"TOTAL"}
    # with the default six months of history, the same data raise no outlier at all
    await rebuild_period(pg, period=PERIODS[-1], rulesets=RULESETS)
    default = expected_flags(rows, [PERIODS[-1]])
    assert {k for k in await stored_flags(pg) if k[1] == PERIODS[-1]} == default.keys()
    assert not [k for k in default if k[2] == "kkbpk_outlier"]


async def test_a_chain_refresh_recomputes_its_kabupaten_only(pg: asyncpg.Connection, dataset: Dataset) -> None:
    for period in PERIODS:
        await rebuild_period(pg, period=period, rulesets=RULESETS, quality=SHORT_HISTORY)
    month = PERIODS[3]
    # one kkbpk in 97.01 and one in 98 lose their non-users: a CPR of 100 % each
    picked = await pg.fetch(
        """SELECT DISTINCT ON (k.provinsi_code) s.id, s.kampung_id
             FROM submission s JOIN kampung k ON k.id = s.kampung_id
            WHERE s.module = 'kkbpk' AND s.period = $1 AND k.active AND k.kabupaten_code IN ('97.01', '98.01')
              AND s.payload->'kb_users' <> '{}' AND s.payload->'non_users' <> '{}'
              AND EXISTS (SELECT FROM jsonb_each_text(s.payload->'kb_users') e WHERE e.value::int > 0)
            ORDER BY k.provinsi_code, s.id""",
        month,
    )
    assert len(picked) == 2
    await pg.execute(
        "UPDATE submission SET payload = jsonb_set(payload, '{non_users}', '{}') WHERE id = ANY($1::bigint[])",
        [r["id"] for r in picked],
    )
    await refresh_chain(pg, period=month, kabupaten_code="97.01", rulesets=RULESETS, quality=SHORT_HISTORY)
    inside, outside = (r["kampung_id"] for r in picked)
    wanted = expected_flags(await oracle.read_rows(pg), PERIODS, min_history=2)
    stored = await stored_flags(pg)
    assert (inside, month, "implausible_ratio", "cpr_100") in stored
    assert (outside, month, "implausible_ratio", "cpr_100") in wanted
    assert stored.keys() ^ wanted.keys() == {(outside, month, "implausible_ratio", "cpr_100")}
    await refresh_chain(pg, period=month, kabupaten_code="98.01", rulesets=RULESETS, quality=SHORT_HISTORY)
    assert (await stored_flags(pg)).keys() == wanted.keys()


def users(**methods: int) -> dict[str, Any]:
    return {"poktan_participants": {}, "kb_users": methods, "non_users": {"HAMIL": 30}}


def people(pus: int, population: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "pus": pus,
        "families": 10,
        "remaja": 5,
        "families_with_balita": 1,
        "families_with_remaja": 1,
        "families_with_lansia": 1,
    }
    if population is not None:
        body["population"] = {"male": [population - 15] + [1] * 15, "female": [0] * 16}
    return body


class Village:
    """One Kampung KB of the crafted cases, with its monthly submissions written as given."""

    def __init__(self, pg: asyncpg.Connection, kampung_id: int) -> None:
        self.pg, self.id = pg, kampung_id

    async def kkbpk(self, months_ago: int, payload: dict[str, Any]) -> None:
        await upsert_submission(self.pg, self.id, "kkbpk", months_before(PERIOD, months_ago), payload)

    async def history(self, values: list[int], *, pil: int = 40) -> None:
        """kkbpk of the months before PERIOD, the latest last: KB_SUNTIK as given, KB_PIL constant."""
        for months_ago, value in enumerate(reversed(values), start=1):
            await self.kkbpk(months_ago, users(KB_SUNTIK=value, KB_PIL=pil))

    async def kependudukan(self, months_ago: int, payload: dict[str, Any]) -> None:
        await upsert_submission(self.pg, self.id, "kependudukan", months_before(PERIOD, months_ago), payload)


async def villages(pg: asyncpg.Connection, count: int) -> list[Village]:
    regions = demo_regions(provinsi="95", kecamatan_per_kabupaten=2, desa_per_kecamatan=10)
    await insert_regions(pg, regions)
    desas = [r["code"] for r in regions if r["level"] == "desa"]
    return [Village(pg, await insert_kampung(pg, desa, formed_on=dt.date(2020, 1, 1))) for desa in desas[:count]]


DEFAULT_RULES = QualityRules()


async def raised(pg: asyncpg.Connection, rules: QualityRules = DEFAULT_RULES) -> set[tuple[int, str, str]]:
    await rebuild_period(pg, period=PERIOD, rulesets=RULESETS, quality=rules)
    stored = await stored_flags(pg)
    if rules == DEFAULT_RULES:
        assert stored.keys() == expected_flags(await oracle.read_rows(pg), [PERIOD]).keys()
    return {(k[0], k[2], k[3]) for k in stored if k[1] == PERIOD}


STEADY = [100, 102, 98, 101, 99, 100, 103, 97, 100, 101]


async def test_outliers_and_their_false_positives(pg: asyncpg.Connection) -> None:
    spike, short, seen, spread, small, old, dip = await villages(pg, 7)
    await spike.history(STEADY)
    await spike.kkbpk(0, users(KB_SUNTIK=160, KB_PIL=40))
    await short.history(STEADY[-5:])  # five months: too little history
    await short.kkbpk(0, users(KB_SUNTIK=160, KB_PIL=40))
    await seen.history([*STEADY[:-1], 160])  # as high once before: inside the min-max
    await seen.kkbpk(0, users(KB_SUNTIK=160, KB_PIL=40))
    await spread.history([60, 140, 70, 130, 80, 120, 90, 110, 100, 65])  # outside the min-max, but |z| < 3.5
    await spread.kkbpk(0, users(KB_SUNTIK=150, KB_PIL=40))
    await small.history([50] * 8)  # a history that never moved: MAD taken as 1, a change of 5 is no outlier
    await small.kkbpk(0, users(KB_SUNTIK=55, KB_PIL=40))
    for months_ago in range(13, 19):  # six months, but more than 12 months ago
        await old.kkbpk(months_ago, users(KB_SUNTIK=100, KB_PIL=40))
    await old.kkbpk(0, users(KB_SUNTIK=160, KB_PIL=40))
    await dip.history(STEADY)
    await dip.kkbpk(0, users(KB_SUNTIK=20, KB_PIL=40))
    flags = await raised(pg)
    assert {f for f in flags if f[1] == "kkbpk_outlier"} == {
        (spike.id, "kkbpk_outlier", "KB_SUNTIK"),
        (spike.id, "kkbpk_outlier", "TOTAL"),
        (dip.id, "kkbpk_outlier", "KB_SUNTIK"),
        (dip.id, "kkbpk_outlier", "TOTAL"),
    }
    evidence = json.loads(
        await pg.fetchval(
            "SELECT evidence::text FROM quality_flag WHERE kampung_id = $1 AND subject = 'KB_SUNTIK'", spike.id
        )
    )
    assert evidence["median"] == 100 and evidence["mad"] == 1 and evidence["z"] == 40.47
    assert [m["value"] for m in evidence["history"]] == STEADY and evidence["history"][-1]["period"] == "2025-05"


async def test_jumps_and_their_false_positives(pg: asyncpg.Connection) -> None:
    up, exact, down, drop, first, zero, population, gap = await villages(pg, 8)
    cases = [
        (up, 100, 151),  # +51 %: flagged
        (exact, 100, 150),  # +50 %: not more than the share
        (down, 100, 50),  # -50 %: not more than the share
        (drop, 100, 49),  # -51 %: flagged
        (zero, 0, 10),  # from nothing: flagged
    ]
    for village, before, now in cases:
        await village.kependudukan(1, people(before))
        await village.kependudukan(0, people(now))
    await first.kependudukan(0, people(300))  # nothing before it
    await population.kependudukan(2, people(100, population=400))
    await population.kependudukan(0, people(100, population=900))  # same PUS, population more than doubled
    await gap.kependudukan(3, people(100))
    await gap.kependudukan(0, people(140))  # against the one in force before (three months back): +40 %
    flags = await raised(pg)
    assert {f for f in flags if f[1] == "jump"} == {
        (up.id, "jump", "pus"),
        (drop.id, "jump", "pus"),
        (zero.id, "jump", "pus"),
        (population.id, "jump", "population"),
    }
    loose = await raised(pg, QualityRules(jump_share=0.3))
    assert (gap.id, "jump", "pus") in loose and (exact.id, "jump", "pus") in loose


async def test_implausible_ratios_and_their_false_positives(pg: asyncpg.Connection) -> None:
    one, ninety_nine, two, all_users, none, one_left = await villages(pg, 6)
    await one.kkbpk(0, {"kb_users": {"KB_SUNTIK": 100}, "non_users": {"HAMIL": 5}})
    await ninety_nine.kkbpk(0, {"kb_users": {"KB_SUNTIK": 99, "KB_PIL": 0}, "non_users": {"HAMIL": 5}})
    await two.kkbpk(0, {"kb_users": {"KB_SUNTIK": 99, "KB_PIL": 1}, "non_users": {"HAMIL": 5}})
    await all_users.kkbpk(0, {"kb_users": {"KB_SUNTIK": 5, "KB_PIL": 3}, "non_users": {"HAMIL": 0}})
    await none.kkbpk(0, {"kb_users": {}, "non_users": {}})  # no PUS at all: no ratio to judge
    await one_left.kkbpk(0, {"kb_users": {"KB_SUNTIK": 5, "KB_PIL": 3}, "non_users": {"IAT": 1}})
    flags = await raised(pg)
    assert flags == {(one.id, "implausible_ratio", "single_method"), (all_users.id, "implausible_ratio", "cpr_100")}


async def test_checked_flags_stay_checked_for_the_same_values(pg: asyncpg.Connection) -> None:
    (village,) = await villages(pg, 1)
    await village.kependudukan(1, people(100))
    await village.kependudukan(0, people(200))
    assert await raised(pg) == {(village.id, "jump", "pus")}
    await pg.execute("UPDATE quality_flag SET status = 'checked', checked_by = 'key:1', note = 'a new housing estate'")
    await raised(pg)
    assert await pg.fetchval("SELECT status FROM quality_flag") == "checked"
    await village.kependudukan(0, people(210))  # other values: open again
    await raised(pg)
    flag = await pg.fetchrow("SELECT status, value, note FROM quality_flag")
    assert (flag["status"], flag["value"], flag["note"]) == ("open", 210, None)
    await village.kependudukan(0, people(120))  # corrected: no flag any more
    assert await raised(pg) == set()
    assert await pg.fetchval("SELECT count(*) FROM quality_flag") == 0


async def test_the_pass_can_be_turned_off(pg: asyncpg.Connection) -> None:
    (village,) = await villages(pg, 1)
    await village.kependudukan(1, people(100))
    await village.kependudukan(0, people(200))
    settings = Settings(DATABASE_URL="postgresql://x/y", REDIS_URL="redis://x", quality_flags=False)  # type: ignore[call-arg]
    assert settings.quality_rules() is None
    outcome = await rebuild_period(pg, period=PERIOD, rulesets=RULESETS, quality=settings.quality_rules())
    assert outcome.flags == 0 and await pg.fetchval("SELECT count(*) FROM quality_flag") == 0
    assert Settings(DATABASE_URL="postgresql://x/y", REDIS_URL="redis://x").quality_rules() == DEFAULT_RULES  # type: ignore[call-arg]
    assert (await rebuild_period(pg, period=PERIOD, rulesets=RULESETS)).flags == 1
