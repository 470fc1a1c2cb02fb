"""A small generated demo province in the region CSV format, for a first run and for tests."""

import asyncio
import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import httpx

DEMO_PROVINSI = "99"


def demo_regions(
    *, provinsi: str = DEMO_PROVINSI, kecamatan_per_kabupaten: int = 3, desa_per_kecamatan: int = 5
) -> list[dict[str, str]]:
    """Rows of one provinsi with a kabupaten (desa) and a kota (kelurahan), in code order."""
    rows = [{"code": provinsi, "name": f"PROVINSI DEMO {provinsi}", "level": "provinsi", "kind": "", "parent_code": ""}]
    for kab, kind, village_kind, first_digit in (("01", "kabupaten", "desa", "2"), ("71", "kota", "kelurahan", "1")):
        kab_code = f"{provinsi}.{kab}"
        rows.append(
            {
                "code": kab_code,
                "name": f"{kind.upper()} DEMO {kab}",
                "level": "kabupaten",
                "kind": kind,
                "parent_code": provinsi,
            }
        )
        for kec in range(1, kecamatan_per_kabupaten + 1):
            kec_code = f"{kab_code}.{kec:02d}"
            rows.append(
                {
                    "code": kec_code,
                    "name": f"KECAMATAN DEMO {kab}{kec:02d}",
                    "level": "kecamatan",
                    "kind": "",
                    "parent_code": kab_code,
                }
            )
            for desa in range(1, desa_per_kecamatan + 1):
                rows.append(
                    {
                        "code": f"{kec_code}.{first_digit}{desa:03d}",
                        "name": f"{village_kind.upper()} DEMO {kab}{kec:02d}{desa:02d}",
                        "level": "desa",
                        "kind": village_kind,
                        "parent_code": kec_code,
                    }
                )
    return rows


def to_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["code", "name", "level", "kind", "parent_code"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def last_months(count: int, *, today: dt.date | None = None) -> list[str]:
    """The `count` months before the current one, oldest first (`YYYY-MM`)."""
    day = today or dt.datetime.now(dt.UTC).date()
    index = day.year * 12 + day.month - 1
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(index - count, index)]


@dataclass(frozen=True)
class Strength:
    """Which of the three indices a demo Kampung KB has at 3 or more: its tier follows."""

    input: bool
    proses: bool
    output: bool


# dasar, berkembang, mandiri, berkelanjutan under both rule sets
_STRENGTHS = (Strength(False, False, False), Strength(True, True, False), Strength(True, False, True))
_TOP = Strength(True, True, True)


def _strength(n: int, month: int) -> Strength:
    base = (*_STRENGTHS, _TOP)[n % 4]
    if month < 6 or n % 3:
        return base
    # A third of them climb a tier halfway through the year, so that trends and promotions show.
    return {_STRENGTHS[0]: _STRENGTHS[1], _STRENGTHS[1]: _TOP, _STRENGTHS[2]: _TOP}.get(base, base)


KEPENDUDUKAN = {
    "pus": 200,
    "families": 300,
    "remaja": 120,
    "families_with_balita": 80,
    "families_with_remaja": 70,
    "families_with_lansia": 60,
}


def profil(strength: Strength) -> dict[str, Any]:
    """A profil whose input and proses indices reach 3 where `strength` says so."""
    if strength.input:
        body: dict[str, Any] = {
            "pokja": {"exists": True, "sk": True, "members": 15, "trained_members": 8, "trained": True},
            "funding_sources": ["APBN", "APBD", "DANA_DESA", "CSR", "SWADAYA_MASYARAKAT"],
            "poktan": ["BKB", "BKR", "BKL", "UPPKA", "PIK_R"],
            "facilities": ["SEKRETARIAT", "RUMAH_DATAKU"],
            "pkb_pendamping": True,
            "regulations": ["SK_KADES_LURAH"],
            "rkm": True,
        }
    else:
        body = {
            "pokja": {"exists": True, "sk": False, "members": 0, "trained_members": 0, "trained": False},
            "funding_sources": ["DANA_DESA"],
            "poktan": ["BKB", "BKR"],
            "pkb_pendamping": False,
            "pengarah": "KADER",
        }
    if strength.proses:
        body["data_sources"] = ["PK_PEMUTAKHIRAN_DATA", "DATA_RUTIN_BKKBN", "POTENSI_DESA", "DATA_SEKTORAL"]
        body["operational"] = {
            "RAPAT_PERENCANAAN": "BULANAN",
            "RAPAT_KOORDINASI": "BULANAN",
            "SOSIALISASI": "MINGGUAN",
            "MONEV": "TRIWULAN",
            "PENYUSUNAN_LAPORAN": "BULANAN",
        }
    else:
        body["data_sources"] = ["DATA_RUTIN_BKKBN"]
        body["operational"] = {"RAPAT_PERENCANAAN": "TAHUNAN"}
    return body


def kkbpk(strength: Strength, month: int) -> dict[str, Any]:
    """A month's KKBPK: users and non-users add up to the PUS (200), a little better each month."""
    poktan = ["BKB", "BKR", "BKL", "UPPKA", "PIK_R"] if strength.input else ["BKB", "BKR"]
    if strength.output:
        participants = dict(zip(["BKB", "BKR", "BKL", "UPPKA", "PIK_R"], [40, 30, 25, 100, 45], strict=True))
        users = {"KB_IUD": 20, "KB_IMPLAN": 20, "KB_SUNTIK": 50 + month, "KB_PIL": 30}
        non_users = {"HAMIL": 30, "INGIN_ANAK_SEGERA": 42 - month, "IAT": 4, "TIAL": 4}
    else:
        participants = {"BKB": 5 + month, "BKR": 3, "BKL": 2, "UPPKA": 4, "PIK_R": 3}
        users = {"KB_SUNTIK": 40 + month, "KB_PIL": 10}
        non_users = {"HAMIL": 20, "INGIN_ANAK_SEGERA": 20, "IAT": 60 - month, "TIAL": 50}
    return {
        "poktan_participants": {code: participants[code] for code in poktan},
        "kb_users": users,
        "non_users": non_users,
    }


PARTNERS = [
    "DINAS_KESEHATAN",
    "PUSKESMAS",
    "DINAS_PENDIDIKAN",
    "DINAS_SOSIAL",
    "DINAS_PMD",
    "PEMERINTAH_DESA_KELURAHAN",
    "DINAS_PERTANIAN",
]


async def _seed_one(http: httpx.AsyncClient, n: int, desa_code: str, months: list[str]) -> None:
    """One Kampung KB and its year: kependudukan, profil (again when it changes), activities, a kkbpk every month."""

    async def call(method: str, url: str, body: dict[str, Any]) -> httpx.Response:
        response = await http.request(method, url, json=body)
        response.raise_for_status()
        return response

    created = await call(
        "POST",
        "/v1/kampung",
        {"name": f"Kampung KB Demo {n + 1}", "desa_code": desa_code, "formed_on": f"{2016 + n % 9}-0{1 + n % 9}-01"},
    )
    base = f"/v1/kampung/{created.json()['id']}"
    await call("PUT", f"{base}/kependudukan/{months[0]}", KEPENDUDUKAN)
    previous: Strength | None = None
    for month, period in enumerate(months):
        strength = _strength(n, month)
        if previous is None or (strength.input, strength.proses) != (previous.input, previous.proses):
            await call("PUT", f"{base}/profil/{period}", profil(strength))
        if strength.proses and not (previous and previous.proses):
            activity = {
                "title": "Penyuluhan KB dan kesehatan reproduksi",
                "date": f"{period}-10",
                "function": "REPRODUKSI",
                "targets": ["PUS", "REMAJA"],
                "partners": PARTNERS,
            }
            await call("POST", f"{base}/kegiatan", activity)
        await call("PUT", f"{base}/kkbpk/{period}", kkbpk(strength, month))
        previous = strength


async def _seed(registry_url: str, key: str, chosen: list[str], months: list[str], concurrency: int) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=registry_url, headers=headers, timeout=30, limits=limits) as http:
        gate = asyncio.Semaphore(concurrency)

        async def one(n: int, code: str) -> None:
            async with gate:
                await _seed_one(http, n, code, months)

        await asyncio.gather(*(one(n, code) for n, code in enumerate(chosen)))


def seed_demo(registry_url: str, key: str, *, per_kecamatan: int = 4, months: int = 12, concurrency: int = 6) -> int:
    """Register Kampung KB in the demo province and write a year of monthly submissions for each, through the
    running registry's API (so every write is classified and reported as a real one); returns how many."""
    villages = [row["code"] for row in demo_regions() if row["level"] == "desa"]
    chosen = [code for code in villages if int(code[-3:]) <= per_kecamatan]
    asyncio.run(_seed(registry_url, key, chosen, last_months(months), concurrency))
    return len(chosen)
