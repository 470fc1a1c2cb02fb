"""The yearly shortlist of a region: one set-based statement ranks its Kampung KB, the rule stated beside it."""

import datetime as dt
import json

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared import periods
from kampungkb_shared.codes import Tier
from kampungkb_shared.errors import Unprocessable
from kampungkb_shared.periods import format_period
from kampungkb_shared.timeliness import FIRST_WRITTEN_SQL, DeadlineSettings
from registry_api.ranking.schemas import Ranked, RankedIndices, Ranking
from registry_api.reports.service import pct
from registry_api.wilayah.service import region_name

_RANK = "CASE c.tier " + " ".join(f"WHEN '{tier.value}' THEN {tier.rank}" for tier in Tier) + " ELSE 0 END"
_INDEX = "coalesce(c.indices[{position}], 0)"

_RANKING = text(f"""
WITH ranked AS (
    SELECT k.id, k.name, k.desa_code, k.percontohan_kecamatan, k.percontohan_kabupaten, k.percontohan_provinsi,
           coalesce(c.tier, 'belum_terklasifikasi') AS tier, c.period AS classified_period,
           c.indices[1] AS index_input, c.indices[2] AS index_proses, c.indices[3] AS index_output,
           {_INDEX.format(position=1)} + {_INDEX.format(position=2)} + {_INDEX.format(position=3)}
               AS index_sum,
           {_RANK} AS tier_rank,
           (SELECT count(DISTINCT s.period) FROM submission s
             WHERE s.kampung_id = k.id AND s.period BETWEEN :first AND :as_of) AS months_reported,
           (SELECT count(*) FROM (
                  SELECT s.period, min({FIRST_WRITTEN_SQL}) AS first_at FROM submission s
                   WHERE s.kampung_id = k.id AND s.period BETWEEN :first AND :as_of GROUP BY s.period
                ) f JOIN unnest(CAST(:months AS date[]), CAST(:deadlines AS timestamptz[])) AS m(period, deadline)
                      ON m.period = f.period
             WHERE f.first_at < m.deadline) AS months_on_time,
           (SELECT count(*) FROM quality_flag q
             WHERE q.kampung_id = k.id AND q.status = 'open' AND q.period BETWEEN :first AND :as_of) AS open_flags,
           (SELECT count(*) FROM kegiatan g WHERE g.kampung_id = k.id AND g.date BETWEEN :first AND :last_day)
               AS activities,
           (SELECT coalesce(json_object_agg(p.partner, p.n ORDER BY p.partner), '{{}}')::text
              FROM (SELECT partner, count(*) AS n FROM kegiatan g, unnest(g.partners) AS partner
                     WHERE g.kampung_id = k.id AND g.date BETWEEN :first AND :last_day GROUP BY partner) p
           ) AS partners
      FROM kampung k
      LEFT JOIN LATERAL (
            SELECT c.tier, c.period, c.indices FROM classification c
             WHERE c.kampung_id = k.id AND c.ruleset = :ruleset AND c.period <= :as_of
             ORDER BY c.period DESC LIMIT 1
      ) c ON true
     WHERE k.active AND k.formed_on <= :last_day AND (:code = '00' OR k.desa_code LIKE :code || '.%')
)
SELECT *, count(*) OVER () AS total FROM ranked
 ORDER BY tier_rank DESC, index_sum DESC, months_reported DESC, months_on_time DESC, open_flags, id
 LIMIT :limit""")

RULE = (
    "Active Kampung KB of the region formed by the end of the year, ranked by: 1. tier under {ruleset} as of {as_of} "
    "(berkelanjutan, mandiri, berkembang, dasar, then belum_terklasifikasi); 2. the sum of the three indices "
    "(input + proses + output) of that classification, a group not scored counting 0; 3. months of {year} reported "
    "(a month counts when any of profil, kependudukan or kkbpk was submitted for it); 4. of those, months reported on "
    "time (the month's first submission, of any of the three, first written by the end of day {deadline_day} of the "
    "next month in {time_zone}; a later correction does not make it late); 5. fewer open data-quality flags on the "
    "months of {year}; 6. the lower id."
)


def _float(value: object) -> float | None:
    return None if value is None else float(str(value))


async def get_ranking(
    session: AsyncSession,
    *,
    code: str,
    year: int,
    limit: int,
    ruleset: str,
    deadline: DeadlineSettings,
    today: dt.date | None = None,
) -> Ranking:
    today = today or periods.today()
    if year > today.year:
        raise Unprocessable.field(["query", "year"], f"must not be after the current year, {today.year}")
    name, _ = await region_name(session, code)
    # The year so far: a running year is ranked as of the current month.
    as_of = dt.date(year, 12, 1) if year < today.year else dt.date(year, today.month, 1)
    months = [dt.date(year, month, 1) for month in range(1, as_of.month + 1)]
    params = {
        "code": code,
        "ruleset": ruleset,
        "first": dt.date(year, 1, 1),
        "as_of": as_of,
        "months": months,
        "deadlines": [deadline.deadline(month) for month in months],
        "last_day": dt.date(year, 12, 31),
        "limit": limit,
    }
    rows = list(await session.execute(_RANKING, params))
    items = [
        Ranked(
            rank=position,
            kampung_id=row.id,
            name=row.name,
            desa_code=row.desa_code,
            tier=row.tier,
            classified_period=format_period(row.classified_period) if row.classified_period else None,
            indices=RankedIndices(
                input=_float(row.index_input), proses=_float(row.index_proses), output=_float(row.index_output)
            ),
            index_sum=float(row.index_sum),
            months_reported=row.months_reported,
            reporting_rate_pct=pct(row.months_reported, as_of.month),
            months_on_time=row.months_on_time,
            open_flags=row.open_flags,
            percontohan=[
                level for level in ("kecamatan", "kabupaten", "provinsi") if getattr(row, f"percontohan_{level}")
            ],
            activities=row.activities,
            activities_by_partner=json.loads(row.partners),
        )
        for position, row in enumerate(rows, start=1)
    ]
    return Ranking(
        code=code,
        name=name,
        year=year,
        ruleset=ruleset,
        as_of=format_period(as_of),
        months=as_of.month,
        rule=RULE.format(
            ruleset=ruleset,
            as_of=format_period(as_of),
            year=year,
            deadline_day=deadline.reporting_deadline_day,
            time_zone=deadline.reporting_time_zone,
        ),
        total=rows[0].total if rows else 0,
        items=items,
    )
