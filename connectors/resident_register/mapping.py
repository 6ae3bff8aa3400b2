"""Register rows to JP Core FHIR: a resident's Patient (+ Coverage for the health card), a household's Group.

The register is the municipality's master data for its residents, so the Patient is updated on the
宛名番号 (not created-if-missing). What the welfare reports need from it: the official names, the address
with its 地区, deaths, the insurance numbers that link the person to medical and care sources, and who
lives with whom (a Group per 世帯番号).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from connectors.base import SourceInfo
from connectors.jp import (
    HL7_CODE_SYSTEM,
    INSURANCE_MEMBER_ID,
    INSURER_NUMBER,
    JP_EXTENSION,
    JP_PROFILE,
    DateError,
    FieldError,
    Json,
    create_entry,
    full_url,
    human_names,
    insurance_member_id,
    iso_date,
    local_coding,
    ltc_insured_identifier,
    patient_reference,
    put_entry,
    record_entry,
)
from core.formats import check_digit

GENDERS = {"1": "male", "2": "female"}
RESIDENT = "住民"
DEAD = "死亡"
MOVE = "転居"
HEALTH_INSURANCE_KINDS = ("国保", "後期高齢者医療", "被用者保険")
CARD_COLUMNS = ("医療保険種別", "医療保険者番号", "被保険者番号")
MOBILE_PREFIXES = ("070", "080", "090")
LOCAL_GOVERNMENT_CODE = "https://tsunagi.example.jp/fhir/IdSystem/local-government-code"
PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
    "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
    "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
    "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)  # fmt: skip
_LTC_NUMBER = re.compile(r"\d{10}")
_INSURER = re.compile(r"\d{6}|\d{8}")
_BRANCH = re.compile(r"\d{2}")


@dataclass(frozen=True)
class Member:
    """What a household Group needs of a resident row."""

    number: str
    died: str | None  # ISO date of death


def _date(fields: dict[str, str], column: str) -> str | None:
    """The column's date in ISO form, None when empty; FieldError when it is no calendar date."""
    value = fields[column]
    if not value:
        return None
    try:
        return iso_date(value)
    except DateError as error:
        raise FieldError(column, f"{column} '{value}' {error}") from None


def _required(fields: dict[str, str], column: str) -> str:
    value = fields[column]
    if not value:
        raise FieldError(column, f"{column} is empty; every register row has one")
    return value


def ltc_insurer(source: SourceInfo) -> str | None:
    """The 介護保険 保険者番号 of a municipality that is its own 介護保険者: the first five digits of its
    地方公共団体コード and the modulus-10 検証番号. None when the source has no such code."""
    code = source.organization_value
    if source.organization_system != LOCAL_GOVERNMENT_CODE or not re.fullmatch(r"\d{6}", code):
        return None
    return code[:5] + check_digit(code[:5])


def resident_entries(source: SourceInfo, fields: dict[str, str]) -> tuple[list[Json], Member]:
    """The Patient of a residents.csv row, its health card's Coverage and insurer, and its household
    membership; FieldError for the first field that cannot be mapped."""
    number = _required(fields, "宛名番号")
    _required(fields, "世帯番号")
    patient = _patient(source, fields, number)
    patient_url = full_url(source.code, number, "Patient")
    entries = [put_entry(patient_url, patient, source.patient_identifier_system, number)]
    if fields["医療保険種別"]:
        entries.extend(_coverage(source, fields, number, patient_url))
    return entries, Member(number, patient.get("deceasedDateTime"))


def _patient(source: SourceInfo, fields: dict[str, str], number: str) -> Json:
    identifier: Json = {"system": source.patient_identifier_system, "value": number}
    since = _date(fields, "住民となった日")
    if since is not None:
        identifier["period"] = {"start": since}  # the 宛名番号 holds since the person became a resident
    identifiers = [identifier]
    ltc_number = fields["介護保険被保険者番号"]
    if ltc_number:
        identifiers.append(_ltc_identifier(source, ltc_number))
    card = _card(fields)
    if card is not None:
        identifiers.append({"system": INSURANCE_MEMBER_ID, "value": card})
    patient: Json = {
        "resourceType": "Patient",
        "meta": {"profile": [JP_PROFILE + "JP_Patient"]},
        "identifier": identifiers,
        "name": human_names(_required(fields, "氏名"), fields["氏名カナ"]),
    }
    phone = fields["電話番号"]
    if phone:
        patient["telecom"] = [
            {"system": "phone", "value": phone, "use": "mobile" if phone.startswith(MOBILE_PREFIXES) else "home"}
        ]
    sex = fields["性別"]
    if sex not in GENDERS:
        raise FieldError("性別", f"性別 '{sex}' is not a sex code of the register (1 男, 2 女)")
    patient["gender"] = GENDERS[sex]
    birth = _date(fields, "生年月日")
    if birth is None:
        raise FieldError("生年月日", "生年月日 is empty; every register row has one")
    patient["birthDate"] = birth
    died = _deceased(fields)
    if died is not None:
        patient["deceasedDateTime"] = died
    address = _address(fields)
    if address is not None:
        patient["address"] = [address]
    return patient


def _ltc_identifier(source: SourceInfo, ltc_number: str) -> Json:
    if not _LTC_NUMBER.fullmatch(ltc_number):
        raise FieldError(
            "介護保険被保険者番号", f"介護保険被保険者番号 '{ltc_number}' is not the 10 digits of a 被保険者番号"
        )
    insurer = ltc_insurer(source)
    if insurer is None:
        raise FieldError(
            "介護保険被保険者番号",
            f"source '{source.code}' has no 6-digit 地方公共団体コード as its organisation identifier, so the "
            "介護保険者 of this 被保険者番号 cannot be told",
        )
    return ltc_insured_identifier(insurer, ltc_number)


def _deceased(fields: dict[str, str]) -> str | None:
    state = fields["状態"]
    died = _date(fields, "死亡日")
    if state == RESIDENT:
        if died is not None:
            raise FieldError("死亡日", f"死亡日 '{fields['死亡日']}' is set on a row whose 状態 is 住民")
        return None
    if state == DEAD:
        if died is None:
            raise FieldError("死亡日", "死亡日 is empty on a row whose 状態 is 死亡")
        return died
    raise FieldError("状態", f"状態 '{state}' is neither 住民 nor 死亡")


def _address(fields: dict[str, str]) -> Json | None:
    """JP Core address: the text as registered, and its parts where the text shows them: prefecture,
    city (what lies between the prefecture and the 地区), and the lines 地区 and 番地/building."""
    text = fields["住所"]
    postal_code = fields["郵便番号"]
    if not text and not postal_code:
        return None
    address: Json = {"use": "home", "type": "both"}
    if text:
        address["text"] = text
        state = next((name for name in PREFECTURES if text.startswith(name)), None)
        district = fields["地区"]
        at = text.find(district, len(state or "")) if district else -1
        if at > 0:
            rest = text[at + len(district) :]
            address["line"] = [district, rest] if rest else [district]
            city = text[len(state or "") : at]
            if city:
                address["city"] = city
        if state is not None:
            address["state"] = state
    if postal_code:
        address["postalCode"] = postal_code
    address["country"] = "JP"
    return address


def _card(fields: dict[str, str]) -> str | None:
    """The health card's 被保険者個人識別子; None when the row has no card; FieldError when it is partial."""
    kind, insurer, number = (fields[column] for column in CARD_COLUMNS)
    symbol, branch = fields["被保険者記号"], fields["被保険者枝番"]
    if not (kind or insurer or number or symbol or branch):
        return None
    for column in CARD_COLUMNS:
        if not fields[column]:
            raise FieldError(column, f"{column} is empty while the row has other health insurance columns")
    if kind not in HEALTH_INSURANCE_KINDS:
        raise FieldError("医療保険種別", f"医療保険種別 '{kind}' is not one of {', '.join(HEALTH_INSURANCE_KINDS)}")
    if not _INSURER.fullmatch(insurer):
        raise FieldError("医療保険者番号", f"医療保険者番号 '{insurer}' is not a 保険者番号 of 6 or 8 digits")
    if branch and not _BRANCH.fullmatch(branch):
        raise FieldError("被保険者枝番", f"被保険者枝番 '{branch}' is not 2 digits")
    return insurance_member_id(insurer, symbol, number, branch)


def _coverage(source: SourceInfo, fields: dict[str, str], number: str, patient_url: str) -> list[Json]:
    """JP_Coverage of the health card the register knows, one per resident (a new card updates it), and
    its insurer, created only if no source has stored that 保険者番号 yet."""
    insurer, symbol, card_number, branch = (
        fields[column] for column in ("医療保険者番号", "被保険者記号", "被保険者番号", "被保険者枝番")
    )
    payor_url = full_url(source.code, f"insurer/{insurer}", "Organization")
    payor: Json = {
        "resourceType": "Organization",
        "meta": {"profile": [JP_PROFILE + "JP_Organization"]},
        "identifier": [{"system": INSURER_NUMBER, "value": insurer}],
        "type": [{"coding": [{"system": f"{HL7_CODE_SYSTEM}organization-type", "code": "pay", "display": "Payer"}]}],
    }
    extensions = [
        {"url": f"{JP_EXTENSION}JP_Coverage_{element}", "valueString": value}
        for element, value in (
            ("InsuredPersonSymbol", symbol),
            ("InsuredPersonNumber", card_number),
            ("InsuredPersonSubNumber", branch),
        )
        if value
    ]
    coverage: Json = {
        "resourceType": "Coverage",
        "meta": {"profile": [JP_PROFILE + "JP_Coverage"]},
        "extension": extensions,
        "identifier": [
            {"system": INSURANCE_MEMBER_ID, "value": insurance_member_id(insurer, symbol, card_number, branch)}
        ],
        "status": "active",
        "type": {
            "coding": [
                {"system": f"{HL7_CODE_SYSTEM}v3-ActCode", "code": "PUBLICPOL", "display": "public healthcare"},
                local_coding(source.code, "医療保険種別", fields["医療保険種別"]),
            ]
        },
        "subscriberId": f"{symbol}:{card_number}" if symbol else card_number,
        "beneficiary": patient_reference(source, number, patient_url),
        "payor": [{"reference": payor_url}],
    }
    if branch:
        coverage["dependent"] = branch
    return [
        create_entry(payor_url, payor, INSURER_NUMBER, insurer),
        record_entry(source, f"{number}/health-insurance", coverage),
    ]


def household_entries(source: SourceInfo, household: str, members: list[Member]) -> list[Json]:
    """The household as a Group of its members' Patients: the living are its members on the last day;
    the dead stay listed, inactive, their membership ending on the day of death."""
    group_members = []
    for member in sorted(members, key=lambda member: member.number):
        entry: Json = {"entity": patient_reference(source, member.number)}
        if member.died is not None:
            entry["period"] = {"end": member.died}
            entry["inactive"] = True
        group_members.append(entry)
    living = sum(member.died is None for member in members)
    group: Json = {
        "resourceType": "Group",
        "active": living > 0,
        "type": "person",
        "actual": True,
        "code": {"coding": [local_coding(source.code, "group", "世帯", "世帯 (household)")]},
        "name": f"世帯 {household}",
        "quantity": living,
        "member": group_members,
    }
    return [record_entry(source, f"household/{household}", group)]


def check_movement(fields: dict[str, str]) -> None:
    """A movements.csv row is checked, not mapped (see the docs); FieldError for what is wrong in it."""
    _required(fields, "宛名番号")
    if _date(fields, "異動日") is None:
        raise FieldError("異動日", "異動日 is empty; every 異動 has a date")
    reason = fields["異動事由"]
    if reason == MOVE:
        for column in ("新住所", "新世帯番号"):
            if not fields[column]:
                raise FieldError(column, f"{column} is empty on a 転居 row")
    elif reason == DEAD:
        for column in ("新住所", "新世帯番号"):
            if fields[column]:
                raise FieldError(column, f"{column} is set on a 死亡 row")
    else:
        raise FieldError("異動事由", f"異動事由 '{reason}' is neither 転居 nor 死亡")
