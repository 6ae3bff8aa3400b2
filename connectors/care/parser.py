"""Care CSV (docs/connectors/care-csv.md) -> typed rows, every value checked, or a precise problem.

A file is one of seven tables, told by its header row (not its name). The stream is read line by line:
CP932 never uses the bytes LF or `"` inside a double-byte character, so a record ends at the first LF
where the quotes seen so far pair up, and a file of any size is read in constant memory (a line or
record longer than MAX_RECORD_BYTES is a problem, not held).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import BinaryIO, TypeVar

from connectors.base import RecordProblem, bounded_lines
from connectors.jp import DateError, parse_yyyymmdd
from core.formats import BARTHEL_SCORES, CARE_CSV_COLUMNS, CHECKLIST_ITEMS

BARTHEL_ITEMS = BARTHEL_SCORES
TABLES = {name.removesuffix(".csv"): columns for name, columns in CARE_CSV_COLUMNS.items()}
# The order to ingest a source's folder in: clients first, so that their Patients carry full demographics
# before the other tables' conditional creates would make minimal ones.
FILE_NAMES = tuple(f"{table}.csv" for table in TABLES)
_TABLE_BY_HEADER = {columns: table for table, columns in TABLES.items()}

CARE_LEVELS = {
    "01": "非該当",
    "06": "事業対象者",
    "12": "要支援1",
    "13": "要支援2",
    "21": "要介護1",
    "22": "要介護2",
    "23": "要介護3",
    "24": "要介護4",
    "25": "要介護5",
}
SEXES = {"1": "male", "2": "female"}
APPLICATIONS = {"新規": "new", "更新": "renewal", "区分変更": "change"}
INCIDENT_KINDS = {"転倒": "fall"}
PLACES = {"自宅": "home", "施設内": "facility", "屋外": "outdoors"}
INJURIES = {"なし": "none", "打撲": "bruise", "骨折": "fracture"}
ANSWERS = {"1": True, "0": False}

# A line or record longer than this is no care CSV row (a quote that never closes, a file without line ends):
# it is reported, not held, and reading goes on with the next line.
MAX_RECORD_BYTES = 64 * 1024
_CLIENT_NUMBER = re.compile(r"[0-9A-Za-z-]{1,20}")
_INTEGER = re.compile(r"\d+")
_DECIMAL = re.compile(r"\d+(?:\.\d+)?")
_DATE_TIME = re.compile(r"\d{12}")
_POSTAL_CODE = re.compile(r"(\d{3})-?(\d{4})")
_SERVICE_TYPE = re.compile(r"[0-9A-Z]{2}")
_N = TypeVar("_N", int, Decimal)
_V = TypeVar("_V")


class FieldError(ValueError):
    """A value that cannot be taken: the column and one sentence why."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


@dataclass(frozen=True)
class Client:
    number: str
    kanji: str
    kana: str
    birth: date | None
    sex: str | None  # FHIR gender
    postal_code: str
    address: str
    phone: str
    insurer: str  # 介護保険者番号, with `insured` both or neither
    insured: str
    registered: date | None


@dataclass(frozen=True)
class Certification:
    client: str
    level: str
    level_name: str
    application: str | None  # new | renewal | change
    applied: date | None
    decided: date | None
    valid_from: date
    valid_to: date | None


@dataclass(frozen=True)
class Service:
    client: str
    day: date
    service_type: str
    service_name: str
    units: int | None


@dataclass(frozen=True)
class Adl:
    client: str
    day: date
    scores: tuple[tuple[str, int], ...]  # (item column, score) of the items that were scored
    total: int


@dataclass(frozen=True)
class Incident:
    client: str
    day: date
    kind: str  # fall
    place: str | None  # home | facility | outdoors
    injury: str | None  # none | bruise | fracture


@dataclass(frozen=True)
class Checklist:
    client: str
    day: date
    answers: tuple[bool | None, ...]  # items 1-25; None where unanswered
    height_cm: Decimal | None
    weight_kg: Decimal | None


@dataclass(frozen=True)
class Vitals:
    client: str
    measured: datetime  # Japan local time, no zone
    systolic: int | None
    diastolic: int | None
    pulse: int | None
    temperature: Decimal | None
    weight_kg: Decimal | None


CareRow = Client | Certification | Service | Adl | Incident | Checklist | Vitals


@dataclass(frozen=True)
class Row:
    """One data row: where it is and what it says."""

    location: str
    record: CareRow


def read(data: BinaryIO, origin: str) -> Iterator[Row | RecordProblem]:
    """The rows of one care CSV file in order, a problem in place of each row that cannot be taken; an empty
    file, a header of no known table or a file not in CP932 is a single problem."""
    records = _raw_records(data, origin)
    first = next(records, None)
    if first is None:
        yield RecordProblem(origin, "header", "the file is empty: a care CSV starts with its header row")
        return
    line, header = first
    if isinstance(header, RecordProblem):
        yield header
        return
    table = _table(header)
    if table is None:
        yield RecordProblem(f"{origin}:{line}", "header", _header_problem(header))
        return
    for line, raw in records:
        yield raw if isinstance(raw, RecordProblem) else _row(f"{origin}:{line}", table, raw)


def _row(location: str, table: str, raw: bytes) -> Row | RecordProblem:
    columns = TABLES[table]
    try:
        fields = _fields(raw)
    except FieldError as error:
        return RecordProblem(location, error.column, error.reason)
    if len(fields) != len(columns):
        reason = f"the row has {len(fields)} fields where the {table} table has {len(columns)} columns"
        return RecordProblem(location, "row", reason)
    try:
        return Row(location, _PARSERS[table](Values(dict(zip(columns, fields, strict=True)))))
    except FieldError as error:
        return RecordProblem(location, error.column, error.reason)


def _raw_records(data: BinaryIO, origin: str) -> Iterator[tuple[int, bytes | RecordProblem]]:
    """(first line number, the record's bytes without its line end) per non-blank record; a line longer than
    MAX_RECORD_BYTES, or a quote left open for more than that, becomes a problem and reading goes on with
    the next line."""
    buffer = bytearray()
    start = quotes = 0
    for number, line in enumerate(bounded_lines(data, MAX_RECORD_BYTES), start=1):
        if not buffer:
            start = number
        if line is None:
            reason = (
                f"a quoted field opened on line {start} is still open after {MAX_RECORD_BYTES} bytes"
                if buffer
                else f"line {number} is longer than {MAX_RECORD_BYTES} bytes, far beyond any care CSV row"
            )
            yield start, RecordProblem(f"{origin}:{start}", "row", reason)
            buffer.clear()
            quotes = 0
            continue
        buffer += line
        quotes += line.count(b'"')
        if quotes % 2 and len(buffer) > MAX_RECORD_BYTES:
            reason = f"a quoted field opened on line {start} is still open after {MAX_RECORD_BYTES} bytes"
            yield start, RecordProblem(f"{origin}:{start}", "row", reason)
            buffer.clear()
            quotes = 0
        elif quotes % 2 == 0:
            record = bytes(buffer).rstrip(b"\r\n")
            buffer.clear()
            if record.strip():
                yield start, record
    if buffer:
        yield start, RecordProblem(f"{origin}:{start}", "row", f"a quoted field opened on line {start} never closes")


def _fields(raw: bytes) -> list[str]:
    try:
        text = raw.decode("cp932")
    except UnicodeDecodeError as error:
        byte = raw[error.start]
        raise FieldError("row", f"the row is not CP932 text: byte 0x{byte:02X} at offset {error.start}") from None
    try:
        return next(csv.reader([text], strict=True))
    except csv.Error as error:
        raise FieldError("row", f"the row is not valid CSV: {error}") from None


def _table(header: bytes) -> str | None:
    try:
        return _TABLE_BY_HEADER.get(tuple(_fields(header)))
    except FieldError:
        return None


def _header_problem(header: bytes) -> str:
    """Why the header is not a care table's: said precisely when it is one written in UTF-8."""
    try:
        fields = tuple(next(csv.reader([header.decode("utf-8-sig")])))
    except (UnicodeDecodeError, csv.Error):
        fields = ()
    if fields in _TABLE_BY_HEADER:
        return "the file is UTF-8 text, not CP932 as care CSV files are"
    return f"the header row is none of the care tables' ({', '.join(FILE_NAMES)}): see docs/connectors/care-csv.md"


class Values:
    """A row's fields by column name, read as the format's types; FieldError names the column and why."""

    def __init__(self, fields: dict[str, str]) -> None:
        self._fields = {column: value.strip() for column, value in fields.items()}

    def text(self, column: str) -> str:
        return self._fields[column]

    def required(self, column: str) -> str:
        value = self._fields[column]
        if not value:
            raise FieldError(column, f"{column} is empty")
        return value

    def client(self) -> str:
        value = self.required("利用者番号")
        if not _CLIENT_NUMBER.fullmatch(value):
            raise FieldError("利用者番号", f"利用者番号 '{value}' is not 1 to 20 half-width letters, digits or hyphens")
        return value

    def day(self, column: str) -> date | None:
        value = self._fields[column]
        if not value:
            return None
        try:
            return parse_yyyymmdd(value)
        except DateError as error:
            raise FieldError(column, f"{column} '{value}' {error}") from None

    def required_day(self, column: str) -> date:
        self.required(column)
        day = self.day(column)
        assert day is not None
        return day

    def date_time(self, column: str) -> datetime:
        value = self.required(column)
        if not _DATE_TIME.fullmatch(value):
            raise FieldError(column, f"{column} '{value}' is not a date-time in the YYYYMMDDHHMM form")
        try:
            return datetime(int(value[:4]), int(value[4:6]), int(value[6:8]), int(value[8:10]), int(value[10:]))
        except ValueError:
            raise FieldError(column, f"{column} '{value}' is not a calendar date and time") from None

    def integer(self, column: str) -> int | None:
        return self._number(column, _INTEGER, "an integer", int)

    def decimal(self, column: str) -> Decimal | None:
        return self._number(column, _DECIMAL, "a decimal number", Decimal)

    def answer(self, column: str) -> bool | None:
        return self._lookup(column, ANSWERS, "1 (はい) or 0 (いいえ)")

    def code(self, column: str, codes: dict[str, str], *, required: bool = False) -> str | None:
        """The value's meaning in `codes` (keyed by what the file writes)."""
        if required:
            self.required(column)
        return self._lookup(column, codes, f"one of the codes the format defines ({', '.join(codes)})")

    def _number(self, column: str, form: re.Pattern[str], kind: str, convert: Callable[[str], _N]) -> _N | None:
        value = self._fields[column]
        if value and not form.fullmatch(value):
            raise FieldError(column, f"{column} '{value}' is not {kind}")
        return convert(value) if value else None

    def _lookup(self, column: str, meanings: dict[str, _V], allowed: str) -> _V | None:
        value = self._fields[column]
        if value and value not in meanings:
            raise FieldError(column, f"{column} '{value}' is not {allowed}")
        return meanings[value] if value else None


def _client(row: Values) -> Client:
    return Client(
        number=row.client(),
        kanji=row.text("氏名"),
        kana=row.text("氏名カナ"),
        birth=row.day("生年月日"),
        sex=row.code("性別", SEXES),
        postal_code=_postal_code(row.text("郵便番号")),
        address=row.text("住所"),
        phone=row.text("電話番号"),
        insurer=_number(row, "介護保険者番号", 6),
        insured=_number(row, "被保険者番号", 10),
        registered=row.day("登録日"),
    )


def _number(row: Values, column: str, digits: int) -> str:
    """A 介護保険 number: both or neither of the insurer's and the insured person's are given."""
    value = row.text(column)
    if not value:
        other = "被保険者番号" if column == "介護保険者番号" else "介護保険者番号"
        if row.text(other):
            raise FieldError(column, f"{column} is empty although {other} is given")
    elif not (len(value) == digits and value.isascii() and value.isdigit()):
        raise FieldError(column, f"{column} '{value}' is not {digits} digits")
    return value


def _postal_code(value: str) -> str:
    if not value:
        return value
    match = _POSTAL_CODE.fullmatch(value)
    if match is None:
        raise FieldError("郵便番号", f"郵便番号 '{value}' is not a postal code NNN-NNNN")
    return f"{match[1]}-{match[2]}"


def _certification(row: Values) -> Certification:
    client = row.client()
    level = row.required("要介護状態区分コード")
    if level not in CARE_LEVELS:
        reason = f"要介護状態区分コード '{level}' is not a care level (01, 06, 12, 13, 21 to 25)"
        raise FieldError("要介護状態区分コード", reason)
    valid_from, valid_to = row.required_day("有効期間開始"), row.day("有効期間終了")
    if valid_to is not None and valid_to < valid_from:
        reason = f"有効期間終了 {valid_to:%Y%m%d} is before 有効期間開始 {valid_from:%Y%m%d}"
        raise FieldError("有効期間終了", reason)
    return Certification(
        client=client,
        level=level,
        level_name=row.text("要介護状態区分"),
        application=row.code("申請区分", APPLICATIONS),
        applied=row.day("申請日"),
        decided=row.day("認定日"),
        valid_from=valid_from,
        valid_to=valid_to,
    )


def _service(row: Values) -> Service:
    client, day = row.client(), row.required_day("サービス提供日")
    service_type = row.required("サービス種類コード")
    if not _SERVICE_TYPE.fullmatch(service_type):
        reason = f"サービス種類コード '{service_type}' is not a two-character service type code"
        raise FieldError("サービス種類コード", reason)
    return Service(
        client=client,
        day=day,
        service_type=service_type,
        service_name=row.text("サービス種類"),
        units=row.integer("単位数"),
    )


def _adl(row: Values) -> Adl:
    client, day = row.client(), row.required_day("評価日")
    scores: list[tuple[str, int]] = []
    for item, allowed in BARTHEL_ITEMS.items():
        score = row.integer(item)
        if score is None:
            continue
        if score not in allowed:
            raise FieldError(item, f"{item} score {score} is not one of {', '.join(map(str, allowed))}")
        scores.append((item, score))
    total = row.integer("合計")
    if total is None:
        raise FieldError("合計", "合計 is empty")
    if len(scores) == len(BARTHEL_ITEMS) and total != sum(score for _, score in scores):
        reason = f"合計 {total} is not the sum of the item scores ({sum(score for _, score in scores)})"
        raise FieldError("合計", reason)
    if total > 100:
        raise FieldError("合計", f"合計 {total} is above the Barthel Index maximum of 100")
    return Adl(client=client, day=day, scores=tuple(scores), total=total)


def _incident(row: Values) -> Incident:
    client, day = row.client(), row.required_day("発生日")
    kind = row.code("種別", INCIDENT_KINDS, required=True)
    assert kind is not None
    return Incident(
        client=client,
        day=day,
        kind=kind,
        place=row.code("場所", PLACES),
        injury=row.code("受傷", INJURIES),
    )


def _checklist(row: Values) -> Checklist:
    return Checklist(
        client=row.client(),
        day=row.required_day("実施日"),
        answers=tuple(row.answer(f"質問{number}") for number in range(1, CHECKLIST_ITEMS + 1)),
        height_cm=row.decimal("身長"),
        weight_kg=row.decimal("体重"),
    )


def _vitals(row: Values) -> Vitals:
    vitals = Vitals(
        client=row.client(),
        measured=row.date_time("測定日時"),
        systolic=row.integer("収縮期血圧"),
        diastolic=row.integer("拡張期血圧"),
        pulse=row.integer("脈拍"),
        temperature=row.decimal("体温"),
        weight_kg=row.decimal("体重"),
    )
    measurements = (vitals.systolic, vitals.diastolic, vitals.pulse, vitals.temperature, vitals.weight_kg)
    if all(value is None for value in measurements):
        raise FieldError("row", "the row has no measurement: every value column is empty")
    return vitals


_PARSERS: dict[str, Callable[[Values], CareRow]] = {
    "clients": _client,
    "certifications": _certification,
    "services": _service,
    "adl": _adl,
    "incidents": _incident,
    "checklists": _checklist,
    "vitals": _vitals,
}
