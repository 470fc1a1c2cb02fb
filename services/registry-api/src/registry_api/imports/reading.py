"""Reading a stored body as it streams from the database: UTF-8 text, CSV records or NDJSON lines, validated rows.

Each row is validated with the shared models (the same ones the `PUT` endpoints use) and, when valid, carried on
as its canonical JSON and content hash, the one definition the `PUT` path uses too. Each record also has a source
hash (of its raw text, the file's header and `SOURCE_FORMAT`): a record whose source hash is the one a Kampung KB's
stored row was last imported from is passed on as that Kampung KB's `SameRow`, without reading its cells: the same
raw text under the same header is the same desa code and the same values.

Row numbers: in CSV the header is row 0 and the line below it row 1; in NDJSON the first line is row 1 (blank lines
count, and are skipped).

A record longer than `max_record_bytes` (`REGISTRY_IMPORT_MAX_RECORD_BYTES`) is that row's error (`too_long`): it is
dropped as it streams past, chunk by chunk, keeping only its size and how many double quotes it held (a CSV record
ends where its quotes balance), so a file of one endless line costs no more memory than a file of short ones.
"""

import codecs
import csv
import hashlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from kampungkb_shared.problems import field_error
from registry_api.imports.formats import FORMATS, ImportModule, RowProblem, check_header
from registry_api.storable_text import MESSAGE as UNSTORABLE
from registry_api.storable_text import unstorable
from registry_api.submissions.store import canonical_payload, content_hash

MAX_RECORD_BYTES = 64 * 1024
"""The default longest record (a CSV record or an NDJSON line, UTF-8 bytes)."""

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


@dataclass(frozen=True, slots=True)
class SameRow:
    """A record whose source hash is the one its Kampung KB's stored row was last imported from: unchanged."""

    row: int
    desa_code: str
    kampung_id: int
    source_hash: str


Known = Mapping[str, tuple[str, int]]
"""Source hash -> the desa code and Kampung KB id whose stored row was last imported from a record of that hash."""


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


@dataclass(frozen=True)
class Overlong:
    """A line longer than the limit, dropped while it was read: its size (UTF-8 bytes) and its double quotes."""

    size: int
    quotes: int


Line = str | Overlong


def _size(text: str) -> int:
    """UTF-8 bytes of `text` (without encoding it when it is ASCII, as almost every line is)."""
    return len(text) if text.isascii() else len(text.encode())


async def _lines(chunks: AsyncIterator[bytes], *, max_record_bytes: int) -> AsyncIterator[list[Line]]:
    """Decoded lines (with their line ends), a list per chunk, a line longer than `max_record_bytes` as `Overlong`;
    raises `FileRejected` on binary or non-UTF-8 input. At most one unfinished line of up to the limit is carried
    from a chunk to the next: a longer one is dropped while it streams past."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    offset = 0
    pending = ""
    dropping: Overlong | None = None  # the unfinished line being dropped, once it outgrew the limit
    async for chunk in chunks:
        if (nul := chunk.find(b"\x00")) >= 0:
            raise FileRejected(f"binary content (a NUL byte at byte {offset + nul}): send UTF-8 CSV or NDJSON text")
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            at = offset + exc.start - len(exc.object) + len(chunk) if isinstance(exc.object, bytes) else offset
            raise FileRejected(f"not UTF-8 text: an invalid byte sequence at byte {at}") from exc
        offset += len(chunk)
        out: list[Line] = []
        if dropping is not None:
            first = text.splitlines(keepends=True)[:1]
            if not first or (first[0] == text and not text.endswith(("\n", "\r"))):
                dropping = Overlong(dropping.size + _size(text), dropping.quotes + text.count('"'))
                continue  # the line goes on past this chunk
            out.append(Overlong(dropping.size + _size(first[0]), dropping.quotes + first[0].count('"')))
            dropping, text = None, text[len(first[0]) :]
        lines = (pending + text).splitlines(keepends=True)
        pending = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
        short = max_record_bytes // 4  # so many characters are at most the limit in UTF-8, whatever they are
        out.extend([line if len(line) <= short else _line(line, max_record_bytes) for line in lines])
        if (size := _size(pending)) > max_record_bytes:
            dropping, pending = Overlong(size, pending.count('"')), ""
        if out:
            yield out
    try:
        rest = pending + decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise FileRejected(f"not UTF-8 text: the body ends inside a character at byte {offset}") from exc
    if dropping is not None:
        yield [Overlong(dropping.size + _size(rest), dropping.quotes + rest.count('"'))]
    elif rest:
        yield [_line(rest, max_record_bytes)]


def _line(text: str, max_record_bytes: int) -> Line:
    return Overlong(size, text.count('"')) if (size := _size(text)) > max_record_bytes else text


def _too_long(row: int, size: int, limit: int) -> RowError:
    return RowError(row, "row", f"a record of {size} bytes: at most {limit} bytes are read", "too_long")


class _RowValidator:
    def __init__(self, module: ImportModule, known: Known) -> None:
        self.module = module
        self.format = FORMATS[module]
        self.known = known

    def same(self, row: int, source: str) -> SameRow | None:
        if (stored := self.known.get(source)) is not None:
            return SameRow(row, stored[0], stored[1], source)
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
            errors = [field_error(e) for e in exc.errors(include_url=False)]  # as a request's are named
            return [
                RowError(
                    row,
                    self.format.column_of(tuple(e.loc)) if csv_columns else _dotted(tuple(e.loc)),
                    e.msg,
                    "invalid",
                )
                for e in errors
            ]
        canonical = canonical_payload(model, exclude={"desa_code"} if self.module is ImportModule.KAMPUNG else None)
        return [ValidRow(row, desa_code, canonical.decode(), content_hash(canonical), source)]


def _dotted(loc: tuple[str | int, ...]) -> str:
    return ".".join(map(str, loc)) or "row"


class _Records:
    """Whole CSV records from lines: a record ends on the line where its double quotes balance. One longer than the
    limit comes out as `Overlong`, having kept only its size and its quotes on the way."""

    def __init__(self, max_record_bytes: int) -> None:
        self.limit = max_record_bytes
        self.lines: list[str] = []
        self.size = 0
        self.quotes = 0

    def feed(self, lines: list[Line]) -> Iterator[str | Overlong]:
        for line in lines:
            if isinstance(line, str):
                quotes = line.count('"')
                if not self.size and not quotes % 2:
                    yield line  # the common case: a record on one line (`_lines` checked its length)
                    continue
                self.size += _size(line)
                self.lines.append(line)
            else:
                quotes = line.quotes
                self.size += line.size
            self.quotes += quotes
            if self.size > self.limit:
                self.lines = []  # too long: only its size and its quotes are kept, to find where it ends
            if self.quotes % 2:
                continue
            yield "".join(self.lines) if self.size <= self.limit else Overlong(self.size, self.quotes)
            self.lines, self.size, self.quotes = [], 0, 0

    @property
    def unfinished(self) -> bool:
        return self.size > 0


async def parse_csv(
    chunks: AsyncIterator[bytes],
    module: ImportModule,
    known: Known,
    *,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> AsyncIterator[list[Parsed]]:
    """Rows of a CSV body, a list per chunk read; the header (row 0) is checked first, a record recognised by its
    source hash (`known`) before its cells are read."""
    validator = _RowValidator(module, known)
    feed = _Feed()
    reader = csv.reader(feed, strict=True)
    records = _Records(max_record_bytes)
    header: list[str] | None = None
    hasher = source_hasher(module, "")
    row = -1
    async for lines in _lines(chunks, max_record_bytes=max_record_bytes):
        out: list[Parsed] = []
        for record in records.feed(lines):
            if isinstance(record, Overlong):
                if header is None:
                    raise FileRejected(f"the first record is longer than {max_record_bytes} bytes: not a header")
                row += 1
                out.append(_too_long(row, record.size, max_record_bytes))
                continue
            if header is not None:
                row += 1
                source = hasher(record.rstrip("\r\n"))
                if same := validator.same(row, source):
                    out.append(same)
                    continue
            feed.lines.append(record)  # one whole record: the reader takes exactly this line
            cells = _record(reader)
            if header is None:
                if not cells or cells == [""]:
                    continue  # blank lines before the header
                row += 1
                header = _header(module, cells)
                hasher = source_hasher(module, ",".join(header))
                continue
            if not cells or cells == [""]:
                continue
            out.extend(_csv_row(validator, header, row, cells, source))
        if out:
            yield out
    if records.unfinished:
        yield [RowError(row + 1, "row", "a quoted cell is never closed", "unreadable")]
    if header is None:
        raise FileRejected("no header and no rows: the first line must name the columns")


def _record(reader: Any) -> list[str]:
    try:
        cells: list[str] = next(reader)
        return cells
    except StopIteration:
        return []
    except csv.Error as exc:  # a malformed record is that row's error, not the file's
        return [f"\x00{exc}"]


def _header(module: ImportModule, cells: list[str]) -> list[str]:
    if cells and cells[0].startswith("\x00"):
        raise FileRejected(f"the header is not readable CSV: {cells[0][1:]}")
    try:
        return check_header(module, cells)
    except RowProblem as exc:
        raise FileRejected(str(exc)) from exc


def _csv_row(validator: _RowValidator, header: list[str], row: int, cells: list[str], source: str) -> list[Parsed]:
    """One record's row, validated."""
    if cells[0].startswith("\x00"):
        return [RowError(row, "row", f"not readable CSV: {cells[0][1:]}", "unreadable")]
    if len(cells) != len(header):
        return [RowError(row, "row", f"{len(cells)} cells where the header has {len(header)}", "unreadable")]
    named = dict(zip(header, cells, strict=True))
    desa_code = named.pop("desa_code")
    try:
        data = validator.format.to_payload(named)
    except RowProblem as exc:
        return [RowError(row, exc.field, str(exc), "invalid")]
    return validator.validate(row, desa_code, data, source, csv_columns=True)


async def parse_ndjson(
    chunks: AsyncIterator[bytes],
    module: ImportModule,
    known: Known,
    *,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> AsyncIterator[list[Parsed]]:
    """Rows of an NDJSON body: one JSON object per line, `desa_code` beside the module's fields; a line recognised by
    its source hash (`known`) before it is decoded."""
    validator = _RowValidator(module, known)
    hasher = source_hasher(module, "ndjson")
    row = 0
    async for lines in _lines(chunks, max_record_bytes=max_record_bytes):
        out: list[Parsed] = []
        for line in lines:
            row += 1
            if isinstance(line, Overlong):
                out.append(_too_long(row, line.size, max_record_bytes))
                continue
            if not (text := line.strip()):
                continue
            source = hasher(text)
            if same := validator.same(row, source):
                out.append(same)
                continue
            try:
                data = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                out.append(RowError(row, "row", f"not a JSON object: {exc}", "unreadable"))
                continue
            if not isinstance(data, dict):
                out.append(RowError(row, "row", f"not a JSON object but a {type(data).__name__}", "unreadable"))
                continue
            if (loc := unstorable(data)) is not None:
                out.append(RowError(row, _dotted(tuple(loc)), UNSTORABLE, "invalid"))
                continue
            desa_code = data.pop("desa_code", None)
            out.extend(validator.validate(row, desa_code, data, source, csv_columns=False))
        if out:
            yield out
