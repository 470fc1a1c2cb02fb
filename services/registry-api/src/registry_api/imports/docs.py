"""The import file formats, as Markdown: the OpenAPI description of `POST /v1/imports` and the README's section."""

from registry_api.imports.formats import FORMATS, ImportModule

_NOTES = {
    ImportModule.KAMPUNG: (
        "Registers the Kampung KB of each desa/kelurahan, or updates the active one. `formed_on` is `YYYY-MM-DD` "
        "(2016-01-01 to today); `scope` `DESA_KELURAHAN` (default), `RW` or `DUSUN`; `formation_criteria` codes "
        "separated by `;`. `period` is optional (default: this month): the month whose reports are refreshed."
    ),
    ImportModule.PROFIL: (
        "Booleans `true`/`false` (also `1`/`0`, `yes`/`no`); code lists separated by `;` "
        "(`funding_sources=APBD;DANA_DESA`); `operational` as `CODE:FREQUENCY;...` "
        "(`RAPAT_KOORDINASI:BULANAN;MONEV:TRIWULAN`). Empty cells take the default (false, none)."
    ),
    ImportModule.KEPENDUDUKAN: (
        "Counts are integers >= 0. `population_male` and `population_female` (optional, together) hold the 16 "
        "age-group counts separated by `;`, youngest first."
    ),
    ImportModule.KKBPK: (
        "One column per code: poktan participants (`BKB` ... `PIK_R`), PUS using each method (`KB_IUD` ... "
        "`KB_PIL`), PUS not using by reason (`HAMIL` ... `TIAL`). An empty cell leaves the code out; "
        "users + non-users must equal the PUS of the kependudukan in force."
    ),
    ImportModule.KEGIATAN: (
        "One activity per row (several per desa allowed; `period` not used): `date` `YYYY-MM-DD`, `function` a "
        "family function code, `targets` and `partners` codes separated by `;`. A row equal to a stored "
        "activity is unchanged."
    ),
}

_NDJSON = {
    ImportModule.KAMPUNG: '{"desa_code": "36.71.01.1001", "name": "Kampung KB Melati", "formed_on": "2019-03-01"}',
    ImportModule.PROFIL: '{"desa_code": "36.71.01.1001", "pokja": {"exists": true, "members": 12}, '
    '"poktan": ["BKB", "BKR"], "operational": {"MONEV": "BULANAN"}}',
    ImportModule.KEPENDUDUKAN: '{"desa_code": "36.71.01.1001", "pus": 210, "families": 300, "remaja": 90, '
    '"families_with_balita": 80, "families_with_remaja": 70, "families_with_lansia": 60}',
    ImportModule.KKBPK: '{"desa_code": "36.71.01.1001", "poktan_participants": {"BKB": 40}, '
    '"kb_users": {"KB_SUNTIK": 120, "KB_IMPLAN": 30}, "non_users": {"HAMIL": 20, "IAT": 40}}',
    ImportModule.KEGIATAN: '{"desa_code": "36.71.01.1001", "title": "Penyuluhan KB", "date": "2024-06-12", '
    '"function": "REPRODUKSI", "targets": ["PUS"], "partners": ["PUSKESMAS"]}',
}


def columns_markdown() -> str:
    """The columns of every module, a subsection each (CSV header, NDJSON example, notes)."""
    parts = []
    for module, fmt in FORMATS.items():
        required = ", ".join(f"`{c}`" for c in ("desa_code", *fmt.required))
        optional = ", ".join(f"`{c}`" for c in fmt.optional) or "none"
        parts.append(
            f"**`{module}`** — CSV header: `{','.join(fmt.columns)}`  \n"
            f"Required columns: {required}; optional: {optional}.  \n"
            f"{_NOTES[module]}  \n"
            f"NDJSON: `{_NDJSON[module]}`"
        )
    return "\n\n".join(parts)


IMPORT_DESCRIPTION = f"""Bulk import of one module: the body is `text/csv` (UTF-8, comma-separated, a header row) or
`application/x-ndjson` (one JSON object per line: `desa_code` beside the module's fields as in the `PUT` bodies).
Rows address a Kampung KB by `desa_code` (the active Kampung KB of that desa/kelurahan). Answers `202` with the job;
poll `status_url`. With an `Idempotency-Key` header, the key's first job is returned (`200`) and nothing is imported
twice. Each row is checked with the same rules as a `PUT`; rows with errors (invalid values, unknown desa, outside
the key's scope, rules across modules) are reported by row and field and skipped, the valid rows load. Unchanged
rows are skipped; each change keeps a revision. `dry_run=true` validates and counts without writing.

A month's module files posted together (without waiting for each job) are classified once: an import with a later
module import queued behind it leaves its classification to that one (`timings.handed_over`), and the last import
classifies every Kampung KB the files changed (`timings.classified`). A large import (10,000 Kampung KB or more)
commits its rows first and then classifies (`timings.handed_over` and `timings.classified`); the job stays `running`
until both are done. Post the `kampung` file first: every file posted after it waits for it to merge (reading its
own rows meanwhile, `timings.waited`), since its rows address the Kampung KB it registers; the three module files
merge in the order their rules need (profil and kependudukan side by side, then kkbpk), whatever order they arrive in.

{columns_markdown()}
"""
