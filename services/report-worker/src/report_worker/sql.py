"""The aggregate statements, built once from the shared code lists.

Every figure stored is a count or a sum, so a provinsi (or the nation) is exactly the sum of its kabupaten rows;
percentages are ratios the registry derives on read. One row per (period, rule set, region).
"""

from collections.abc import Iterable
from enum import StrEnum

from kampungkb_shared.codes import MKJP_METHODS, UNMET_NEED_REASONS, Contraception, Facility, NonUseReason, Tier
from kampungkb_shared.reports import METHOD_COLUMNS, OWNERSHIP_FLAGS
from report_worker import timeliness

TIERS = [tier.value for tier in Tier]

# Each figure is computed per kecamatan first (hash aggregates), then summed up the levels (grouping sets).
_REGION_FIGURES: list[tuple[str, str]] = [
    ("desa_total", "count(*) FILTER (WHERE w.level = 'desa')"),
    ("desa", "count(*) FILTER (WHERE w.kind = 'desa')"),
    ("kelurahan", "count(*) FILTER (WHERE w.kind = 'kelurahan')"),
    ("kecamatan_total", "count(*) FILTER (WHERE w.level = 'kecamatan')"),
]
"""Of the region list itself (over `w`: its kecamatan and desa/kelurahan rows)."""


_KAMPUNG_FIGURES: list[tuple[str, str]] = [
    ("kecamatan_with_kampung", "1"),
    ("kampung_total", "count(*)"),
    ("kampung_desa", "count(*) FILTER (WHERE b.kind = 'desa')"),
    ("kampung_kelurahan", "count(*) FILTER (WHERE b.kind = 'kelurahan')"),
    ("reported", "count(*) FILTER (WHERE b.reported)"),
    ("percontohan", "count(*) FILTER (WHERE b.percontohan)"),
    ("profil_kampung", "count(*) FILTER (WHERE b.has_profil)"),
    *[(f"own_{name}", f"count(*) FILTER (WHERE b.own_{name})") for name in OWNERSHIP_FLAGS],
    ("kependudukan_kampung", "count(b.pus)"),
    ("pus", "coalesce(sum(b.pus), 0)"),
    ("kkbpk_kampung", "count(b.kb_users)"),
    ("kkbpk_pus", "coalesce(sum(b.kb_users + b.non_users), 0)"),
    ("kb_users", "coalesce(sum(b.kb_users), 0)"),
    ("mkjp_users", "coalesce(sum(b.mkjp_users), 0)"),
    *[(column, f"coalesce(sum(b.{column}), 0)") for column in METHOD_COLUMNS.values()],
    ("unmet_need", "coalesce(sum(b.unmet_need), 0)"),
    *timeliness.FIGURES,
]
"""Of the Kampung KB counted in a period, the same under every rule set (over `b`: one row per Kampung KB)."""

_TIER_FIGURES: list[tuple[str, str]] = [
    *[(f"tier_{tier}", f"count(*) FILTER (WHERE t.tier = '{tier}')") for tier in TIERS],
    *[(f"prev_{tier}", f"count(*) FILTER (WHERE t.prev_tier = '{tier}')") for tier in TIERS],
    ("promoted", "count(*) FILTER (WHERE t.prev_rank > 0 AND t.rank > t.prev_rank)"),
    ("demoted", "count(*) FILTER (WHERE t.rank > 0 AND t.rank < t.prev_rank)"),
]
"""Of their tiers under one rule set (over `t`: one row per Kampung KB and rule set)."""

FIGURES = [name for name, _ in _REGION_FIGURES + _KAMPUNG_FIGURES + _TIER_FIGURES]
"""The stored figures."""


def _columns(enum: type[StrEnum]) -> str:
    return ", ".join(f'"{code.value}" bigint' for code in enum)


def _sum_of(alias: str, codes: Iterable[StrEnum]) -> str:
    return " + ".join(f'coalesce({alias}."{code.value}", 0)' for code in sorted(codes))


def _in_force(module: str, columns: str, alias: str, joins: str = "", *, whole: bool = False) -> str:
    """The module's submission in force for the period: the newest at or before it (one index probe).

    `whole`, for a statement over a whole period (the nation, or a share of its provinsi): the period's own
    submissions are read first, all at once by the (module, period) index and joined by Kampung KB, and only a Kampung
    KB without one gets the probe. A probe per Kampung KB lands on a page of the (Kampung KB, module, period) key of
    its own once the key holds years of history: on 36 months of national history, 1.6 s for a national module against
    0.5 s so (1.2 s against 0.36 s with the month alone). A kabupaten's statement keeps the probes, a few hundred."""

    def probe(gate: str = "") -> str:
        return f"""
            SELECT s.kampung_id, s.period, {columns}, {timeliness.FIRST_WRITTEN} FROM submission s{joins}
             WHERE {gate}s.kampung_id = kk.id AND s.module = '{module}' AND s.period <= kk.period
             ORDER BY s.period DESC LIMIT 1"""

    if not whole:
        return f"""
      LEFT JOIN LATERAL ({probe()}
      ) {alias} ON true"""
    own = f"{alias}_own"
    return f"""
      LEFT JOIN (
            SELECT s.kampung_id, s.period, {columns}, {timeliness.FIRST_WRITTEN_OWN} FROM submission s{joins}
             WHERE s.module = '{module}' AND s.period = ANY($1::date[])
      ) {own} ON {own}.kampung_id = kk.id AND {own}.period = kk.period
      LEFT JOIN LATERAL (
            SELECT {own}.* WHERE {own}.kampung_id IS NOT NULL
            UNION ALL
            ({probe(gate=f"{own}.kampung_id IS NULL AND ")})
      ) {alias} ON true"""


def _rank(column: str) -> str:
    return f"CASE {column} " + " ".join(f"WHEN '{tier.value}' THEN {tier.rank}" for tier in Tier) + " END"


_BELUM = Tier.BELUM_TERKLASIFIKASI.value

# Each count object is read once into a record; a code left out counts as zero.
_KKBPK_JOINS = f"""
              CROSS JOIN LATERAL jsonb_to_record(s.payload->'kb_users') AS u({_columns(Contraception)})
              CROSS JOIN LATERAL jsonb_to_record(s.payload->'non_users') AS n({_columns(NonUseReason)})"""
_KKBPK_COLUMNS = ", ".join(
    [
        f"{_sum_of('u', Contraception)} AS kb_users",
        f"{_sum_of('u', MKJP_METHODS)} AS mkjp_users",
        *[f"{_sum_of('u', [code])} AS {column}" for code, column in METHOD_COLUMNS.items()],
        f"{_sum_of('n', UNMET_NEED_REASONS)} AS unmet_need",
        f"{_sum_of('n', NonUseReason)} AS non_users",
    ]
)

_PROFIL_JOINS = """
              CROSS JOIN LATERAL jsonb_to_record(s.payload)
                      AS p(pokja jsonb, facilities jsonb, pkb_pendamping boolean, regulations jsonb, rkm boolean)
              CROSS JOIN LATERAL jsonb_to_record(p.pokja) AS pk("exists" boolean, sk boolean, trained boolean)"""
_PROFIL_COLUMNS = ", ".join(
    [
        "coalesce(pk.exists, false) AS own_pokja",
        "coalesce(pk.exists AND pk.sk, false) AS own_sk_pokja",
        "coalesce(pk.exists AND pk.trained, false) AS own_pokja_trained",
        f"coalesce(p.facilities ? '{Facility.RUMAH_DATAKU.value}', false) AS own_rumah_dataku",
        f"coalesce(p.facilities ? '{Facility.SEKRETARIAT.value}', false) AS own_sekretariat",
        "coalesce(p.pkb_pendamping, false) AS own_pkb_pendamping",
        "coalesce(jsonb_array_length(p.regulations) > 0, false) AS own_regulation",
        "coalesce(p.rkm, false) AS own_rkm",
    ]
)

_GROUP_CODE = (
    "CASE WHEN GROUPING(kec) = 0 THEN kec WHEN GROUPING(kab) = 0 THEN kab "
    "WHEN GROUPING(prov) = 0 THEN prov ELSE '00' END"
)
_GROUP_LEVEL = (
    "CASE WHEN GROUPING(kec) = 0 THEN 'kecamatan' WHEN GROUPING(kab) = 0 THEN 'kabupaten' "
    "WHEN GROUPING(prov) = 0 THEN 'provinsi' ELSE 'nasional' END"
)
_GROUP_PARENT = (
    "CASE WHEN GROUPING(kec) = 0 THEN kab WHEN GROUPING(kab) = 0 THEN prov WHEN GROUPING(prov) = 0 THEN '00' END"
)

_COLUMNS = ", ".join(["period", "ruleset", "code", "level", "parent_code", "computed_at", *FIGURES])


def _listed(template: str, figures: list[tuple[str, str]], indent: int = 11) -> str:
    return (",\n" + " " * indent).join(
        template.format(name=name, expression=expression) for name, expression in figures
    )


def _branch(source: str, keys: str, own: list[tuple[str, str]]) -> str:
    """One per-kecamatan source: its own figures, NULL for the others' (sum() skips NULLs)."""
    mine = {name for name, _ in own}
    columns = ", ".join(name if name in mine else f"NULL::bigint AS {name}" for name in FIGURES)
    return f"SELECT {keys}, {columns} FROM {source}"


_IN_KABUPATEN = (
    "$2::text IS NULL OR k.kabupaten_code = $2::text",
    "($2::text IS NULL OR w.code LIKE $2::text || '.%')",
)
"""Which Kampung KB and which regions a statement reads: the kabupaten $2 (text), or every one where $2 is NULL."""
_IN_PROVINSI = ("k.provinsi_code = ANY($2::text[])", "left(w.code, 2) = ANY($2::text[])")
"""The provinsi $2 (text[])."""


def _insert_grouped(grouping_sets: str, within: tuple[str, str] = _IN_KABUPATEN, *, whole: bool = True) -> str:
    """$1 periods (date[]), $2 the regions read (`within`), $3 rule sets (text[]), $4 each period's reporting deadline
    (timestamptz[])."""
    in_kampung, in_wilayah = within
    keys = "period, ruleset, left(kec, 2) AS prov, left(kec, 5) AS kab, kec"
    return f"""
WITH periods AS (
    SELECT p AS period, (p + interval '1 month' - interval '1 day')::date AS period_end,
           (p - interval '1 month')::date AS prev_period, (p - interval '1 day')::date AS prev_end, deadline
      FROM unnest($1::date[], $4::timestamptz[]) AS x(p, deadline)
),
kk AS (
    -- the Kampung KB counted in a period: active, formed by its last day
    SELECT pr.period, pr.prev_period, pr.deadline, k.id, k.provinsi_code AS prov, k.kabupaten_code AS kab,
           k.kecamatan_code AS kec, w.kind, k.formed_on <= pr.prev_end AS in_prev,
           k.percontohan_kecamatan OR k.percontohan_kabupaten OR k.percontohan_provinsi AS percontohan
      FROM periods pr
      JOIN kampung k ON k.active AND k.formed_on <= pr.period_end
      JOIN wilayah w ON w.code = k.desa_code
     WHERE {in_kampung}
),
base AS MATERIALIZED (
    -- with the modules in force; "reported" means one of them was submitted for exactly this period
    SELECT kk.*, kk.period IN (prof.period, kep.period, kb.period) AS reported,
           prof.period IS NOT NULL AS has_profil, {", ".join(f"prof.own_{name}" for name in OWNERSHIP_FLAGS)},
           kep.pus, kb.kb_users, kb.mkjp_users, {", ".join(f"kb.{column}" for column in METHOD_COLUMNS.values())},
           kb.unmet_need, kb.non_users, {timeliness.BASE_COLUMNS}
      FROM kk{_in_force("profil", _PROFIL_COLUMNS, "prof", _PROFIL_JOINS, whole=whole)}{
        _in_force("kependudukan", "(s.payload->>'pus')::bigint AS pus", "kep", whole=whole)
    }{_in_force("kkbpk", _KKBPK_COLUMNS, "kb", _KKBPK_JOINS, whole=whole)}
),
kampung_per_kecamatan AS (
    SELECT b.period, b.kec,
           {_listed("{expression} AS {name}", _KAMPUNG_FIGURES)}
      FROM base b
     GROUP BY b.period, b.kec
),
tiers AS (
    -- from the two newest classifications at or before the period: the tier as of it, and as of the month before
    SELECT b.period, rs.ruleset, b.kec, c.tier, CASE WHEN b.in_prev THEN c.prev_tier END AS prev_tier
      FROM base b CROSS JOIN unnest($3::text[]) AS rs(ruleset)
      CROSS JOIN LATERAL (
            SELECT coalesce((array_agg(x.tier ORDER BY x.period DESC))[1], '{_BELUM}') AS tier,
                   coalesce((array_agg(x.tier ORDER BY x.period DESC))[
                                CASE WHEN max(x.period) = b.period THEN 2 ELSE 1 END], '{_BELUM}') AS prev_tier
              FROM (SELECT c.tier, c.period FROM classification c
                     WHERE c.kampung_id = b.id AND c.ruleset = rs.ruleset AND c.period <= b.period
                     ORDER BY c.period DESC LIMIT 2) x
      ) c
),
tiers_per_kecamatan AS (
    SELECT t.period, t.ruleset, t.kec,
           {_listed("{expression} AS {name}", _TIER_FIGURES)}
      FROM (SELECT t.*, {_rank("t.tier")} AS rank, {_rank("t.prev_tier")} AS prev_rank FROM tiers t) t
     GROUP BY t.period, t.ruleset, t.kec
),
region_per_kecamatan AS (
    SELECT left(w.code, 8) AS kec,
           {_listed("{expression} AS {name}", _REGION_FIGURES)}
      FROM wilayah w
     WHERE w.level IN ('kecamatan', 'desa') AND {in_wilayah}
     GROUP BY 1
),
per_kecamatan AS (
    -- no joins between aggregates: the three sources are stacked and summed together
    {
        _branch(
            "region_per_kecamatan CROSS JOIN periods CROSS JOIN unnest($3::text[]) AS rs(ruleset)",
            keys,
            _REGION_FIGURES,
        )
    }
    UNION ALL
    {_branch("kampung_per_kecamatan CROSS JOIN unnest($3::text[]) AS rs(ruleset)", keys, _KAMPUNG_FIGURES)}
    UNION ALL
    {_branch("tiers_per_kecamatan", keys, _TIER_FIGURES)}
)
INSERT INTO report_aggregate ({_COLUMNS})
SELECT period, ruleset, {_GROUP_CODE}, {_GROUP_LEVEL}, {_GROUP_PARENT}, now(),
       {_listed("coalesce(sum({name}), 0)", _REGION_FIGURES + _KAMPUNG_FIGURES + _TIER_FIGURES, 7)}
  FROM per_kecamatan
 GROUP BY period, ruleset, GROUPING SETS ({grouping_sets})"""


INSERT_ALL_LEVELS = _insert_grouped("(prov, kab, kec), (prov, kab), (prov), ()")
"""Every kecamatan, kabupaten, provinsi and the nation, from base data, in one statement."""

INSERT_CHAIN = _insert_grouped("(prov, kab, kec), (prov, kab)", whole=False)
"""One kabupaten ($2) and its kecamatan, from base data."""

INSERT_PROVINSI_LEVELS = _insert_grouped("(prov, kab, kec), (prov, kab), (prov)", _IN_PROVINSI)
"""The provinsi $2 (text[]), their kabupaten and their kecamatan, from base data: one share of a rebuild made on
several connections side by side, the nation summed from the provinsi rows after (`UPSERT_NATION`)."""

_SUMS = ",\n       ".join(f"sum(a.{name})" for name in FIGURES)
_UPDATES = ", ".join(f"{name} = excluded.{name}" for name in ["level", "parent_code", "computed_at", *FIGURES])


def _summed(children: str, level: str, code: str, parent_code: str) -> str:
    """A region's rows as the sums of its children's rows (`parent_code` = `code`), one per period and rule set: $1
    periods, $2 rule sets. One probe of the children's index, not a scan of the period's rows."""
    return f"""
INSERT INTO report_aggregate ({_COLUMNS})
SELECT a.period, a.ruleset, {code}, '{level}', {parent_code}, now(),
       {_SUMS}
  FROM report_aggregate a
 WHERE a.period = ANY($1::date[]) AND a.ruleset = ANY($2::text[]) AND a.parent_code = {code} AND a.level = '{children}'
 GROUP BY a.period, a.ruleset
ON CONFLICT (period, ruleset, code) DO UPDATE SET {_UPDATES}"""


UPSERT_PROVINSI = _summed("kabupaten", "provinsi", "$3::text", "'00'")
"""The provinsi $3: the sum of all its kabupaten rows (fresh and untouched)."""
UPSERT_NATION = _summed("provinsi", "nasional", "'00'", "NULL")
"""The nation: the sum of the provinsi rows. Each provinsi row is the sum of its kabupaten rows as committed, since
every change of a kabupaten row sums its provinsi again in the same transaction, under the roll-up lock."""


def rows_written(status: str) -> int:
    """The rows a statement wrote, from its command status (`INSERT 0 12`, `DELETE 3`)."""
    return int(status.rsplit(" ", 1)[-1])


DELETE_PERIOD = "DELETE FROM report_aggregate WHERE period = ANY($1::date[]) AND ruleset = ANY($2::text[])"

DELETE_PROVINSI_LEVELS = """
DELETE FROM report_aggregate
 WHERE period = ANY($1::date[]) AND ruleset = ANY($3::text[]) AND code <> '00' AND left(code, 2) = ANY($2::text[])"""
"""The rows of the provinsi $2 (text[]) and of every region in them."""

DELETE_OUTSIDE = """
DELETE FROM report_aggregate
 WHERE period = ANY($1::date[]) AND ruleset = ANY($2::text[]) AND left(code, 2) <> ALL($3::text[])"""
"""The rows of regions in none of the provinsi $3 (text[]): the nation's (summed again next), and those of a provinsi
the region list no longer holds."""


DELETE_CHAIN = """
DELETE FROM report_aggregate
 WHERE period = ANY($1::date[]) AND ruleset = ANY($3::text[])
   AND (level = 'kabupaten' AND code = $2::text OR level = 'kecamatan' AND parent_code = $2::text)"""
"""The rows of the kabupaten $2 and of its kecamatan: two index probes (by code, by parent), not a filter over the
period's rows."""

COMPUTED_PERIODS = """
SELECT period FROM report_period
 WHERE period >= $1::date AND ruleset = ANY($2::text[])
 GROUP BY period HAVING count(*) = cardinality($2::text[])
 ORDER BY period"""
"""Periods at or after $1 fully rebuilt for every rule set: only these have kabupaten rows to roll up."""

MARK_REBUILT = """
INSERT INTO report_period (period, ruleset, rebuilt_at, refreshed_at)
SELECT p, rs, now(), now() FROM unnest($1::date[]) AS p CROSS JOIN unnest($2::text[]) AS rs
ON CONFLICT (period, ruleset) DO UPDATE SET rebuilt_at = excluded.rebuilt_at, refreshed_at = excluded.refreshed_at"""

MARK_REFRESHED = (
    "UPDATE report_period SET refreshed_at = now() WHERE period = ANY($1::date[]) AND ruleset = ANY($2::text[])"
)
