"""Rules that join modules: checked against what is in force, before a submission is stored.

- `kkbpk`: KB users + non-users equal the PUS of the kependudukan in force (so one must be in force), each
  poktan's participants stay within their kependudukan denominator, and participants are only counted for
  poktan the profil in force marks present (as on the official site, where only active poktan can be filled).
  Without a profil in force, poktan presence is unknown ("belum diisi") and not held against the kkbpk.
- `kependudukan` and `profil` must not break a kkbpk already stored whose period they would govern: the kkbpk
  submissions from their period up to the next submission of the same module. Such a write is refused with
  a 422 naming the conflicting kkbpk period, rather than leaving stored data that violates the rules.
"""

import datetime as dt

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
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.submissions.models import Submission
from registry_api.submissions.schemas import Module, ModulePayload


async def check_cross_module(
    session: AsyncSession, *, kampung_id: int, module: Module, period: dt.date, payload: ModulePayload
) -> None:
    """Raise a 422 listing every violation, each with `loc` naming the field of the written payload."""
    if isinstance(payload, KkbpkPayload):
        errors = await _kkbpk_errors(session, kampung_id=kampung_id, period=period, kkbpk=payload)
    elif isinstance(payload, KependudukanPayload):
        errors = [
            error
            for kkbpk_period, kkbpk in await _governed_kkbpk(
                session, kampung_id=kampung_id, module=module, period=period
            )
            for error in _kependudukan_conflicts(payload, kkbpk, kkbpk_period)
        ]
    else:
        errors = [
            error
            for kkbpk_period, kkbpk in await _governed_kkbpk(
                session, kampung_id=kampung_id, module=module, period=period
            )
            for error in _poktan_absent(payload, kkbpk, loc=["body", "poktan"], kkbpk_period=kkbpk_period)
        ]
    if errors:
        detail = "; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors[:5])
        raise Unprocessable(detail, errors=errors)


async def _in_force(session: AsyncSession, *, kampung_id: int, module: Module, period: dt.date) -> Submission | None:
    query = (
        select(Submission)
        .where(Submission.kampung_id == kampung_id, Submission.module == module, Submission.period <= period)
        .order_by(Submission.period.desc())
        .limit(1)
    )
    return await session.scalar(query)


async def _kkbpk_errors(
    session: AsyncSession, *, kampung_id: int, period: dt.date, kkbpk: KkbpkPayload
) -> list[FieldError]:
    kependudukan = await _in_force(session, kampung_id=kampung_id, module=Module.KEPENDUDUKAN, period=period)
    if kependudukan is None:
        msg = f"no kependudukan in force for {format_period(period)}: submit the kependudukan (PUS) first"
        return [FieldError(loc=["body", "kb_users"], msg=msg)]
    source = f"the kependudukan of {format_period(kependudukan.period)}"
    errors = [
        FieldError(loc=["body", *error.loc[1:]], msg=f"{error.msg} ({source})")
        for error in cross_module_errors(KependudukanPayload.model_validate(kependudukan.payload), kkbpk)
    ]
    profil = await _in_force(session, kampung_id=kampung_id, module=Module.PROFIL, period=period)
    if profil is not None:
        errors += _poktan_absent(
            ProfilPayload.model_validate(profil.payload), kkbpk, loc=None, profil_period=profil.period
        )
    return errors


async def _governed_kkbpk(
    session: AsyncSession, *, kampung_id: int, module: Module, period: dt.date
) -> list[tuple[dt.date, KkbpkPayload]]:
    """The stored kkbpk whose `module` in force would be the one written at `period`."""
    next_period = (
        select(func.min(Submission.period))
        .where(Submission.kampung_id == kampung_id, Submission.module == module, Submission.period > period)
        .scalar_subquery()
    )
    query = (
        select(Submission.period, Submission.payload)
        .where(
            Submission.kampung_id == kampung_id,
            Submission.module == Module.KKBPK,
            Submission.period >= period,
            or_(next_period.is_(None), Submission.period < next_period),
        )
        .order_by(Submission.period)
    )
    return [(row.period, KkbpkPayload.model_validate(row.payload)) for row in await session.execute(query)]


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
    profil: ProfilPayload,
    kkbpk: KkbpkPayload,
    *,
    loc: list[str | int] | None,
    kkbpk_period: dt.date | None = None,
    profil_period: dt.date | None = None,
) -> list[FieldError]:
    errors = []
    present = set(profil.poktan)
    for poktan, participants in kkbpk.poktan_participants.items():
        if participants == 0 or poktan in present:
            continue
        if kkbpk_period is not None:
            when = format_period(kkbpk_period)
            msg = f"{poktan.value} is not present, but the kkbpk of {when} counts {participants} participants"
        else:
            msg = f"{poktan.value} is not marked present in the profil of {format_period(profil_period or dt.date.min)}"
        errors.append(FieldError(loc=loc or ["body", "poktan_participants", poktan.value], msg=msg))
    return errors
