"""A small generated demo province in the region CSV format, for a first run and for tests."""

import csv
import io

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


def seed_demo(registry_url: str, key: str, *, per_kecamatan: int = 4) -> int:
    """Register Kampung KB in the demo province through the running registry's API; returns how many."""
    import httpx

    headers = {"Authorization": f"Bearer {key}"}
    villages = [row["code"] for row in demo_regions() if row["level"] == "desa"]
    chosen = [code for code in villages if int(code[-3:]) <= per_kecamatan]
    with httpx.Client(base_url=registry_url, headers=headers, timeout=30) as http:
        for n, code in enumerate(chosen):
            body = {
                "name": f"Kampung KB Demo {n + 1}",
                "desa_code": code,
                "formed_on": f"{2016 + n % 9}-0{1 + n % 9}-01",
            }
            http.post("/v1/kampung", json=body).raise_for_status()
    return len(chosen)
