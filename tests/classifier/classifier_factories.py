"""Snapshot builders for the classifier tests: JSON-shaped dicts, as the registry would send them."""

from typing import Any

from hypothesis import strategies as st

from classifier.ruleset import RuleSet, load_rulesets
from classifier.scoring import classify
from kampungkb_shared.classification import ClassificationResult, Snapshot
from kampungkb_shared.codes import (
    OWN_SECTOR_INSTANSI,
    DataSource,
    Facility,
    FundingSource,
    Instansi,
    OperationalItem,
    Poktan,
    Regulation,
)

PERIOD = "2025-06"
RULESETS = load_rulesets()
OFFICIAL = RULESETS["bkkbn-web-2021"]
STRICT = RULESETS["kkb-2025"]
PARTNER_CODES = [c.value for c in Instansi if c not in OWN_SECTOR_INSTANSI]


def profil(
    *,
    pokja: tuple[bool, int, bool] = (True, 12, True),
    funding: int = 2,
    poktan: int = 3,
    facilities: int = 1,
    pkb: bool = True,
    regulations: int = 1,
    data_sources: int = 2,
    operational: int = 3,
) -> dict[str, Any]:
    """A profil with the given counts of each code list (taken in list order)."""
    exists, members, trained = pokja
    return {
        "pokja": {"exists": exists, "members": members, "trained": trained},
        "funding_sources": [c.value for c in FundingSource][:funding],
        "poktan": [c.value for c in Poktan][:poktan],
        "facilities": [c.value for c in Facility][:facilities],
        "pkb_pendamping": pkb,
        "regulations": [c.value for c in Regulation][:regulations],
        "data_sources": [c.value for c in DataSource][:data_sources],
        "operational": {c.value: "BULANAN" for c in list(OperationalItem)[:operational]},
    }


def output(
    *, poktan_pct: int = 25, cpr: int = 55, mkjp: int = 18, unmet: int = 10
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Kependudukan and KKBPK giving exactly these whole percentages (PUS 10,000, denominators 1,000)."""
    pus = 10_000
    users = cpr * 100
    mkjp_users = mkjp * cpr
    iat = unmet * 100
    kep = {
        "pus": pus,
        "families": 1000,
        "remaja": 1000,
        "families_with_balita": 1000,
        "families_with_remaja": 1000,
        "families_with_lansia": 1000,
    }
    kk = {
        "poktan_participants": {p.value: poktan_pct * 10 for p in Poktan},
        "kb_users": {"KB_IUD": mkjp_users, "KB_PIL": users - mkjp_users},
        "non_users": {"IAT": iat, "TIAL": 0, "HAMIL": pus - users - iat, "INGIN_ANAK_SEGERA": 0},
    }
    return kep, kk


def partners(n: int, last_activity: str = "2025-05-10", codes: list[str] | None = None) -> list[dict[str, Any]]:
    return [{"code": code, "last_activity": last_activity} for code in (codes or PARTNER_CODES)[:n]]


def snapshot(
    profil_data: dict[str, Any] | None = None,
    kep: dict[str, Any] | None = None,
    kk: dict[str, Any] | None = None,
    partner_list: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {"profil": profil_data, "kependudukan": kep, "kkbpk": kk, "partners": partner_list or []}


def worked_example(n_partners: int = 2) -> dict[str, Any]:
    """The constructed example of kampung-kb-domain.md 2.2."""
    kep, kk = output()
    return snapshot(profil(), kep, kk, partners(n_partners))


def run(snap: dict[str, Any], ruleset: RuleSet = OFFICIAL, period: str = PERIOD) -> ClassificationResult:
    return classify(Snapshot.model_validate(snap), period, ruleset)


profiles = st.builds(
    profil,
    pokja=st.tuples(st.booleans(), st.integers(0, 3), st.booleans()),
    funding=st.integers(0, 6),
    poktan=st.integers(0, 5),
    facilities=st.integers(0, 2),
    pkb=st.booleans(),
    regulations=st.integers(0, 4),
    data_sources=st.integers(0, 5),
    operational=st.integers(0, 5),
)


@st.composite
def kkbpk_pairs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    families = draw(st.integers(0, 300))
    pus = draw(st.integers(0, 300))
    kep = {
        "pus": pus,
        "families": families,
        "remaja": draw(st.integers(0, 300)),
        "families_with_balita": draw(st.integers(0, families)),
        "families_with_remaja": draw(st.integers(0, families)),
        "families_with_lansia": draw(st.integers(0, families)),
    }
    users = draw(st.integers(0, pus))
    mkjp = draw(st.integers(0, users))
    iat = draw(st.integers(0, pus - users))
    tial = draw(st.integers(0, pus - users - iat))
    participants = {
        "BKB": draw(st.integers(0, kep["families_with_balita"])),
        "BKR": draw(st.integers(0, kep["families_with_remaja"])),
        "BKL": draw(st.integers(0, kep["families_with_lansia"])),
        "UPPKA": draw(st.integers(0, families)),
        "PIK_R": draw(st.integers(0, kep["remaja"])),
    }
    kk = {
        "poktan_participants": participants,
        "kb_users": {"KB_IMPLAN": mkjp, "KB_SUNTIK": users - mkjp},
        "non_users": {"IAT": iat, "TIAL": tial, "HAMIL": pus - users - iat - tial},
    }
    return kep, kk


@st.composite
def snapshots(draw: st.DrawFn) -> dict[str, Any]:
    """Varied, internally consistent snapshots; a module is sometimes missing, partners in and out of the window."""
    pair = draw(kkbpk_pairs())
    kep = pair[0] if draw(st.integers(0, 9)) else None
    kk = pair[1] if draw(st.integers(0, 9)) else None
    days = st.sampled_from(["2019-03-01", "2024-05-31", "2024-07-01", "2025-06-30", "2025-07-02"])
    codes = draw(st.lists(st.sampled_from([c.value for c in Instansi]), max_size=9, unique=True))
    partner_list = [{"code": c, "last_activity": draw(days)} for c in codes]
    return snapshot(draw(profiles) if draw(st.integers(0, 9)) else None, kep, kk, partner_list)
