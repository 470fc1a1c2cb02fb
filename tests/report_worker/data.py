"""A random but fixed-seed dataset over several demo provinces, written straight into the tables with asyncpg."""

import datetime as dt
import json
import random
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from kampungkb_local.demo import demo_regions
from kampungkb_shared.codes import (
    Contraception,
    DataSource,
    Facility,
    FundingSource,
    NonUseReason,
    Poktan,
    Regulation,
    Tier,
)
from kampungkb_shared.modules import KependudukanPayload, KkbpkPayload, ProfilPayload
from kampungkb_shared.periods import add_months

RULESETS = ["bkkbn-web-2021", "kkb-2025"]
PERIODS = [dt.date(2025, month, 1) for month in range(1, 7)]
"""The periods the tests aggregate; submissions and classifications start three months earlier."""
FIRST_DATA_PERIOD = add_months(PERIODS[0], -3)
PROVINCES_WITH_KAMPUNG = ("97", "98")
EMPTY_PROVINSI = "96"
"""Regions only: no Kampung KB anywhere in it."""


@dataclass
class Dataset:
    regions: list[dict[str, str]]
    kampung_ids: list[int] = field(default_factory=list)


def _pick(rng: random.Random, values: list[str]) -> list[str]:
    return rng.sample(values, rng.randint(0, len(values)))


def profil(rng: random.Random) -> dict[str, Any]:
    members = rng.randint(0, 20)
    payload = ProfilPayload.model_validate(
        {
            "pokja": {
                "exists": rng.random() < 0.8,
                "sk": rng.random() < 0.6,
                "members": members,
                "trained_members": rng.randint(0, members),
                "trained": rng.random() < 0.5,
            },
            "funding_sources": _pick(rng, [c.value for c in FundingSource]),
            "poktan": _pick(rng, [c.value for c in Poktan]),
            "facilities": _pick(rng, [c.value for c in Facility]),
            "pkb_pendamping": rng.random() < 0.5,
            "regulations": _pick(rng, [c.value for c in Regulation]),
            "rkm": rng.random() < 0.5,
            "data_sources": _pick(rng, [c.value for c in DataSource]),
        }
    )
    return payload.model_dump(mode="json")


def kependudukan(rng: random.Random) -> dict[str, Any]:
    families = rng.randint(0, 900)
    return KependudukanPayload(
        pus=rng.randint(0, 700),
        families=families,
        remaja=rng.randint(0, 400),
        families_with_balita=rng.randint(0, families),
        families_with_remaja=rng.randint(0, families),
        families_with_lansia=rng.randint(0, families),
    ).model_dump(mode="json", exclude_none=True)


def kkbpk(rng: random.Random) -> dict[str, Any]:
    # Some methods and reasons are left out: a missing code counts as zero.
    return KkbpkPayload.model_validate(
        {
            "kb_users": {code: rng.randint(0, 90) for code in _pick(rng, [c.value for c in Contraception])},
            "non_users": {code: rng.randint(0, 60) for code in _pick(rng, [c.value for c in NonUseReason])},
        }
    ).model_dump(mode="json")


MODULES = {"profil": profil, "kependudukan": kependudukan, "kkbpk": kkbpk}


def all_regions() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for provinsi in (*PROVINCES_WITH_KAMPUNG, EMPTY_PROVINSI):
        rows += demo_regions(provinsi=provinsi, kecamatan_per_kabupaten=3, desa_per_kecamatan=5)
    return rows


async def insert_regions(connection: asyncpg.Connection, rows: list[dict[str, str]]) -> None:
    await connection.executemany(
        "INSERT INTO wilayah (code, name, level, kind, parent_code) VALUES ($1, $2, $3, $4, $5)",
        [(r["code"], r["name"], r["level"], r["kind"] or None, r["parent_code"] or None) for r in rows],
    )


async def insert_kampung(
    connection: asyncpg.Connection,
    desa_code: str,
    *,
    formed_on: dt.date,
    active: bool = True,
    percontohan_kabupaten: bool = False,
    percontohan_provinsi: bool = False,
) -> int:
    prov, kab, kec = desa_code[:2], desa_code[:5], desa_code[:8]
    return int(
        await connection.fetchval(
            """INSERT INTO kampung (name, desa_code, kecamatan_code, kabupaten_code, provinsi_code, formed_on, active,
                                percontohan_kabupaten, percontohan_provinsi)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id""",
            f"Kampung KB {desa_code}",
            desa_code,
            kec,
            kab,
            prov,
            formed_on,
            active,
            percontohan_kabupaten,
            percontohan_provinsi,
        )
    )


async def upsert_submission(
    connection: asyncpg.Connection,
    kampung_id: int,
    module: str,
    period: dt.date,
    payload: dict[str, Any],
    *,
    at: dt.datetime | None = None,
    by: str | None = None,
) -> None:
    """A revision written at `at` (default now); the version it replaces, if any, is kept by the trigger on
    `submission`, as the registry keeps them."""
    await connection.execute(
        """INSERT INTO submission (kampung_id, module, period, payload, content_hash, revision, submitted_at,
                                   submitted_by)
           VALUES ($1, $2, $3, $4::jsonb, 'h', 1, coalesce($5, now()), $6)
           ON CONFLICT (kampung_id, module, period)
           DO UPDATE SET payload = excluded.payload, revision = submission.revision + 1,
                         submitted_at = excluded.submitted_at, submitted_by = excluded.submitted_by""",
        kampung_id,
        module,
        period,
        json.dumps(payload),
        at,
        by,
    )


WIB = dt.timezone(dt.timedelta(hours=7))


def written_at(position: int, module: str, period: dt.date) -> dt.datetime:
    """When a generated submission was first written: in the month after its period, many around the 10th's end
    in WIB (the default deadline), some before the month was over (early), a few months later (very late). Keyed by
    the Kampung KB's position in the dataset, not its id: ids depend on what the tests before wrote."""
    rng = random.Random(f"{position}:{module}:{period}")
    following = add_months(period, 1)
    choice = rng.random()
    if choice < 0.3:  # the last minute of the deadline day, or the first of the next
        return dt.datetime.combine(following.replace(day=10), dt.time(23, 59, 59, 999_999), WIB) + dt.timedelta(
            microseconds=rng.choice([0, 1])
        )
    if choice < 0.4:
        return dt.datetime.combine(period.replace(day=20), dt.time(8), WIB)
    if choice < 0.5:
        return dt.datetime.combine(add_months(period, 3).replace(day=2), dt.time(9), WIB)
    return dt.datetime.combine(following.replace(day=rng.randint(1, 28)), dt.time(rng.randint(0, 23)), WIB)


async def upsert_classification(
    connection: asyncpg.Connection, kampung_id: int, period: dt.date, ruleset: str, tier: str
) -> None:
    await connection.execute(
        "INSERT INTO classification_snapshot (hash, snapshot) VALUES ('s', '{}') ON CONFLICT DO NOTHING"
    )
    await connection.execute(
        """INSERT INTO classification
                  (kampung_id, period, ruleset, ruleset_hash, tier, snapshot_hash, scores, indices, passed)
           VALUES ($1, $2, $3, 'r', $4, 's', array_fill(NULL::smallint, ARRAY[12]),
                   array_fill(NULL::numeric, ARRAY[3]), array_fill(NULL::boolean, ARRAY[3]))
           ON CONFLICT (kampung_id, period, ruleset) DO UPDATE SET tier = excluded.tier, computed_at = now()""",
        kampung_id,
        period,
        ruleset,
        tier,
    )


async def generate(connection: asyncpg.Connection, *, seed: int = 20251123) -> Dataset:
    """Kampung KB in most desa of two provinces (some deactivated, some formed mid-range, none at all in one
    kecamatan), submissions on random months (back-dated ones included), classifications on random months."""
    rng = random.Random(seed)
    regions = all_regions()
    await insert_regions(connection, regions)
    dataset = Dataset(regions=regions)
    desas = [r["code"] for r in regions if r["level"] == "desa" and r["code"][:2] in PROVINCES_WITH_KAMPUNG]
    data_periods = [add_months(FIRST_DATA_PERIOD, n) for n in range(3 + len(PERIODS))]
    percontohan_done: set[str] = set()
    for desa in desas:
        if desa.startswith("98.71.02.") or rng.random() < 0.15:
            continue  # a kecamatan without any Kampung KB, and scattered desa without one
        if rng.random() < 0.12:
            # a deactivated one, sometimes replaced by a new active one in the same desa
            old = await insert_kampung(connection, desa, formed_on=dt.date(2017, 3, 1), active=False)
            dataset.kampung_ids.append(old)
            if rng.random() < 0.5:
                continue
        if rng.random() < 0.25:  # formed within the periods of the tests
            start = PERIODS[0] + dt.timedelta(days=rng.randint(-20, 170))
        else:
            start = dt.date(2016, 1, 1) + dt.timedelta(days=rng.randint(0, 365 * 9))
        kab = desa[:5]
        flag = kab not in percontohan_done and rng.random() < 0.3
        if flag:
            percontohan_done.add(kab)
        dataset.kampung_ids.append(await insert_kampung(connection, desa, formed_on=start, percontohan_kabupaten=flag))
    for position, kampung_id in enumerate(dataset.kampung_ids):
        if rng.random() < 0.1:
            continue  # never reported anything
        for module, make in MODULES.items():
            for period in data_periods:
                if rng.random() < 0.35:
                    first = written_at(position, module, period)
                    await upsert_submission(connection, kampung_id, module, period, make(rng), at=first, by="op")
                    if position % 4 == 0:  # corrected later: the first revision's time still decides
                        payload = await connection.fetchval(
                            "SELECT payload::text FROM submission"
                            " WHERE kampung_id = $1 AND module = $2 AND period = $3",
                            kampung_id,
                            module,
                            period,
                        )
                        later = first + dt.timedelta(days=40)
                        await upsert_submission(
                            connection, kampung_id, module, period, json.loads(payload), at=later, by="fixer"
                        )
        for ruleset in RULESETS:
            for period in data_periods:
                if rng.random() < 0.3:
                    tier = rng.choice([t.value for t in Tier])
                    await upsert_classification(connection, kampung_id, period, ruleset, tier)
    return dataset
