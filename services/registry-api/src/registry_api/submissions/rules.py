"""Rules that join modules: checked against what is in force, before a submission is stored.

- `kkbpk`: KB users + non-users equal the PUS of the kependudukan in force (so one must be in force), each
  poktan's participants stay within their kependudukan denominator, and participants are only counted for
  poktan the profil in force marks present (as on the official site, where only active poktan can be filled).
  Without a profil in force, poktan presence is unknown ("belum diisi") and not held against the kkbpk.
- `kependudukan` and `profil` must not break a kkbpk already stored whose period they would govern: the kkbpk
  submissions from their period up to the next submission of the same module. Such a write is refused with
  a 422 naming the conflicting kkbpk period, rather than leaving stored data that violates the rules.
- Several modules of one period written together are checked as a set: each against the others as written.

What each module's rules read (`READS`) decides which writes may go side by side: `kependudukan` and `profil` read
only the kkbpk and neither reads the other, so their bulk writes share a Kampung KB's lock (`SHARED_LOCK_MODULES`);
a kkbpk write reads both and waits for them.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.codes import Poktan
from kampungkb_shared.errors import FieldError, Unprocessable
from kampungkb_shared.modules import (
    POKTAN_DENOMINATOR,
    KependudukanPayload,
    KkbpkPayload,
    ProfilPayload,
    cross_module_errors,
)
from kampungkb_shared.periods import format_period
from kampungkb_shared.statistics import analyze_stale
from registry_api.classifications.snapshots import in_force
from registry_api.db import session_driver
from registry_api.submissions.schemas import Module, ModulePayload

READS: dict[Module, frozenset[Module]] = {
    Module.KKBPK: frozenset({Module.KEPENDUDUKAN, Module.PROFIL}),
    Module.KEPENDUDUKAN: frozenset({Module.KKBPK}),
    Module.PROFIL: frozenset({Module.KKBPK}),
}
"""The modules in force that the rules of a write of each module read."""

SHARED_LOCK_MODULES = frozenset({Module.KEPENDUDUKAN, Module.PROFIL})
"""Modules whose bulk writes go side by side on one Kampung KB (`changes.pipeline.lock(shared=True)`): none of them
reads another."""
assert not any(a in READS[b] for a in SHARED_LOCK_MODULES for b in SHARED_LOCK_MODULES)

MERGED_AFTER: dict[Module, frozenset[Module]] = {Module.KKBPK: READS[Module.KKBPK]}
"""The files of a month merge in this order whatever order they arrive in: a kkbpk import (its users and non-users
must add up to the PUS in force, its poktan be present in the profil in force) is claimed only once every import of
the modules it reads, for its period or an earlier one, is claimed, and merges only once they have finished (it reads
its file meanwhile)."""

_FRESH_STATISTICS_FROM = 1_000
"""Writes checked at once from which stale planner statistics of `submission` are refreshed first."""


_MODELS: dict[Module, type[ModulePayload]] = {
    Module.PROFIL: ProfilPayload,
    Module.KEPENDUDUKAN: KependudukanPayload,
    Module.KKBPK: KkbpkPayload,
}


@dataclass(frozen=True)
class Write:
    """One submission about to be stored: the Kampung KB, the period and the validated payload, or its canonical
    JSON (an import's staged row: parsed only when a rule needs it, so that a national file is never held as
    models)."""

    kampung_id: int
    period: dt.date
    payload: ModulePayload | str

    def model(self, module: Module) -> ModulePayload:
        if isinstance(self.payload, str):
            return _MODELS[module].model_validate_json(self.payload)
        return self.payload


async def check_cross_module(
    session: AsyncSession, *, kampung_id: int, period: dt.date, payloads: Mapping[Module, ModulePayload], nested: bool
) -> None:
    """Raise a 422 listing every violation of the modules written, each `loc` naming the field of its payload (under
    the module's name when `nested`: `body.kkbpk.kb_users`).

    Called once the modules are written, in the writer's transaction (rolled back by the 422): each module then meets
    the others of its set as the ones in force, so a PUS change is checked together with its kkbpk."""
    errors: list[FieldError] = []
    for module, payload in payloads.items():
        write = Write(kampung_id=kampung_id, period=period, payload=payload)
        [found] = await cross_module_violations(session, module=module, writes=[write])
        prefix: list[str | int] = ["body", module.value] if nested else ["body"]
        errors += [FieldError(loc=[*prefix, *error.loc[1:]], msg=error.msg) for error in found]
    if errors:
        detail = "; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors[:5])
        raise Unprocessable(detail, errors=errors)


async def cross_module_violations(
    session: AsyncSession, *, module: Module, writes: Sequence[Write]
) -> list[list[FieldError]]:
    """The violations of each write (same order), `loc` starting with `body`; what is in force is read in one query.

    Writes of one call are checked against what is stored, not against each other: a bulk caller passes at most one
    write per Kampung KB and period.
    """
    if not writes:
        return []
    driver = await session_driver(session)
    if len(writes) >= _FRESH_STATISTICS_FROM:
        # A bulk caller may have waited for the locks of another import that stored thousands of the rows read here
        # since the statistics were taken. The lookups below hold their plans whatever the statistics say; the
        # statements of the same transaction after them (the write, the classification) are planned on these.
        await analyze_stale(driver, ["submission"])
    ids, periods = [w.kampung_id for w in writes], [w.period for w in writes]
    if module is Module.KKBPK:
        rows = {row["i"]: row for row in await driver.fetch(_IN_FORCE_FOR_KKBPK, ids, periods)}
        return [
            _kkbpk_errors(write.model(module), write.period, rows.get(index)) for index, write in enumerate(writes, 1)
        ]
    governed: dict[int, list[tuple[dt.date, KkbpkPayload]]] = defaultdict(list)
    for row in await driver.fetch(_GOVERNED_KKBPK, ids, periods, module.value):
        governed[row["i"]].append((row["period"], KkbpkPayload.model_validate_json(row["payload"])))
    results: list[list[FieldError]] = []
    for index, write in enumerate(writes, start=1):
        if not governed[index]:  # the common case: nothing to parse the payload for
            results.append([])
            continue
        payload = write.model(module)
        if isinstance(payload, KependudukanPayload):
            errors = [
                error
                for kkbpk_period, kkbpk in governed[index]
                for error in _kependudukan_conflicts(payload, kkbpk, kkbpk_period)
            ]
        elif isinstance(payload, ProfilPayload):
            errors = [
                error
                for kkbpk_period, kkbpk in governed[index]
                for error in _poktan_absent(payload.poktan, kkbpk, loc=["body", "poktan"], kkbpk_period=kkbpk_period)
            ]
        else:
            raise TypeError(f"a {type(payload).__name__} is not a {module} payload")
        results.append(errors)
    return results


# One descent of the (kampung_id, module, period) key per write and module (`in_force`): joined set to set, a long
# history made the planner hash every stored submission for each page of writes.
# Of the modules in force, only what the kkbpk's rules read: the kependudukan's counts (its population by age group,
# when given, is 32 counts more to validate, and was two thirds of the rule check's parsing on a national file) and the
# poktan the profil marks present (an empty list when it marks none).
_IN_FORCE_FOR_KKBPK = f"""
    SELECT w.i, k.period AS kependudukan_period, CAST(k.payload - 'population' AS text) AS kependudukan,
           p.period AS profil_period,
           CASE WHEN p.period IS NOT NULL THEN CAST(coalesce(p.payload -> 'poktan', '[]') AS text) END AS poktan
      FROM unnest(CAST($1 AS bigint[]), CAST($2 AS date[])) WITH ORDINALITY AS w(kampung_id, period, i)
      LEFT JOIN LATERAL ({in_force("kependudukan", kampung_id="w.kampung_id", period="w.period")}) AS k ON true
      LEFT JOIN LATERAL ({in_force("profil", kampung_id="w.kampung_id", period="w.period")}) AS p ON true
"""

# The stored kkbpk whose `module` in force would be the one written at the write's period: from that period up to
# (not including) the next submission of the same module. Payloads come back as JSON text: pydantic parses it several
# times faster than the driver's `json.loads` followed by validating the dict.
# One lookup per write on purpose: the LATERAL reads the Kampung KB's own rows from the write's period on (an index
# range on `kampung_id`) and the window finds the next submission of `module` among them, so no condition on `module`
# alone reaches the scan. Joined set to set, the plan hangs on statistics: rows another import committed while this
# one waited for their locks are missing from them, the planner takes `kkbpk` for a module with no row and walks the
# (module, period) index or rescans every kkbpk once per write (quadratic: 70 s for each page of 5,000 profil rows
# of a national month whose kkbpk is already stored, against 0.2 s now).
_GOVERNED_KKBPK = """
    SELECT w.i, s.period, CAST(s.payload AS text) AS payload
      FROM unnest(CAST($1 AS bigint[]), CAST($2 AS date[])) WITH ORDINALITY AS w(kampung_id, period, i)
     CROSS JOIN LATERAL (
           SELECT s.module, s.period, s.payload,
                  min(s.period) FILTER (WHERE s.module = $3 AND s.period > w.period) OVER () AS superseded
             FROM submission s
            WHERE s.kampung_id = w.kampung_id AND s.period >= w.period
           ) AS s
     WHERE s.module = 'kkbpk' AND (s.superseded IS NULL OR s.period < s.superseded)
     ORDER BY w.i, s.period
"""


def _kkbpk_errors(kkbpk: ModulePayload, period: dt.date, in_force: Mapping[str, Any] | None) -> list[FieldError]:
    assert isinstance(kkbpk, KkbpkPayload)
    if in_force is None or in_force["kependudukan"] is None:
        msg = f"no kependudukan in force for {format_period(period)}: submit the kependudukan (PUS) first"
        return [FieldError(loc=["body", "kb_users"], msg=msg)]
    errors = cross_module_errors(KependudukanPayload.model_validate_json(in_force["kependudukan"]), kkbpk)
    if errors:  # the source named only where there is an error: of a national file's 83,762 rows, few or none
        source = f"the kependudukan of {format_period(in_force['kependudukan_period'])}"
        errors = [FieldError(loc=["body", *error.loc[1:]], msg=f"{error.msg} ({source})") for error in errors]
    if in_force["poktan"] is not None:
        present = orjson.loads(in_force["poktan"])
        errors += _poktan_absent(present, kkbpk, loc=None, profil_period=in_force["profil_period"])
    return errors


def _kependudukan_conflicts(
    kependudukan: KependudukanPayload, kkbpk: KkbpkPayload, kkbpk_period: dt.date
) -> list[FieldError]:
    errors = []
    for error in cross_module_errors(kependudukan, kkbpk):
        field = "pus" if error.loc[1] == "kb_users" else POKTAN_DENOMINATOR[Poktan(str(error.loc[2]))]
        msg = f"conflicts with the kkbpk of {format_period(kkbpk_period)}: {error.msg}"
        errors.append(FieldError(loc=["body", field], msg=msg))
    return errors


def _poktan_absent(
    present: Collection[str],
    kkbpk: KkbpkPayload,
    *,
    loc: list[str | int] | None,
    kkbpk_period: dt.date | None = None,
    profil_period: dt.date | None = None,
) -> list[FieldError]:
    """The kkbpk's poktan with participants that the profil does not mark `present`."""
    errors = []
    marked = set(present)
    for poktan, participants in kkbpk.poktan_participants.items():
        if participants == 0 or poktan in marked:
            continue
        if kkbpk_period is not None:
            when = format_period(kkbpk_period)
            msg = f"{poktan.value} is not present, but the kkbpk of {when} counts {participants} participants"
        else:
            msg = f"{poktan.value} is not marked present in the profil of {format_period(profil_period or dt.date.min)}"
        errors.append(FieldError(loc=loc or ["body", "poktan_participants", poktan.value], msg=msg))
    return errors
