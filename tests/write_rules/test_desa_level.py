"""A Kampung KB is registered on a desa or kelurahan: not on a kecamatan or any code the region list lacks."""

from tests.factories import auth, errors_of, make_kampung
from tests.imports.conftest import Api
from tests.imports.files import DESA, kampung_rows, to_csv
from tests.write_rules.conftest import kampung_at, row_errors

KECAMATAN = "99.01.01"
UNKNOWN_DESA = "99.01.01.9999"
KAMPUNG_COLUMNS = ["desa_code", "name", "formed_on"]


async def test_post_refuses_a_kecamatan_and_an_unknown_code_naming_desa_code(api: Api) -> None:
    for code in (KECAMATAN, UNKNOWN_DESA):
        body = {"name": "Kampung KB Salah", "desa_code": code, "formed_on": "2020-05-01"}
        response = await api.http.post("/v1/kampung", json=body, headers=auth(api.admin))
        assert errors_of(response) == [["body", "desa_code"]], code
    desa, kelurahan = DESA[0], DESA[15]
    assert (await make_kampung(api.http, api.admin, desa))["desa_code"] == desa
    assert (await make_kampung(api.http, api.admin, kelurahan))["desa_code"] == kelurahan


async def test_import_refuses_a_kecamatan_and_an_unknown_code_as_row_errors_naming_desa_code(api: Api) -> None:
    desa, kelurahan = DESA[1], DESA[16]
    job = await api.run("kampung", to_csv(KAMPUNG_COLUMNS, kampung_rows([KECAMATAN, UNKNOWN_DESA, desa, kelurahan])))
    assert job["status"] == "succeeded", job
    # A kecamatan code does not have the desa/kelurahan shape (as the `POST` says of it); an unknown one is looked up.
    assert row_errors(job) == {(1, "desa_code", "invalid"), (2, "desa_code", "unknown_desa")}
    assert job["rows_inserted"] == 2
    assert sorted(k["desa_code"] for k in await kampung_at(api, "99")) == [desa, kelurahan]
