"""Reading a stored body as it streams from the database: UTF-8 text, CSV records or NDJSON lines, validated rows.

Each row is validated with the shared models (the same ones the `PUT` endpoints use) and, when valid, carried on
as its canonical JSON and content hash, the one definition the `PUT` path uses too. Each record also has a source
hash (of its raw text, the file's header and `SOURCE_FORMAT`): a record whose source hash is the one its Kampung KB's
stored row was last imported from is passed on as a `SameRow`, without validating it again.

Row numbers: in CSV the header is row 0 and the line below it row 1; in NDJSON the first line is row 1 (blank lines
count, and are skipped).
"""

import codecs
import csv
import hashlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from registry_api.imports.formats import FORMATS, ImportModule, RowProblem, check_header
from registry_api.submissions.service import canonical_json, content_hash

SOURCE_FORMAT = 2
"""Part of every source hash: raise it when a change to the formats or the models would read the same record
differently, so that no stored source hash matches any more and the next import validates every row again."""


def source_hasher(module: ImportModule, layout: str) -> Callable[[str], str]:
    """The source hash of a record's raw text, in a file of `module` whose layout (a CSV header, or `ndjson`) is
    `layout`: 32 hex digits of BLAKE2b."""
    prefix = f"{SOURCE_FORMAT}\x1f{module.value}\x1f{layout}\x1f"

    def digest(record: str) -> str:
        return hashlib.blake2b((prefix + record).encode(), digest_size=16).hexdigest()

    return digest


class FileRejected(Exception):
    """The body as a whole cannot be read (binary, not UTF-8, no usable header, no rows): the job fails."""


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str
    kind: str


@dataclass(frozen=True)
class ValidRow:
    row: int
    desa_code: str
    payload: str
    """The validated payload's canonical JSON."""
    hash: str
    source_hash: str
    model: BaseModel | None = field(default=None, compare=False, repr=False)
    """The validated model itself, so that the rules across modules need not parse `payload` again."""


@dataclass(frozen=True)
class SameRow:
    """A record whose source hash is the one its Kampung KB's stored row was last imported from: unchanged."""

    row: int
    desa_code: str
    source_hash: str


Parsed = ValidRow | SameRow | RowError


class _Feed:
    """Lines for `csv.reader`, refilled chunk by chunk; it is only ever given whole records."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque()

    def __iter__(self) -> "_Feed":
        return self

    def __next__(self) -> str:
        if not self.lines:
            raise StopIteration
        return self.lines.popleft()


async def _lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[str]]:
    """Decoded lines (with their line ends), a list per chunk; raises `FileRejected` on binary or non-UTF-8 input."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    offset = 0
    pending = ""
    async for chunk in chunks:
        if (nul := chunk.find(b"\x00")) >= 0:
            raise FileRejected(f"binary content (a NUL byte at byte {offset + nul}): send UTF-8 CSV or NDJSON text")
        try:
            text = pending + decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            at = offset + exc.start - len(exc.object) + len(chunk) if isinstance(exc.object, bytes) else offset
            raise FileRejected(f"not UTF-8 text: an invalid byte sequence at byte {at}") from exc
        offset += len(chunk)
        lines = text.splitlines(keepends=True)
        pending = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
        if lines:
            yield lines
    try:
        rest = pending + decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise FileRejected(f"not UTF-8 text: the body ends inside a character at byte {offset}") from exc
    if rest:
        yield [rest]


class _RowValidator:
    def __init__(self, module: ImportModule, known: Mapping[str, str]) -> None:
        self.module = module
        self.format = FORMATS[module]
        self.known = known
        """Desa code -> the source hash its stored row was last imported from."""

    def same(self, row: int, desa_code: object, source: str) -> SameRow | None:
        if self.known and isinstance(desa_code, str) and self.known.get(code := desa_code.strip()) == source:
            return SameRow(row, code, source)
        return None

    def validate(
        self, row: int, desa_code: object, data: dict[str, Any], source: str, *, csv_columns: bool
    ) -> list[Parsed]:
        if not isinstance(desa_code, str) or not desa_code.strip():
            return [RowError(row, "desa_code", "required: the desa/kelurahan code of the Kampung KB", "invalid")]
        desa_code = desa_code.strip()
        if self.module is ImportModule.KAMPUNG:
            data = {**data, "desa_code": desa_code}
        try:
            model = self.format.model.model_validate(data)
        except ValidationError as exc:
            return [
                RowError(
                    row, self.format.column_of(e["loc"]) if csv_columns else _dotted(e["loc"]), e["msg"], "invalid"
                )
                for e in exc.errors(include_url=False)
            ]
        payload = model.model_dump(mode="json", exclude={"desa_code"} if self.module is ImportModule.KAMPUNG else None)
        canonical = canonical_json(payload)
        return [ValidRow(row, desa_code, canonical.decode(), content_hash(canonical), source, model)]


def _dotted(loc: tuple[str | int, ...]) -> str:
    return ".".join(map(str, loc)) or "row"


async def parse_csv(
    chunks: AsyncIterator[bytes], module: ImportModule, known: Mapping[str, str]
) -> AsyncIterator[list[Parsed]]:
    """Rows of a CSV body, a list per chunk read; the header (row 0) is checked first. `known`: desa code -> the
    source hash its stored row was last imported from."""
    validator = _RowValidator(module, known)
    feed = _Feed()
    reader = csv.reader(feed, strict=True)
    header: list[str] | None = None
    hasher = source_hasher(module, "")
    record: list[str] = []
    raw: deque[str] = deque()  # each record's text, beside the reader's lines (one whole record each)
    quotes = 0
    row = -1
    async for lines in _lines(chunks):
        for line in lines:
            record.append(line)
            quotes += line.count('"')
            if quotes % 2 == 0:
                text = "".join(record)
                feed.lines.append(text)
                raw.append(text)
                record, quotes = [], 0
        out: list[Parsed] = []
        for cells in _records(reader):
            text = raw.popleft()
            if header is None and (not cells or cells == [""]):
                continue  # blank lines before the header
            row += 1
            if header is None:
                header = _header(module, cells)
                hasher = source_hasher(module, ",".join(header))
                continue
            if not cells or cells == [""]:
                continue
            out.extend(_csv_row(validator, header, row, cells, hasher(text.rstrip("\r\n"))))
        if out:
            yield out
    if record:
        yield [RowError(row + 1, "row", "a quoted cell is never closed", "unreadable")]
    if header is None:
        raise FileRejected("no header and no rows: the first line must name the columns")


def _records(reader: Any) -> Iterator[list[str]]:
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a malformed record is that row's error, not the file's
            yield [f"\x00{exc}"]


def _header(module: ImportModule, cells: list[str]) -> list[str]:
    if cells and cells[0].startswith("\x00"):
        raise FileRejected(f"the header is not readable CSV: {cells[0][1:]}")
    try:
        return check_header(module, cells)
    except RowProblem as exc:
        raise FileRejected(str(exc)) from exc


def _csv_row(validator: _RowValidator, header: list[str], row: int, cells: list[str], source: str) -> list[Parsed]:
    if cells[0].startswith("\x00"):
        return [RowError(row, "row", f"not readable CSV: {cells[0][1:]}", "unreadable")]
    if len(cells) != len(header):
        return [RowError(row, "row", f"{len(cells)} cells where the header has {len(header)}", "unreadable")]
    named = dict(zip(header, cells, strict=True))
    desa_code = named.pop("desa_code")
    if same := validator.same(row, desa_code, source):
        return [same]
    try:
        data = validator.format.to_payload(named)
    except RowProblem as exc:
        return [RowError(row, exc.field, str(exc), "invalid")]
    return validator.validate(row, desa_code, data, source, csv_columns=True)


async def parse_ndjson(
    chunks: AsyncIterator[bytes], module: ImportModule, known: Mapping[str, str]
) -> AsyncIterator[list[Parsed]]:
    """Rows of an NDJSON body: one JSON object per line, `desa_code` beside the module's fields. `known`: desa
    code -> the source hash its stored row was last imported from."""
    validator = _RowValidator(module, known)
    hasher = source_hasher(module, "ndjson")
    row = 0
    async for lines in _lines(chunks):
        out: list[Parsed] = []
        for line in lines:
            row += 1
            if not line.strip():
                continue
            try:
                data = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                out.append(RowError(row, "row", f"not a JSON object: {exc}", "unreadable"))
                continue
            if not isinstance(data, dict):
                out.append(RowError(row, "row", f"not a JSON object but a {type(data).__name__}", "unreadable"))
                continue
            desa_code = data.pop("desa_code", None)
            source = hasher(line.strip())
            if same := validator.same(row, desa_code, source):
                out.append(same)
                continue
            out.extend(validator.validate(row, desa_code, data, source, csv_columns=False))
        if out:
            yield out
