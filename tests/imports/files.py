"""Import files for the tests: rows for the demo province's desa, as CSV or NDJSON."""

import csv
import io
import json
from typing import Any

from kampungkb_local.demo import demo_regions

DESA = [row["code"] for row in demo_regions() if row["level"] == "desa"]
"""30 desa/kelurahan: 15 in kabupaten 99.01, 15 in kota 99.71."""
PERIOD = "2024-06"
MONTH_DESA = DESA[:20]
"""The desa of the tests that post a month's files together: 15 in kabupaten 99.01, 5 in kota 99.71."""

PROFIL_COLUMNS = [
    "desa_code",
    "pokja_exists",
    "pokja_sk",
    "pokja_members",
    "pokja_trained_members",
    "pokja_trained",
    "funding_sources",
    "poktan",
    "facilities",
    "pkb_pendamping",
    "pengarah",
    "regulations",
    "rkm",
    "data_sources",
    "operational",
]
KEPENDUDUKAN_COLUMNS = [
    "desa_code",
    "pus",
    "families",
    "remaja",
    "families_with_balita",
    "families_with_remaja",
    "families_with_lansia",
]
KKBPK_COLUMNS = ["desa_code", "BKB", "BKR", "KB_SUNTIK", "KB_IMPLAN", "HAMIL", "IAT"]


def to_csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def to_ndjson(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def kampung_rows(desa: list[str] = DESA) -> list[dict[str, Any]]:
    return [{"desa_code": code, "name": f"Kampung KB {code}", "formed_on": "2019-03-01"} for code in desa]


def profil_csv_row(code: str, members: int = 12) -> dict[str, Any]:
    return {
        "desa_code": code,
        "pokja_exists": "true",
        "pokja_sk": "true",
        "pokja_members": members,
        "pokja_trained_members": 4,
        "pokja_trained": "1",
        "funding_sources": "APBD;DANA_DESA",
        "poktan": "BKB;BKR;BKL",
        "facilities": "SEKRETARIAT",
        "pkb_pendamping": "yes",
        "pengarah": "",
        "regulations": "SK_KADES_LURAH",
        "rkm": "false",
        "data_sources": "PK_PEMUTAKHIRAN_DATA",
        "operational": "RAPAT_KOORDINASI:BULANAN;MONEV:TRIWULAN",
    }


def profil_payload(members: int = 12) -> dict[str, Any]:
    """What `profil_csv_row` means, as the PUT body (and NDJSON fields)."""
    return {
        "pokja": {"exists": True, "sk": True, "members": members, "trained_members": 4, "trained": True},
        "funding_sources": ["APBD", "DANA_DESA"],
        "poktan": ["BKB", "BKR", "BKL"],
        "facilities": ["SEKRETARIAT"],
        "pkb_pendamping": True,
        "pengarah": None,
        "regulations": ["SK_KADES_LURAH"],
        "rkm": False,
        "data_sources": ["PK_PEMUTAKHIRAN_DATA"],
        "operational": {"RAPAT_KOORDINASI": "BULANAN", "MONEV": "TRIWULAN"},
    }


def kependudukan_row(code: str, pus: int = 100) -> dict[str, Any]:
    return {
        "desa_code": code,
        "pus": pus,
        "families": 150,
        "remaja": 60,
        "families_with_balita": 40,
        "families_with_remaja": 35,
        "families_with_lansia": 30,
    }


def kkbpk_csv_row(code: str, users: int = 70, non_users: int = 30) -> dict[str, Any]:
    return {
        "desa_code": code,
        "BKB": 20,
        "BKR": 10,
        "KB_SUNTIK": users - users // 3,
        "KB_IMPLAN": users // 3,
        "HAMIL": non_users - non_users // 2,
        "IAT": non_users // 2,
    }


def kkbpk_ndjson_row(code: str, users: int = 70, non_users: int = 30) -> dict[str, Any]:
    row = kkbpk_csv_row(code, users, non_users)
    return {
        "desa_code": code,
        "poktan_participants": {"BKB": row["BKB"], "BKR": row["BKR"]},
        "kb_users": {"KB_SUNTIK": row["KB_SUNTIK"], "KB_IMPLAN": row["KB_IMPLAN"]},
        "non_users": {"HAMIL": row["HAMIL"], "IAT": row["IAT"]},
    }
