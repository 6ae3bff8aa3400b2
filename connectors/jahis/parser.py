"""JAHIS 電子版お薬手帳 bytes -> the patient, OTC entries and dispensings, every value checked, or precise problems.

A file (japan-formats §3) is a header `JAHISTCnn,<出力区分>`, the patient's records (1, 2, 3/31, 4), blocks
that each start at a record 5 (調剤等年月日), then 701 and 911. It is read line by line, never whole: the
encoding is told from the first 64 KiB (UTF-8 when that decodes strictly, a BOM allowed, else CP932), and
each block is checked and handed on when the next one starts, so a bad value costs only its block.
"""

from __future__ import annotations

import codecs
import io
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import partial
from pathlib import PurePosixPath
from typing import BinaryIO

from connectors.base import MiB, RecordProblem, oversize_reason
from connectors.jp import DateError, parse_era_date, parse_yyyymmdd

SNIFF_BYTES = 64 * 1024
MAX_FILE_BYTES = 4 * MiB  # a notebook file is a few KiB: a larger one is refused unread (a block is held whole)
MAX_LINE = 64 * 1024  # far beyond any JAHIS record; a longer "line" is not text of this format
ENCODINGS = {"utf-8": "UTF-8", "cp932": "CP932"}

# Record number -> (name, its fields from field 1 on), japan-formats §3.3; problems name fields by them.
RECORDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "1": (
        "患者情報",
        ("氏名", "性別", "生年月日", "郵便番号", "住所", "電話番号", "緊急連絡先", "血液型", "体重", "氏名カナ"),
    ),
    "2": ("患者特記", ("特記種別", "内容", "作成者")),
    "3": ("要指導・一般用医薬品", ("薬品名称", "服用開始日", "服用終了日", "作成者", "レコード通番", "JANコード")),
    "31": ("要指導・一般用医薬品成分", ("OTC通番", "成分名", "成分コード種別", "成分コード", "作成者")),
    "4": ("手帳メモ", ("内容", "入力日", "作成者")),
    "5": ("調剤等年月日", ("調剤等年月日", "作成者")),
    "11": (
        "調剤-医療機関等",
        ("名称", "都道府県", "点数表", "医療機関等コード", "郵便番号", "住所", "電話番号", "作成者"),
    ),
    "15": ("調剤-医師・薬剤師", ("氏名", "連絡先", "作成者")),
    "51": ("処方-医療機関", ("名称", "都道府県", "点数表", "医療機関コード", "作成者")),
    "55": ("処方-医師", ("氏名", "診療科名", "作成者")),
    "201": (
        "薬品",
        (
            "RP番号",
            "薬品名称",
            "用量",
            "単位名",
            "薬品コード種別",
            "薬品コード",
            "作成者",
            "一般名",
            "一般名コード種別",
            "一般名コード",
        ),
    ),
    "281": ("薬品補足", ("RP番号", "内容", "作成者")),
    "291": ("薬品服用注意", ("RP番号", "内容", "作成者")),
    "301": (
        "用法",
        ("RP番号", "用法名称", "調剤数量", "調剤単位", "剤形コード", "用法コード種別", "用法コード", "作成者"),
    ),
    "311": ("用法補足", ("RP番号", "内容", "作成者")),
    "391": ("処方服用注意", ("RP番号", "内容", "作成者")),
    "401": ("服用注意", ("内容", "作成者")),
    "411": ("医療機関等提供情報", ("内容", "提供情報種別", "作成者")),
    "421": ("残薬確認", ("内容", "作成者")),
    "501": ("備考", ("内容", "作成者")),
    "601": ("患者等記入", ("内容", "入力日")),
    "701": ("かかりつけ薬剤師", ("氏名", "薬局名称", "連絡先", "担当開始日", "担当終了日", "作成者")),
    "911": ("分割制御", ("データID", "分割数", "分割番号")),
}
PATIENT_RECORDS = frozenset({"1", "2", "3", "31", "4"})
BLOCK_RECORDS = frozenset(
    {"11", "15", "51", "55", "201", "281", "291", "301", "311", "391", "401", "411", "421", "501", "601"}
)

OUTPUT_CATEGORIES = {"1": "医療機関・薬局から患者等へ", "2": "患者等から医療機関・薬局へ"}
SEXES = {"1": "男", "2": "女"}
REMARK_KINDS = {"1": "アレルギー歴", "2": "副作用歴", "3": "既往歴", "9": "その他"}
PHARMACY_FEE_TABLES = {"1": "医科", "3": "歯科", "4": "調剤"}
PRESCRIBER_FEE_TABLES = {"1": "医科", "3": "歯科"}
DRUG_CODE_TYPES = {"1": "コードなし", "2": "レセプト電算コード", "3": "厚労省コード", "4": "YJコード", "6": "HOTコード"}
GENERIC_CODE_TYPES = {"1": "コードなし", "2": "一般名コード"}
DOSAGE_FORMS = {
    "1": "内服",
    "2": "内滴",
    "3": "屯服",
    "4": "注射",
    "5": "外用",
    "6": "浸煎",
    "7": "湯",
    "9": "材料",
    "10": "その他",
}
PROVIDED_INFO_KINDS = {"30": "入院中副作用", "31": "退院後服薬情報", "99": "その他"}
HOT_LENGTHS = (7, 9, 13)

_HEADER = re.compile(r"JAHISTC(\d{2})")
_PRESCRIPTION_HEADER = re.compile(r"JAHIS\d+")  # the outpatient-prescription QR format, not this one
_ERA_DATE = re.compile(r"[MTSHR]\d{6}")
_WESTERN_DATE = re.compile(r"\d{8}")
_DIGITS = re.compile(r"\d+", re.ASCII)
_NUMBER = re.compile(r"\d{1,9}(\.\d{1,6})?", re.ASCII)  # 用量 has up to 6 + 5 digits, 体重 3 + 3
# C0 controls and DEL other than TAB, LF, CR and the MS-DOS EOF mark: NUL in UTF-16, ESC in ISO-2022-JP.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x19\x1b-\x1f\x7f]")
# The pharmacy exports' naming: <患者番号>_<調剤日 YYYYMMDD>_<order>, in a folder of the patient number.
_PHARMACY_FILE = re.compile(r"(?P<patient>[^_]+)_\d{8}_[^_]+")


@dataclass(frozen=True)
class FileName:
    """What the file name says: JAHIS records carry no patient number, the pharmacy's file name does."""

    patient: str
    key: str  # the file name without its extension: the start of every record key from this file


def file_name(origin: str) -> FileName:
    """`<患者番号>_<YYYYMMDD>_<order>.csv` gives its 患者番号; any other name stands for the patient itself
    (its stem), so that each such file is one patient."""
    stem = PurePosixPath(origin.replace("\\", "/")).stem
    match = _PHARMACY_FILE.fullmatch(stem)
    return FileName(match["patient"] if match else stem, stem)


@dataclass(frozen=True)
class PatientInfo:
    """Record 1 (the half-width kana of some pharmacies kept as written)."""

    name: str
    kana: str
    sex: str  # SEXES key or ""
    birth: date | None
    postal_code: str
    address: str
    phone: str
    emergency_phone: str
    blood_type: str
    weight: Decimal | None


@dataclass(frozen=True)
class Remark:
    """Record 2 患者特記."""

    kind: str  # REMARK_KINDS key
    text: str


@dataclass(frozen=True)
class PatientPart:
    line: int
    patient: PatientInfo
    remarks: tuple[Remark, ...]


@dataclass(frozen=True)
class Ingredient:
    """Record 31, an OTC drug's ingredient."""

    name: str
    code_type: str
    code: str


@dataclass
class Otc:
    """Record 3, an OTC drug the patient takes, with its 31 ingredients."""

    line: int
    name: str
    start: date | None
    end: date | None
    sequence: str
    jan: str
    ingredients: list[Ingredient] = field(default_factory=list)


@dataclass(frozen=True)
class Institution:
    """Record 11 or 51; `code` is the 10-digit 医療機関コード (都道府県 + 点数表 + 7 digits) when given."""

    name: str
    code: str | None
    postal_code: str = ""
    address: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Person:
    """Record 15 (name, 連絡先) or 55 (name, 診療科名)."""

    name: str
    detail: str


@dataclass
class Drug:
    """Record 201 with its 281 supplements and 291 cautions."""

    line: int
    position: int  # within its RP, from 1
    name: str
    dose: Decimal | None
    unit: str
    code_type: str  # DRUG_CODE_TYPES key
    code: str
    generic_name: str
    generic_code: str
    supplements: list[str] = field(default_factory=list)
    cautions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Usage:
    """Record 301."""

    text: str
    count: Decimal | None  # 調剤数量
    count_unit: str  # 調剤単位: 日分, 回分, 調剤...
    form: str  # DOSAGE_FORMS key
    code_type: str
    code: str


@dataclass
class Rp:
    """One RP: its drugs, its usage, and who prescribed it (the 51/55 before it)."""

    number: int
    key: str  # the RP number, or `<number>-<n>` when the number comes again in the same block
    institution: Institution | None
    doctor: Person | None
    drugs: list[Drug] = field(default_factory=list)
    usage: Usage | None = None
    supplements: list[str] = field(default_factory=list)  # 311
    cautions: list[str] = field(default_factory=list)  # 391


@dataclass(frozen=True)
class Note:
    """Records 401, 411, 501 and 601: text about the whole dispensing."""

    record: str
    text: str
    kind: str = ""  # 411 提供情報種別
    day: date | None = None  # 601 入力日


@dataclass
class Dispensing:
    """A block from record 5 on: one dispensing event."""

    line: int
    day: date
    ordinal: int  # among this file's dispensings of the same day, from 1
    pharmacy: Institution | None = None
    dispenser: Person | None = None
    rps: list[Rp] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    remaining: list[str] = field(default_factory=list)  # 421 残薬確認


Part = PatientPart | Otc | Dispensing


class PartError(Exception):
    """Why a part cannot be taken: its line (None for the whole file), the field, and one sentence."""

    def __init__(self, line: int | None, field: str, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.field = field
        self.reason = reason

    def problem(self, origin: str) -> RecordProblem:
        return RecordProblem(origin if self.line is None else f"{origin}:{self.line}", self.field, self.reason)


@dataclass(frozen=True)
class Line:
    number: int
    fields: tuple[str, ...]  # trimmed; fields[0] is the record number

    @property
    def record(self) -> str:
        return self.fields[0]

    def value(self, index: int) -> str:
        return self.fields[index] if index < len(self.fields) else ""

    def code(self, index: int) -> str:
        """A code or number as meant: full-width digits and spaces folded (NFKC), then trimmed."""
        return unicodedata.normalize("NFKC", self.value(index)).strip()

    def label(self, index: int) -> str:
        return f"{self.record}-{index} {RECORDS[self.record][1][index - 1]}"

    def refuse(self, index: int, reason: str) -> PartError:
        """`201-6 薬品コード <reason>`."""
        label = self.label(index)
        return PartError(self.number, label, f"{label} {reason}")


@dataclass(frozen=True)
class BadLine:
    """A line that is not text of the file's encoding (or far too long)."""

    number: int
    reason: str


@dataclass(frozen=True)
class Split:
    """Record 911: this file is one part of data split into several."""

    data_id: str
    total: int
    part: int

    def describe(self) -> str:
        return f"part {self.part} of {self.total} of split data {self.data_id}"


def read(data: BinaryIO, origin: str) -> Iterator[Part | RecordProblem]:
    """The file's parts in order (the patient, the OTC drugs, then each dispensing), a problem in place of
    each part that cannot be taken; an empty file, an undecodable one, a wrong header or a file larger than
    MAX_FILE_BYTES is one problem."""
    too_large = oversize_reason(data, MAX_FILE_BYTES, "a JAHIS e-medication notebook file")
    if too_large is not None:
        yield RecordProblem(origin, "file", too_large)
        return
    head = data.read(SNIFF_BYTES).removeprefix(codecs.BOM_UTF8)
    if head and not head.endswith(b"\n"):
        head += data.readline(MAX_LINE)  # the sniffed text ends with a whole line
    if not head.strip(b" \t\r\n\x1a"):
        yield RecordProblem(origin, "file", "the file is empty")
        return
    try:
        encoding = _encoding(head)
        lines = _lines(head, data, encoding)
        _check_header(next(lines, None))
    except PartError as error:
        yield error.problem(origin)
        return
    reader = _Reader(origin)
    for line in lines:
        yield from reader.feed(line)
    yield from reader.finish()


def _encoding(head: bytes) -> str:
    """UTF-8 when the first 64 KiB decode strictly as UTF-8, else CP932; a character cut at the end of
    the 64 KiB is left to the line that holds it."""
    failure: UnicodeDecodeError | None = None
    for encoding in ENCODINGS:
        try:
            text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError as error:
            failure = failure or error
            continue
        control = _CONTROL.search(text)
        if control is not None:
            line = text.count("\n", 0, control.start()) + 1
            character = f"U+{ord(control.group()):04X}"
            reason = f"line {line} holds the control character {character}, so the file is not UTF-8 or CP932 text"
            raise PartError(line, "encoding", reason)
        return encoding
    assert failure is not None
    line = head.count(b"\n", 0, failure.start) + 1
    raise PartError(line, "encoding", f"the file is neither UTF-8 nor CP932 text: line {line} is not text in either")


def _lines(head: bytes, data: BinaryIO, encoding: str) -> Iterator[Line | BadLine]:
    """Non-blank lines (CRLF or LF; a trailing EOF mark ignored), split into trimmed fields."""
    pieces = itertools.chain(io.BytesIO(head), iter(partial(data.readline, MAX_LINE), b""))
    number = 0
    overlong = False
    for piece in pieces:
        complete = piece.endswith(b"\n")
        if overlong:  # the rest of a line already reported
            overlong = not complete
            continue
        number += 1
        if len(piece) >= MAX_LINE:
            overlong = not complete
            yield BadLine(number, f"line {number} is longer than {MAX_LINE} bytes, so it is not a JAHIS record")
            continue
        raw = piece.rstrip(b"\r\n\x1a")
        if not raw.strip():
            continue
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as error:
            yield BadLine(number, _undecodable(number, ENCODINGS[encoding], error, last=not complete))
            continue
        yield Line(number, tuple(value.strip() for value in text.split(",")))


def _undecodable(number: int, encoding: str, error: UnicodeDecodeError, *, last: bool) -> str:
    if (
        last
        and error.end == len(error.object)
        and error.reason in ("incomplete multibyte sequence", "unexpected end of data")
    ):
        return f"line {number} ends in the middle of a {encoding} character, so the file is truncated"
    return f"line {number} is not {encoding} text like the start of the file"


def _check_header(line: Line | BadLine | None) -> None:
    if line is None:
        raise PartError(None, "file", "the file is empty")
    if isinstance(line, BadLine):
        raise PartError(line.number, "header", line.reason)
    name = line.record
    match = _HEADER.fullmatch(name)
    if match is None:
        if _PRESCRIPTION_HEADER.fullmatch(name):
            reason = (
                f"'{name}' is the header of a JAHIS outpatient prescription (院外処方箋2次元シンボル), "
                "not of an e-medication notebook (JAHISTCnn)"
            )
        else:
            shown = ",".join(line.fields)[:40]
            reason = f"line {line.number} '{shown}' is not a JAHIS e-medication notebook header (JAHISTCnn,出力区分)"
    elif not 1 <= int(match[1]) <= 12:
        reason = f"header version {name} is not one of JAHISTC01 to JAHISTC12"
    elif line.code(1) not in OUTPUT_CATEGORIES:
        reason = f"header 出力区分 '{line.code(1)}' is not one of {_listing(OUTPUT_CATEGORIES)}"
    else:
        return
    raise PartError(line.number, "header", reason)


@dataclass
class _Block:
    lines: list[Line | BadLine]
    day: date | None = None
    ordinal: int = 0
    error: PartError | None = None


class _Reader:
    """Groups the lines after the header as the format does, and checks each group once it is complete."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.lines = 0
        self.patient: list[Line | BadLine] = []  # records 1 and 2, and unreadable lines before the first 5
        self.otc: list[Line] = []  # records 3 and 31
        self.patient_open = True
        self.block: _Block | None = None
        self.days: Counter[date] = Counter()
        self.orphans: dict[str, int] = {}  # record number -> last line, of block records before any record 5
        self.first_orphan = 0
        self.split: Split | None = None

    def feed(self, line: Line | BadLine) -> Iterator[Part | RecordProblem]:
        self.lines += 1
        if isinstance(line, BadLine):
            (self.block.lines if self.block is not None else self.patient).append(line)
            return
        record = line.record
        if record == "5":
            yield from self._close_patient()
            yield from self._close_block()
            self.block = self._open_block(line)
        elif record in PATIENT_RECORDS:
            if not self.patient_open:
                yield self._misplaced(line)
            elif record in ("3", "31"):
                self.otc.append(line)
            elif record != "4":  # 手帳メモ is the patient's own memo: not mapped
                self.patient.append(line)
        elif record in BLOCK_RECORDS:
            if self.block is not None:
                self.block.lines.append(line)
            else:
                self.first_orphan = self.first_orphan or line.number
                self.orphans[record] = line.number
        elif record == "911":
            yield from self._read_split(line)
        elif record != "701":  # かかりつけ薬剤師: not mapped
            reason = (
                f"line {line.number} has the record number '{record}', which is no JAHIS e-medication notebook "
                "record (the rest of the file is read on)"
            )
            yield RecordProblem(f"{self.origin}:{line.number}", "record", reason)

    def finish(self) -> Iterator[Part | RecordProblem]:
        if self.lines == 0:
            yield RecordProblem(self.origin, "file", "the file has a header but no records")
            return
        yield from self._close_patient()
        yield from self._close_block(last=True)
        if self.orphans:
            yield self._orphans_problem()

    def _misplaced(self, line: Line) -> RecordProblem:
        reason = (
            f"record {line.record} ({RECORDS[line.record][0]}) on line {line.number} comes after the first "
            "dispensing record (5), but belongs before it"
        )
        return RecordProblem(f"{self.origin}:{line.number}", f"{line.record} {RECORDS[line.record][0]}", reason)

    def _open_block(self, line: Line) -> _Block:
        """The day is read at once: a block's ordinal among same-day blocks must not depend on whether the
        blocks before it are valid."""
        block = _Block([line])
        try:
            day = _date(line, 1, required=True)
        except PartError as error:
            block.error = error
        else:
            assert day is not None
            self.days[day] += 1
            block.day, block.ordinal = day, self.days[day]
        return block

    def _close_patient(self) -> Iterator[Part | RecordProblem]:
        if not self.patient_open:
            return
        self.patient_open = False
        try:
            yield _patient_part(self.patient)
        except PartError as error:
            yield error.problem(self.origin)
        yield from _otc_parts(self.otc, self.origin)

    def _close_block(self, *, last: bool = False) -> Iterator[Part | RecordProblem]:
        block, self.block = self.block, None
        if block is None:
            return
        split = self.split
        unfinished = ""
        if last and split is not None and split.part < split.total:
            unfinished = f"; the file is {split.describe()}, so the rest may be in a later part: join the parts"
        try:
            yield _dispensing(block, unfinished)
        except PartError as error:
            yield error.problem(self.origin)

    def _read_split(self, line: Line) -> Iterator[RecordProblem]:
        try:
            if self.split is not None:
                raise PartError(line.number, "911 分割制御", f"line {line.number} is a second split record (911)")
            self.split = _split(line)
        except PartError as error:
            yield error.problem(self.origin)

    def _orphans_problem(self) -> RecordProblem:
        first, last = self.first_orphan, max(self.orphans.values())
        records = ", ".join(self.orphans)
        where = f"line {first}" if first == last else f"lines {first} to {last}"
        split = self.split
        if split is not None and split.part > 1:
            why = (
                f"the file is {split.describe()}, so they continue a dispensing begun in an earlier part: "
                "join the parts into one file"
            )
        else:
            why = "so they belong to no dispensing"
        reason = f"{where} (records {records}) come before any dispensing record (5); {why}"
        return RecordProblem(f"{self.origin}:{first}", "5 調剤等年月日", reason)


def _patient_part(lines: list[Line | BadLine]) -> PatientPart:
    for line in lines:
        if isinstance(line, BadLine):
            raise PartError(line.number, "line", line.reason)
    records = [line for line in lines if isinstance(line, Line) and line.record == "1"]
    if not records:
        raise PartError(None, "1 患者情報", "the file has no patient record (1)")
    if len(records) > 1:
        second = records[1].number
        raise PartError(second, "1 患者情報", f"line {second} is a second patient record (1), but a file is about one")
    remarks = tuple(_remark(line) for line in lines if isinstance(line, Line) and line.record == "2")
    return PatientPart(records[0].number, _patient_info(records[0]), remarks)


def _patient_info(line: Line) -> PatientInfo:
    return PatientInfo(
        name=_required(line, 1),
        kana=line.value(10),
        sex=_choice(line, 2, SEXES, required=False),
        birth=_date(line, 3),
        postal_code=line.code(4),
        address=line.value(5),
        phone=line.code(6),
        emergency_phone=line.code(7),
        blood_type=line.value(8),
        weight=_decimal(line, 9),
    )


def _remark(line: Line) -> Remark:
    return Remark(_choice(line, 1, REMARK_KINDS), _required(line, 2))


def _otc_parts(lines: list[Line], origin: str) -> Iterator[Otc | RecordProblem]:
    """OTC drugs with their ingredients (31 names its 3 by 通番), in line order, after the whole group is
    read; an ingredient of a refused OTC record goes with it."""
    parts: list[Otc | RecordProblem] = []
    by_sequence: dict[str, Otc] = {}
    refused_sequences: set[str] = set()
    for line in lines:
        try:
            if line.record == "3":
                otc = _otc(line)
                if otc.sequence in by_sequence:
                    other = by_sequence[otc.sequence].line
                    raise line.refuse(5, f"'{otc.sequence}' is also the number of the OTC record on line {other}")
                if otc.sequence:
                    by_sequence[otc.sequence] = otc
                parts.append(otc)
                continue
            sequence = line.code(1)
            parent = by_sequence.get(sequence)
            if parent is not None:
                parent.ingredients.append(Ingredient(_required(line, 2), line.code(3), line.code(4)))
            elif sequence not in refused_sequences:
                raise line.refuse(1, f"'{sequence}' matches no OTC record (3) before it")
        except PartError as error:
            if line.record == "3":
                refused_sequences.add(line.code(5))
            parts.append(error.problem(origin))
    yield from parts


def _otc(line: Line) -> Otc:
    return Otc(line.number, _required(line, 1), _date(line, 2), _date(line, 3), line.code(5), line.code(6))


def _dispensing(block: _Block, unfinished: str) -> Dispensing:
    """The block's records checked in order: 51/55 apply to the RPs after them, 201s gather in their RP
    until its 301, 281/291/311/391 join the last RP of their number."""
    if block.error is not None:
        raise block.error
    start, *rest = block.lines
    assert isinstance(start, Line)
    assert block.day is not None
    dispensing = Dispensing(start.number, block.day, block.ordinal)
    institution: Institution | None = None
    doctor: Person | None = None
    waiting: dict[int, Rp] = {}  # RPs whose 301 has not come yet
    latest: dict[int, Rp] = {}
    for line in rest:
        if isinstance(line, BadLine):
            raise PartError(line.number, "line", line.reason)
        record = line.record
        if record == "11":
            _check_single(dispensing.pharmacy, line, start)
            dispensing.pharmacy = _institution(line, PHARMACY_FEE_TABLES)
        elif record == "15":
            _check_single(dispensing.dispenser, line, start)
            dispensing.dispenser = Person(_required(line, 1), line.code(2))
        elif record == "51":
            institution, doctor = _institution(line, PRESCRIBER_FEE_TABLES), None
        elif record == "55":
            doctor = Person(_required(line, 1), line.value(2))
        elif record == "201":
            number = _rp_number(line)
            rp = waiting.get(number)
            if rp is None:
                again = sum(1 for other in dispensing.rps if other.number == number)
                rp = Rp(number, f"{number}-{again + 1}" if again else str(number), institution, doctor)
                dispensing.rps.append(rp)
                waiting[number] = latest[number] = rp
            rp.drugs.append(_drug(line, len(rp.drugs) + 1))
        elif record == "301":
            number = _rp_number(line)
            if number not in waiting:
                raise line.refuse(1, f"'{number}' names no RP whose drug records (201) wait for this usage record")
            waiting.pop(number).usage = _usage(line)
        elif record in ("281", "291", "311", "391"):
            _rp_text(latest, line)
        elif record == "421":
            dispensing.remaining.append(_required(line, 1))
        else:
            dispensing.notes.append(_note(line))
    if waiting:
        rp = next(iter(waiting.values()))
        reason = f"RP {rp.number} has drug records (201) from line {rp.drugs[0].line} but no usage record (301)"
        raise PartError(rp.drugs[0].line, "301 用法", reason + unfinished)
    if not dispensing.rps:
        raise PartError(start.number, "201 薬品", f"the dispensing of line {start.number} has no drug record (201)")
    return dispensing


def _check_single(current: object, line: Line, start: Line) -> None:
    if current is not None:
        name = RECORDS[line.record][0]
        reason = (
            f"line {line.number} is a second record {line.record} ({name}) in the dispensing of line {start.number}"
        )
        raise PartError(line.number, f"{line.record} {name}", reason)


def _rp_text(latest: dict[int, Rp], line: Line) -> None:
    """281/291 go to the RP's last drug, 311/391 to the RP."""
    number = _rp_number(line)
    rp = latest.get(number)
    if rp is None:
        raise line.refuse(1, f"'{number}' names no RP with drug records (201) before this line")
    text = _required(line, 2)
    targets = {"281": rp.drugs[-1].supplements, "291": rp.drugs[-1].cautions, "311": rp.supplements}
    targets.get(line.record, rp.cautions).append(text)


def _note(line: Line) -> Note:
    if line.record == "411":
        return Note(line.record, _required(line, 1), kind=_choice(line, 2, PROVIDED_INFO_KINDS, required=False))
    if line.record == "601":
        return Note(line.record, _required(line, 1), day=_date(line, 2))
    return Note(line.record, _required(line, 1))


def _institution(line: Line, fee_tables: dict[str, str]) -> Institution:
    """A 11/51 record; its code parts are all given (then checked) or all empty."""
    prefecture, table, number = line.code(2), line.code(3), line.code(4)
    code = None
    if prefecture or table or number:
        if not (_DIGITS.fullmatch(prefecture) and len(prefecture) <= 2 and 1 <= int(prefecture) <= 47):
            raise line.refuse(2, f"'{prefecture}' is not a prefecture number from 01 to 47")
        _choice(line, 3, fee_tables)
        if not (_DIGITS.fullmatch(number) and len(number) == 7):
            raise line.refuse(4, f"'{number}' is not a 7-digit code")
        code = f"{prefecture.zfill(2)}{table}{number}"
    if line.record == "51":
        return Institution(line.value(1), code)
    return Institution(line.value(1), code, line.code(5), line.value(6), line.code(7))


def _drug(line: Line, position: int) -> Drug:
    code_type = _choice(line, 5, DRUG_CODE_TYPES)
    code = line.code(6) if code_type != "1" else ""
    if code_type != "1" and not code:
        raise line.refuse(6, f"is empty although 薬品コード種別 is {code_type} ({DRUG_CODE_TYPES[code_type]})")
    if code_type == "6" and not (_DIGITS.fullmatch(code) and len(code) in HOT_LENGTHS):
        raise line.refuse(6, f"'{code}' is not a HOT code of 7, 9 or 13 digits")
    generic_type = _choice(line, 9, GENERIC_CODE_TYPES, required=False)
    generic_code = line.code(10) if generic_type == "2" else ""
    if generic_type == "2" and not generic_code:
        raise line.refuse(10, "is empty although 一般名コード種別 is 2 (一般名コード)")
    return Drug(
        line=line.number,
        position=position,
        name=_required(line, 2),
        dose=_decimal(line, 3),
        unit=line.value(4),
        code_type=code_type,
        code=code,
        generic_name=line.value(8),
        generic_code=generic_code,
    )


def _usage(line: Line) -> Usage:
    code_type, code = line.code(6), line.code(7)
    if code_type not in ("", "1") and not code:
        raise line.refuse(7, f"is empty although 用法コード種別 is {code_type}")
    return Usage(
        text=line.value(2),
        count=_decimal(line, 3),
        count_unit=line.code(4),
        form=_choice(line, 5, DOSAGE_FORMS),
        code_type=code_type,
        code=code if code_type not in ("", "1") else "",
    )


def _split(line: Line) -> Split:
    data_id, total, part = line.code(1), line.code(2), line.code(3)
    if not (_DIGITS.fullmatch(data_id) and len(data_id) == 14):
        raise line.refuse(1, f"'{data_id}' is not a 14-digit data ID")
    if not (_DIGITS.fullmatch(total) and int(total) >= 1):
        raise line.refuse(2, f"'{total}' is not a number of parts")
    if not (_DIGITS.fullmatch(part) and 1 <= int(part) <= int(total)):
        raise line.refuse(3, f"'{part}' is not a part number from 1 to {total}")
    return Split(data_id, int(total), int(part))


def _required(line: Line, index: int) -> str:
    value = line.value(index)
    if not value:
        raise line.refuse(index, "is empty")
    return value


def _choice(line: Line, index: int, table: dict[str, str], *, required: bool = True) -> str:
    code = line.code(index)
    if code in table or (not code and not required):
        return code
    if not code:
        raise line.refuse(index, "is empty")
    raise line.refuse(index, f"'{code}' is not one of {_listing(table)}")


def _listing(table: dict[str, str]) -> str:
    return ", ".join(f"{code} ({name})" for code, name in table.items())


def _rp_number(line: Line) -> int:
    text = line.code(1)
    if not (_DIGITS.fullmatch(text) and int(text) > 0):
        raise line.refuse(1, f"'{text}' is not an RP number (1, 2, ...)")
    return int(text)


def _decimal(line: Line, index: int) -> Decimal | None:
    text = line.code(index)
    if not text:
        return None
    if not _NUMBER.fullmatch(text):
        raise line.refuse(index, f"'{text}' is not a number")
    return Decimal(text)


def _date(line: Line, index: int, *, required: bool = False) -> date | None:
    """`YYYYMMDD` or 和暦 `GYYMMDD` (M, T, S, H, R; year 01 is the era's first year)."""
    text = line.code(index)
    if not text:
        if required:
            raise line.refuse(index, "is empty")
        return None
    try:
        if _ERA_DATE.fullmatch(text):
            return parse_era_date(text)
        if _WESTERN_DATE.fullmatch(text):
            return parse_yyyymmdd(text)
    except DateError as error:
        raise line.refuse(index, f"'{text}' {error}") from None
    raise line.refuse(index, f"'{text}' is not a date in the YYYYMMDD or 和暦 GYYMMDD form")
