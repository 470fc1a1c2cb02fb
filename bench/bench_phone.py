"""Bytes on the wire of a phone: its first pull of one Kampung KB and a month's writes (three `PUT`s), before (the
separate reads and full answers, uncompressed) and after (`GET .../in-force`, `Prefer: return=minimal`, gzip).

Run: `.venv/bin/python bench/bench_phone.py`. Starts the local stack (embedded PostgreSQL and Redis, the classifier and
registry-api as real processes), writes a Kampung KB with a year of data and a dozen activities, then counts each
request and answer as HTTP/1.1 sends them: request line, headers, body; status line, headers, body as transferred.
"""

import httpx
from stack import KEPENDUDUKAN, PROFIL, local_stack

from kampungkb_local.demo import demo_regions, to_csv

PERIOD = "2024-12"


def kkbpk(users: int) -> dict[str, object]:
    """PUS 200 (the kependudukan's): `users` KB users, the rest non-users."""
    return {
        "poktan_participants": {"BKB": 20, "BKR": 10},
        "kb_users": {"KB_SUNTIK": users - 30, "KB_IMPLAN": 20, "KB_PIL": 10},
        "non_users": {"HAMIL": 200 - users - 25, "IAT": 15, "TIAL": 10},
    }


def wire(response: httpx.Response) -> int:
    request = response.request
    lines = len(f"{request.method} {request.url.raw_path.decode()} HTTP/1.1\r\n") + len("HTTP/1.1 200 OK\r\n")
    headers = sum(len(k) + len(v) + 4 for k, v in [*request.headers.raw, *response.headers.raw]) + 4
    return lines + headers + len(request.content) + response.num_bytes_downloaded


def prepare(http: httpx.Client) -> int:
    created = http.post("/v1/kampung", json={"name": "Bench", "desa_code": "99.01.01.2001", "formed_on": "2020-01-01"})
    created.raise_for_status()
    kampung: int = created.json()["id"]
    for month in range(1, 13):
        period = f"2024-{month:02d}"
        body = {"profil": PROFIL, "kependudukan": KEPENDUDUKAN, "kkbpk": kkbpk(100 + month)}
        http.put(f"/v1/kampung/{kampung}/periods/{period}", json=body).raise_for_status()
        activity = {
            "title": "Penyuluhan KB",
            "date": f"{period}-10",
            "function": "REPRODUKSI",
            "partners": ["PUSKESMAS"],
        }
        http.post(f"/v1/kampung/{kampung}/kegiatan", json=activity).raise_for_status()
    return kampung


def first_pull_before(http: httpx.Client, kampung: int) -> list[httpx.Response]:
    paths = [
        "/v1/changes/head",
        f"/v1/kampung/{kampung}",
        *(f"/v1/kampung/{kampung}/{module}/{PERIOD}" for module in ("profil", "kependudukan", "kkbpk")),
        f"/v1/kampung/{kampung}/kegiatan?from=2024-01-01&to=2024-12-31",
        f"/v1/kampung/{kampung}/classification?period={PERIOD}",
    ]
    return [http.get(path) for path in paths]


def first_pull_after(http: httpx.Client, kampung: int) -> list[httpx.Response]:
    return [http.get(f"/v1/kampung/{kampung}/in-force", params={"period": PERIOD})]


def writes(http: httpx.Client, kampung: int, *, users: int, **headers: str) -> list[httpx.Response]:
    """A month's writes: the three modules of the next month, one `PUT` each."""
    bodies = {"profil": PROFIL, "kependudukan": KEPENDUDUKAN, "kkbpk": kkbpk(users)}
    return [http.put(f"/v1/kampung/{kampung}/{m}/2025-01", json=b, headers=headers) for m, b in bodies.items()]


def total(responses: list[httpx.Response]) -> int:
    for response in responses:
        assert response.status_code < 300, response.text
    return sum(wire(r) for r in responses)


def measure(registry_url: str, key: str) -> list[tuple[str, int, int]]:
    auth = {"Authorization": f"Bearer {key}"}
    plain = httpx.Client(base_url=registry_url, headers={**auth, "Accept-Encoding": "identity"}, timeout=60)
    gzip = httpx.Client(base_url=registry_url, headers={**auth, "Accept-Encoding": "gzip"}, timeout=60)
    with plain, gzip:
        kampung = prepare(plain)
        before_pull = total(first_pull_before(plain, kampung))
        after_pull = total(first_pull_after(gzip, kampung))
        before_writes = total(writes(plain, kampung, users=120))
        after_writes = total(writes(gzip, kampung, users=130, Prefer="return=minimal"))
    return [("first pull", before_pull, after_pull), ("a month's writes", before_writes, after_writes)]


def main() -> None:
    with local_stack("phone", regions_csv=to_csv(demo_regions())) as stack:
        rows = measure(stack.registry_url, stack.key)
    for name, before, after in rows:
        print(f"{name}: {before:,} bytes before, {after:,} bytes after ({after / before:.0%})")


if __name__ == "__main__":
    main()
