"""One active Kampung KB per desa/kelurahan: a second `POST` is a 409; an import updates the active one instead of
registering another, and after a deactivation the new one is the one it updates."""

from tests.factories import auth, make_kampung
from tests.imports.conftest import Api
from tests.imports.files import DESA, to_csv
from tests.write_rules.conftest import kampung_at, row_errors

KAMPUNG_COLUMNS = ["desa_code", "name", "formed_on"]


def _kampung_csv(*rows: tuple[str, str]) -> str:
    return to_csv(KAMPUNG_COLUMNS, [{"desa_code": c, "name": name, "formed_on": "2019-03-01"} for c, name in rows])


async def test_a_second_post_for_the_desa_is_a_409(api: Api) -> None:
    first = await make_kampung(api.http, api.admin, DESA[0])
    body = {"name": "Kampung KB Kedua", "desa_code": DESA[0], "formed_on": "2021-01-01"}
    second = await api.http.post("/v1/kampung", json=body, headers=auth(api.admin))
    assert second.status_code == 409, second.text
    assert second.headers["content-type"] == "application/problem+json"
    assert [k["id"] for k in await kampung_at(api, DESA[0])] == [first["id"]]


async def test_the_import_updates_the_active_one(api: Api) -> None:
    first = await make_kampung(api.http, api.admin, DESA[0])
    job = await api.run("kampung", _kampung_csv((DESA[0], "Kampung KB Melati"), (DESA[1], "Kampung KB Mawar")))
    assert (job["status"], job["rows_inserted"], job["rows_updated"], job["errors"]) == ("succeeded", 1, 1, []), job
    assert [(k["id"], k["name"]) for k in await kampung_at(api, DESA[0])] == [(first["id"], "Kampung KB Melati")]
    # What the import registered is the desa's active one for the API too.
    body = {"name": "Kampung KB Lain", "desa_code": DESA[1], "formed_on": "2021-01-01"}
    assert (await api.http.post("/v1/kampung", json=body, headers=auth(api.admin))).status_code == 409


async def test_after_a_deactivation_the_new_one_is_registered_and_updated(api: Api) -> None:
    old = await make_kampung(api.http, api.admin, DESA[0])
    patched = await api.http.patch(f"/v1/kampung/{old['id']}", json={"active": False}, headers=auth(api.admin))
    assert (patched.status_code, patched.json()["active"]) == (200, False), patched.text
    new = await make_kampung(api.http, api.admin, DESA[0], name="Kampung KB Baru")
    job = await api.run("kampung", _kampung_csv((DESA[0], "Kampung KB Baru Sekali")))
    assert (job["rows_inserted"], job["rows_updated"]) == (0, 1), job
    assert [(k["id"], k["name"]) for k in await kampung_at(api, DESA[0])] == [(new["id"], "Kampung KB Baru Sekali")]
    kept = (await api.http.get(f"/v1/kampung/{old['id']}", headers=auth(api.admin))).json()
    assert (kept["active"], kept["name"]) == (False, old["name"])


async def test_one_file_registers_a_desa_once(api: Api) -> None:
    job = await api.run("kampung", _kampung_csv((DESA[0], "Kampung KB Satu"), (DESA[0], "Kampung KB Dua")))
    assert row_errors(job) == {(2, "desa_code", "duplicate")}
    assert [k["name"] for k in await kampung_at(api, DESA[0])] == ["Kampung KB Satu"]
