"""Benchmark of FHIR search on a synthetic Japanese region, against hand-written SQL over the same tables.

Run it as `.venv/bin/python bench/search.py [--people N] [--quick] [--skip-load]`. A full run drops and
recreates the `tsunagi_search_bench` database on the machine's PostgreSQL server (never `tsunagi`,
`test_tsunagi` or `tsunagi_dev`), migrates it, streams a seeded, Synthea-shaped region into it with
`resources_import` (about 50 resources per person: 20,000 people make about 1,000,000 resources),
vacuums and analyzes it, measures index extraction alone (no database), then starts gunicorn and times
a fixed set of clinic queries over keep-alive HTTP. Each query is also answered by hand-written SQL on
one psycopg connection: that is the floor the engine is compared with (target: within 3x), and its
answers are checked against the engine's so a wrong benchmark fails loudly. The engine's own SQL is
run under EXPLAIN (ANALYZE, BUFFERS) for the record. Results print as a table and go to
bench/results/search-<timestamp>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
from fhir_api import (
    ICD10,
    JLAC10,
    JST,
    LAB_TESTS,
    LOINC,
    OBSERVATION_CATEGORY,
    REPO_ROOT,
    RESULTS_DIR,
    THREADS,
    WORKERS,
    BenchError,
    Call,
    FhirClient,
    Stats,
    django_env,
    git_commit,
    gunicorn_command,
    machine_facts,
    migrate,
    name_part,
    progress,
    quantity,
    recreate_database,
    running_server,
    server_version,
    with_database,
)

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DATABASE = "tsunagi_search_bench"
FORBIDDEN_DATABASES = frozenset({"tsunagi", "test_tsunagi", "tsunagi_dev"})
DEFAULT_PEOPLE = 20_000
QUICK_PEOPLE = 400
BATCH_SIZE = 4_000
TARGET_P95_MS = 50.0
TARGET_RATIO = 3.0
TARGET_EXTRACTION_PER_CORE = 3_000.0


@dataclass(frozen=True)
class Plan:
    """How big the region is and how often each query runs; `--quick` shrinks both for a smoke run."""

    people: int
    warmup: int
    requests: int
    checked: int  # draws whose engine answer must equal the hand-written SQL's
    extraction_people: int  # people whose resources are indexed in memory for the extraction rate


def make_plan(people: int | None, quick: bool) -> Plan:
    if quick:
        return Plan(people=people or QUICK_PEOPLE, warmup=5, requests=40, checked=5, extraction_people=100)
    return Plan(people=people or DEFAULT_PEOPLE, warmup=20, requests=200, checked=10, extraction_people=400)


# --- the synthetic region ---------------------------------------------------------------------
#
# A regional health network in Nagano prefecture: a few hospitals and clinics, people of Japan's age
# structure, and ten years of visits, diagnoses, lab results and prescriptions, shaped like Synthea's
# output (one record per person, every reference `Type/id`). Codes are real code systems; the YJ and
# JLAC10 codes are illustrative. Everything comes from a per-person seeded RNG, so a person's record
# can be made again on its own (the query draws do that) and generation needs no memory of the past.

REFERENCE_DAY = date(2026, 10, 31)  # "today" of the data: fixed, so reruns make the same region
HISTORY_DAYS = 3652  # ten years of encounters
PATIENT_ID_PREFIX = "urn:oid:1.2.392.100495.20.3.51.1"  # + the facility's 10-digit code
YJ = "urn:oid:1.2.392.100495.20.2.74"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"


def readings(text: str) -> list[tuple[str, str]]:
    """`kanji:kana kanji:kana ...` -> pairs; one string keeps hundreds of names readable."""
    return [(kanji, kana) for kanji, kana in (pair.split(":") for pair in text.split())]


# ~200 common surnames with their readings (kanji, katakana).
SURNAMES = readings(
    "佐藤:サトウ 鈴木:スズキ 高橋:タカハシ 田中:タナカ 伊藤:イトウ 渡辺:ワタナベ 山本:ヤマモト 中村:ナカムラ "
    "小林:コバヤシ 加藤:カトウ 吉田:ヨシダ 山田:ヤマダ 佐々木:ササキ 山口:ヤマグチ 松本:マツモト 井上:イノウエ "
    "木村:キムラ 林:ハヤシ 斎藤:サイトウ 清水:シミズ 山崎:ヤマザキ 森:モリ 池田:イケダ 橋本:ハシモト 阿部:アベ "
    "石川:イシカワ 山下:ヤマシタ 中島:ナカジマ 石井:イシイ 小川:オガワ 前田:マエダ 岡田:オカダ 長谷川:ハセガワ "
    "藤田:フジタ 後藤:ゴトウ 近藤:コンドウ 村上:ムラカミ 遠藤:エンドウ 青木:アオキ 坂本:サカモト 斉藤:サイトウ "
    "福田:フクダ 太田:オオタ 西村:ニシムラ 藤井:フジイ 金子:カネコ 岡本:オカモト 藤原:フジワラ 中野:ナカノ "
    "三浦:ミウラ 原田:ハラダ 中川:ナカガワ 松田:マツダ 竹内:タケウチ 小野:オノ 田村:タムラ 中山:ナカヤマ 和田:ワダ "
    "石田:イシダ 森田:モリタ 上田:ウエダ 原:ハラ 内田:ウチダ 柴田:シバタ 酒井:サカイ 宮崎:ミヤザキ 横山:ヨコヤマ "
    "高木:タカギ 安藤:アンドウ 宮本:ミヤモト 大野:オオノ 小島:コジマ 谷口:タニグチ 今井:イマイ 工藤:クドウ "
    "高田:タカダ 増田:マスダ 丸山:マルヤマ 杉山:スギヤマ 村田:ムラタ 大塚:オオツカ 新井:アライ 小山:コヤマ "
    "平野:ヒラノ 藤本:フジモト 河野:コウノ 上野:ウエノ 野口:ノグチ 武田:タケダ 松井:マツイ 千葉:チバ 岩崎:イワサキ "
    "菅原:スガワラ 木下:キノシタ 久保:クボ 佐野:サノ 野村:ノムラ 松尾:マツオ 市川:イチカワ 菊地:キクチ "
    "杉本:スギモト 古川:フルカワ 大西:オオニシ 島田:シマダ 水野:ミズノ 桜井:サクライ 高野:タカノ 渡部:ワタナベ "
    "吉川:ヨシカワ 山内:ヤマウチ 西田:ニシダ 飯田:イイダ 菊池:キクチ 西川:ニシカワ 小松:コマツ 北村:キタムラ "
    "安田:ヤスダ 五十嵐:イガラシ 川口:カワグチ 平田:ヒラタ 関:セキ 中田:ナカタ 久保田:クボタ 服部:ハットリ "
    "東:ヒガシ 岩田:イワタ 土屋:ツチヤ 川崎:カワサキ 福島:フクシマ 本田:ホンダ 辻:ツジ 樋口:ヒグチ 秋山:アキヤマ "
    "田口:タグチ 永井:ナガイ 山中:ヤマナカ 中西:ナカニシ 吉村:ヨシムラ 川上:カワカミ 石原:イシハラ 大橋:オオハシ "
    "松岡:マツオカ 馬場:ババ 浅野:アサノ 荒木:アラキ 大久保:オオクボ 野田:ノダ 小沢:オザワ 田辺:タナベ "
    "川村:カワムラ 星野:ホシノ 谷:タニ 黒田:クロダ 堀:ホリ 尾崎:オザキ 望月:モチヅキ 永田:ナガタ 熊谷:クマガイ "
    "内藤:ナイトウ 松村:マツムラ 西山:ニシヤマ 大谷:オオタニ 平井:ヒライ 大島:オオシマ 岩本:イワモト "
    "片山:カタヤマ 本間:ホンマ 早川:ハヤカワ 横田:ヨコタ 岡崎:オカザキ 荒井:アライ 大石:オオイシ 鎌田:カマタ "
    "成田:ナリタ 宮田:ミヤタ 小田:オダ 石橋:イシバシ 篠原:シノハラ 須藤:スドウ 河合:カワイ 大川:オオカワ "
    "高井:タカイ 萩原:ハギワラ 松下:マツシタ 平山:ヒラヤマ 吉岡:ヨシオカ 小池:コイケ 宮下:ミヤシタ 中尾:ナカオ "
    "宮川:ミヤガワ 森本:モリモト 岡:オカ 市村:イチムラ 吉野:ヨシノ 桑原:クワバラ 浜田:ハマダ 坂口:サカグチ "
    "小西:コニシ 矢野:ヤノ"
)
# ~100 given names per sex, old and new generations mixed (kanji, katakana).
GIVEN_NAMES = {
    "male": readings(
        "太郎:タロウ 一郎:イチロウ 健一:ケンイチ 誠:マコト 浩:ヒロシ 茂:シゲル 勇:イサム 清:キヨシ 博:ヒロシ "
        "実:ミノル 進:ススム 正:タダシ 明:アキラ 修:オサム 隆:タカシ 豊:ユタカ 稔:ミノル 勝:マサル 昭:アキラ "
        "弘:ヒロシ 武:タケシ 和夫:カズオ 正男:マサオ 秀夫:ヒデオ 三郎:サブロウ 次郎:ジロウ 健二:ケンジ "
        "英樹:ヒデキ 直樹:ナオキ 大輔:ダイスケ 拓也:タクヤ 翔太:ショウタ 健太:ケンタ 大樹:ダイキ 翔:ショウ "
        "蓮:レン 大翔:ヒロト 悠真:ユウマ 陽翔:ハルト 湊:ミナト 悠人:ユウト 颯太:ソウタ 陸:リク 樹:イツキ "
        "蒼:アオイ 優斗:ユウト 亮:リョウ 達也:タツヤ 和也:カズヤ 哲也:テツヤ 浩二:コウジ 聡:サトシ 学:マナブ "
        "剛:ツヨシ 徹:トオル 隆之:タカユキ 秀樹:ヒデキ 雅之:マサユキ 智也:トモヤ 健:ケン 康弘:ヤスヒロ "
        "良平:リョウヘイ 俊介:シュンスケ 雄一:ユウイチ 裕太:ユウタ 祐介:ユウスケ 海斗:カイト 陽太:ヨウタ "
        "悠斗:ユウト 大和:ヤマト 蒼空:ソラ 奏太:カナタ 新:アラタ 朝陽:アサヒ 律:リツ 湊斗:ミナト 晴:ハル "
        "碧:アオイ 結翔:ユイト 一輝:カズキ 圭:ケイ 光:ヒカル 克也:カツヤ 信夫:ノブオ 義男:ヨシオ 幸男:ユキオ "
        "久:ヒサシ 功:イサオ 保:タモツ 昇:ノボル 忠:タダシ 敏夫:トシオ 政雄:マサオ 貞夫:サダオ 四郎:シロウ "
        "栄一:エイイチ 光男:ミツオ 恵介:ケイスケ 慎也:シンヤ 直人:ナオト 宏:ヒロシ"
    ),
    "female": readings(
        "花子:ハナコ 陽子:ヨウコ 恵子:ケイコ 京子:キョウコ 幸子:サチコ 和子:カズコ 洋子:ヨウコ 節子:セツコ "
        "久美子:クミコ 美智子:ミチコ 裕子:ユウコ 由美子:ユミコ 直美:ナオミ 智子:トモコ 真由美:マユミ 明美:アケミ "
        "恵美:エミ 美穂:ミホ 愛:アイ 舞:マイ 彩:アヤ 美咲:ミサキ 優子:ユウコ 麻衣:マイ 沙織:サオリ 香織:カオリ "
        "陽菜:ヒナ 結衣:ユイ 葵:アオイ 凛:リン 結菜:ユイナ さくら:サクラ 芽依:メイ 紬:ツムギ 陽葵:ヒマリ "
        "莉子:リコ 美羽:ミウ 杏:アン 澪:ミオ 心春:コハル 咲良:サクラ 花:ハナ 結愛:ユア 芽衣:メイ 由美:ユミ "
        "千代子:チヨコ 文子:フミコ 静子:シズコ 君子:キミコ ハル:ハル キヨ:キヨ トシ:トシ 澄子:スミコ 悦子:エツコ "
        "光子:ミツコ 春子:ハルコ 信子:ノブコ 照子:テルコ 美代子:ミヨコ 弘子:ヒロコ 順子:ジュンコ 典子:ノリコ "
        "孝子:タカコ 敏子:トシコ 尚美:ナオミ 由紀:ユキ 聡子:サトコ 純子:ジュンコ 真理子:マリコ 美香:ミカ "
        "理恵:リエ 亜希子:アキコ 紀子:ノリコ 奈々:ナナ 綾:アヤ 未来:ミライ 遥:ハルカ 千尋:チヒロ 彩花:アヤカ "
        "菜々子:ナナコ 真央:マオ 愛子:アイコ 瞳:ヒトミ 美紀:ミキ 友美:トモミ 亜美:アミ 早紀:サキ 奈緒:ナオ "
        "萌:モエ 楓:カエデ 美月:ミヅキ 琴音:コトネ 心愛:ココア 日向:ヒナタ 詩:ウタ 朱里:アカリ 美結:ミユ "
        "菜摘:ナツミ 栞:シオリ 茜:アカネ"
    ),
}
# Share of Japan's population by 10-year age band (2020 census, rounded): 0-9, 10-19, ... 90-104.
AGE_BANDS = (7.8, 8.9, 10.0, 11.2, 14.6, 13.3, 13.0, 12.9, 7.3, 2.0)
CITIES = (
    ("長野市", "3800000"),
    ("松本市", "3900000"),
    ("上田市", "3860000"),
    ("飯田市", "3950000"),
    ("佐久市", "3850000"),
    ("安曇野市", "3998200"),
    ("諏訪市", "3920000"),
    ("伊那市", "3960000"),
)
FACILITIES = ("1312345678", "1320000011", "1320000025", "1320000039")  # 10-digit medical institution codes
# ICD-10 diagnoses: (code, display, typical onset age, prevalence once past that age, chronic, YJ medicines).
DIAGNOSES: tuple[tuple[str, str, int, float, bool, tuple[str, ...]], ...] = (
    ("I10", "本態性高血圧症", 35, 0.45, True, ("2171022F1026", "2149039F1020", "2149044F1025")),
    ("E11.9", "2型糖尿病", 40, 0.18, True, ("3962002F1020", "3969010F1020", "3969019F1021")),
    ("E78.5", "脂質異常症", 35, 0.30, True, ("2189017F1020", "2189016F1029")),
    ("F03", "認知症", 70, 0.15, True, ("1190012F1028", "1190017F1020")),
    ("M81.0", "閉経後骨粗鬆症", 60, 0.15, True, ("3999019F1029", "3999028F1023")),
    ("S72.0", "大腿骨頚部骨折", 70, 0.04, False, ("1149019F1025", "2329021F1024")),
    ("I50.9", "心不全", 65, 0.08, True, ("2139005F1022", "2123016F1025", "2133001F1020")),
    ("I63.9", "脳梗塞", 60, 0.06, True, ("3399007H1021", "3339001F1023")),
    ("C16.9", "胃癌", 55, 0.03, True, ("4229101F1020",)),
    ("K21.9", "逆流性食道炎", 30, 0.10, True, ("2329023F1023", "2325003F1020")),
    ("J45.9", "気管支喘息", 5, 0.05, True, ("2290700G1020", "4490023F1020")),
    ("J30.4", "アレルギー性鼻炎", 5, 0.12, False, ("4490027F1020",)),
    ("N18.3", "慢性腎臓病ステージ3", 60, 0.08, True, ("2190021F1024",)),
    ("J06.9", "急性上気道炎", 0, 0.35, False, ("6132005C1029", "1141007F1063")),
    ("M54.5", "腰痛症", 25, 0.15, False, ("2649843S1024",)),
)
MEDICINES = {
    "2171022F1026": "アムロジピン錠5mg",
    "2149039F1020": "カンデサルタン錠8mg",
    "2149044F1025": "オルメサルタン錠20mg",
    "3962002F1020": "メトホルミン塩酸塩錠250mg",
    "3969010F1020": "シタグリプチン錠50mg",
    "3969019F1021": "ダパグリフロジン錠5mg",
    "2189017F1020": "アトルバスタチン錠10mg",
    "2189016F1029": "ロスバスタチン錠2.5mg",
    "1190012F1028": "ドネペジル塩酸塩錠5mg",
    "1190017F1020": "メマンチン塩酸塩錠20mg",
    "3999019F1029": "アレンドロン酸錠35mg",
    "3999028F1023": "エルデカルシトールカプセル0.75μg",
    "1149019F1025": "ロキソプロフェンナトリウム錠60mg",
    "2329021F1024": "レバミピド錠100mg",
    "2139005F1022": "フロセミド錠20mg",
    "2123016F1025": "ビソプロロールフマル酸塩錠2.5mg",
    "2133001F1020": "スピロノラクトン錠25mg",  # noqa: RUF001 - a katakana letter, not a slash
    "3399007H1021": "クロピドグレル錠75mg",
    "3339001F1023": "ワルファリンカリウム錠1mg",
    "4229101F1020": "テガフール・ギメラシル・オテラシルカリウム配合OD錠T20",
    "2329023F1023": "ランソプラゾールOD錠15mg",
    "2325003F1020": "ファモチジン錠20mg",
    "2290700G1020": "フルチカゾンプロピオン酸エステル吸入用",
    "4490023F1020": "モンテルカスト錠10mg",
    "4490027F1020": "フェキソフェナジン塩酸塩錠60mg",
    "2190021F1024": "球形吸着炭細粒",
    "6132005C1029": "セフカペンピボキシル塩酸塩錠100mg",
    "1141007F1063": "アセトアミノフェン錠200mg",  # noqa: RUF001 - a katakana letter, not a slash
    "2649843S1024": "ロキソプロフェンナトリウムテープ100mg",
}


def medication_id(yj_code: str) -> str:
    return f"yj-{yj_code.lower()}"


def medication_resources() -> list[dict[str, Any]]:
    """The region's formulary: one Medication per YJ code, shared by every prescription of it."""
    return [
        {
            "resourceType": "Medication",
            "id": medication_id(code),
            "code": {"coding": [{"system": YJ, "code": code, "display": name}], "text": name},
            "status": "active",
        }
        for code, name in MEDICINES.items()
    ]


@dataclass
class Visit:
    """An encounter as later resources of the same person need it: its id, start and class."""

    id: str
    start: datetime
    inpatient: bool


def new_id(rng: random.Random) -> str:
    """A UUID like Synthea's, but from the person's RNG so the same seed gives the same ids."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def person_rng(seed: int, number: int) -> random.Random:
    # A string seed is hashed with SHA-512 by random.seed, so it does not depend on PYTHONHASHSEED.
    return random.Random(f"search-bench:{seed}:{number}")


def person_resources(seed: int, number: int) -> list[dict[str, Any]]:
    """One person's whole record, Patient first: encounters, diagnoses, lab results, prescriptions."""
    rng = person_rng(seed, number)
    patient = patient_resource(rng, number)
    subject = f"Patient/{patient['id']}"
    birth = date.fromisoformat(patient["birthDate"])
    age = (REFERENCE_DAY - birth).days // 365
    visits = visits_of(rng, birth, age)
    resources = [patient] + [encounter_resource(visit, subject) for visit in visits]
    for code, display, onset_age, prevalence, chronic, medicines in DIAGNOSES:
        if age < onset_age or rng.random() >= prevalence * min(1.0, (age - onset_age + 5) / 30):
            continue
        onset = rng.randrange(len(visits))
        resources.append(condition_resource(rng, subject, visits[onset], code, display, chronic))
        resources += prescriptions(rng, subject, visits[onset:], medicines, chronic)
    for visit in visits:
        resources += lab_panel(rng, subject, visit)
    return resources


def patient_resource(rng: random.Random, number: int) -> dict[str, Any]:
    gender = rng.choice(("male", "female"))
    family, family_kana = rng.choice(SURNAMES)
    given, given_kana = rng.choice(GIVEN_NAMES[gender])
    band = rng.choices(range(len(AGE_BANDS)), weights=AGE_BANDS)[0]
    birth = REFERENCE_DAY - timedelta(days=rng.randrange(band * 3652, (band + 1) * 3652 + (1826 if band == 9 else 0)))
    city, postal_code = rng.choice(CITIES)
    line = f"{rng.randint(1, 9)}-{rng.randint(1, 30)}-{rng.randint(1, 20)}"
    return {
        "resourceType": "Patient",
        "id": new_id(rng),
        "identifier": [{"system": PATIENT_ID_PREFIX + rng.choice(FACILITIES), "value": f"{number + 1:08d}"}],
        "active": True,
        "name": [
            {**name_part(f"{family} {given}", "IDE"), "family": family, "given": [given]},
            {**name_part(f"{family_kana} {given_kana}", "SYL"), "family": family_kana, "given": [given_kana]},
        ],
        "telecom": [{"system": "phone", "value": f"026-{rng.randrange(1000):03d}-{rng.randrange(10000):04d}"}],
        "gender": gender,
        "birthDate": birth.isoformat(),
        "address": [
            {
                "use": "home",
                "text": f"長野県{city}{line}",
                "line": [line],
                "city": city,
                "state": "長野県",
                "postalCode": postal_code,
                "country": "JP",
            }
        ],
    }


def visits_of(rng: random.Random, birth: date, age: int) -> list[Visit]:
    """Older people visit more (about 3.5 + age/10 a decade), at least once, never before birth."""
    count = max(1, round(rng.gauss(3.5 + age / 10, 2.5)))
    first_day = max(birth, REFERENCE_DAY - timedelta(days=HISTORY_DAYS))
    span = max(1, (REFERENCE_DAY - first_day).days)
    visits = []
    for _ in range(count):
        day = first_day + timedelta(days=rng.randrange(span))
        start = datetime(day.year, day.month, day.day, 9, tzinfo=JST) + timedelta(minutes=rng.randrange(8 * 60))
        visits.append(Visit(id=new_id(rng), start=start, inpatient=rng.random() < 0.12))
    return sorted(visits, key=lambda visit: visit.start)


def encounter_resource(visit: Visit, subject: str) -> dict[str, Any]:
    length = timedelta(days=7 + visit.start.minute % 14) if visit.inpatient else timedelta(minutes=20)
    kind = ("IMP", "入院") if visit.inpatient else ("AMB", "外来")
    return {
        "resourceType": "Encounter",
        "id": visit.id,
        "status": "finished",
        "class": {"system": ACT_CODE, "code": kind[0], "display": kind[1]},
        "subject": {"reference": subject},
        "period": {"start": visit.start.isoformat(), "end": (visit.start + length).isoformat()},
    }


def condition_resource(
    rng: random.Random, subject: str, visit: Visit, code: str, display: str, chronic: bool
) -> dict[str, Any]:
    active = rng.random() < (0.9 if chronic else 0.15)
    return {
        "resourceType": "Condition",
        "id": new_id(rng),
        "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": "active" if active else "resolved"}]},
        "verificationStatus": {"coding": [{"system": CONDITION_VERIFICATION, "code": "confirmed"}]},
        "category": [{"coding": [{"system": CONDITION_CATEGORY, "code": "encounter-diagnosis"}]}],
        "code": {"coding": [{"system": ICD10, "code": code, "display": display}], "text": display},
        "subject": {"reference": subject},
        "encounter": {"reference": f"Encounter/{visit.id}"},
        "onsetDateTime": visit.start.isoformat(),
        "recordedDate": visit.start.date().isoformat(),
    }


def prescriptions(
    rng: random.Random, subject: str, visits: Sequence[Visit], medicines: Sequence[str], chronic: bool
) -> list[dict[str, Any]]:
    """A medicine for the diagnosis, prescribed again at later visits while the condition is chronic."""
    medicine = rng.choice(medicines)
    prescribed = [visits[0]] + ([visit for visit in visits[1:] if rng.random() < 0.5] if chronic else [])
    return [medication_request(rng, subject, visit, medicine) for visit in prescribed]


def medication_request(rng: random.Random, subject: str, visit: Visit, yj_code: str) -> dict[str, Any]:
    recent = (REFERENCE_DAY - visit.start.date()).days < 90
    return {
        "resourceType": "MedicationRequest",
        "id": new_id(rng),
        "status": "active" if recent else "completed",
        "intent": "order",
        "medicationReference": {"reference": f"Medication/{medication_id(yj_code)}", "display": MEDICINES[yj_code]},
        "subject": {"reference": subject},
        "encounter": {"reference": f"Encounter/{visit.id}"},
        "authoredOn": visit.start.isoformat(),
        "dosageInstruction": [
            {"text": "1日1回 朝食後", "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}}
        ],
        "dispenseRequest": {
            "expectedSupplyDuration": {"value": 28, "unit": "日", "system": "http://unitsofmeasure.org", "code": "d"}
        },
    }


def lab_panel(rng: random.Random, subject: str, visit: Visit) -> list[dict[str, Any]]:
    """The tests ordered at one visit: two to seven of the common panel, results 30 minutes later."""
    tests = rng.sample(LAB_TESTS, rng.randint(2, 7))
    when = visit.start + timedelta(minutes=30)
    return [lab_observation(rng, subject, visit, when, test) for test in tests]


def lab_observation(
    rng: random.Random, subject: str, visit: Visit, when: datetime, test: tuple[Any, ...]
) -> dict[str, Any]:
    jlac10, loinc, display, unit, low, high = test
    return {
        "resourceType": "Observation",
        "id": new_id(rng),
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory", "display": "検体検査"}]}],
        "code": {
            "coding": [{"system": JLAC10, "code": jlac10, "display": display}, {"system": LOINC, "code": loinc}],
            "text": display,
        },
        "subject": {"reference": subject},
        "encounter": {"reference": f"Encounter/{visit.id}"},
        "effectiveDateTime": when.isoformat(),
        "valueQuantity": quantity(rng, unit, low, high),
    }


# --- Django in this process ----------------------------------------------------------------------


def setup_django(database_url: str) -> None:
    """Load with the project's own write path (resources_import), so Django runs in this process too."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    os.environ.update(django_env(database_url))
    import django

    django.setup()


def system_access() -> Any:
    from consent.contracts import AccessContext

    return AccessContext.system(reason="search benchmark")


# --- loading -------------------------------------------------------------------------------------


@dataclass
class LoadReport:
    """How the region went in: counts, wall time and where the time went inside resources_import."""

    resources: int = 0
    people: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    batch_size: int = BATCH_SIZE
    seconds: float = 0.0
    rate_per_s: float = 0.0
    phases_s: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)
    vacuum_analyze_s: float = 0.0


def _timed(function: Callable[..., Any], label: str, clock: dict[str, float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            clock[label] = clock.get(label, 0.0) + time.perf_counter() - started

    return wrapper


@contextmanager
def phase_clock(clock: dict[str, float]) -> Iterator[None]:
    """Time the steps of resources_import from outside, so the load says what dominates it.

    The write service is not changed: its module-level helpers and IndexBatch's methods are wrapped
    for the duration of the load and restored afterwards. COPY time includes PostgreSQL's index
    maintenance, which happens row by row as COPY inserts.
    """
    from federation.search.indexing import IndexBatch
    from federation.storage import services

    targets: list[tuple[Any, str, str]] = [
        (services, "resource_validate", "validate (R4B model)"),
        (services, "content_hash", "content hash"),
        (services, "resources_copy", "COPY resource rows"),
        (services, "versions_copy", "COPY version rows"),
        (services, "_place", "extract index rows and placement"),
        (IndexBatch, "write", "COPY index rows"),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in targets]
    for owner, name, label in targets:
        setattr(owner, name, _timed(getattr(owner, name), label, clock))
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def backend_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a PostgreSQL backend on this machine, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_region(plan: Plan, seed: int) -> LoadReport:
    """Stream the region into the database in batches through resources_import, with progress.

    CPU time is split between this process (generation, validation, extraction, COPY encoding) and
    the PostgreSQL backend serving it (parsing COPY, heap and B-tree inserts, commit), which says
    which side a faster load has to come from.
    """
    from django.db import connection

    from federation.storage.services import resources_import

    access = system_access()
    report = LoadReport()
    counts: Counter[str] = Counter()
    clock: dict[str, float] = {}
    batch: list[dict[str, Any]] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = int(cursor.fetchone()[0])
    backend_before, process_before = backend_cpu_s(backend), time.process_time()
    started = last_shown = time.perf_counter()

    def flush() -> None:
        resources_import(access=access, resources=batch)
        counts.update(resource["resourceType"] for resource in batch)
        report.batches += 1
        batch.clear()

    with phase_clock(clock):
        batch += medication_resources()
        for number in range(plan.people):
            batch += person_resources(seed, number)
            if len(batch) >= BATCH_SIZE:
                flush()
                report.people = number + 1
                if time.perf_counter() - last_shown >= 10:
                    last_shown = time.perf_counter()
                    show_load_progress(sum(counts.values()), number + 1, plan.people, last_shown - started)
        if batch:
            flush()
    report.people = plan.people
    report.seconds = time.perf_counter() - started
    report.resources = sum(counts.values())
    report.by_type = dict(counts.most_common())
    report.rate_per_s = report.resources / report.seconds
    accounted = sum(clock.values())
    report.phases_s = {label: round(seconds, 1) for label, seconds in sorted(clock.items(), key=lambda item: -item[1])}
    report.phases_s["rest (generation, ids, server meta, commit)"] = round(report.seconds - accounted, 1)
    report.cpu_s = {
        "loader process": round(time.process_time() - process_before, 1),
        "PostgreSQL backend": round(backend_cpu_s(backend) - backend_before, 1),
    }
    progress(f"loaded {report.resources:,} resources in {report.seconds:.0f} s ({report.rate_per_s:,.0f}/s)")
    return report


def show_load_progress(done: int, people_done: int, people: int, elapsed_s: float) -> None:
    rate = done / elapsed_s
    expected = done * people / people_done
    eta_s = (expected - done) / rate if rate else 0.0
    progress(
        f"load: {done:,} of ~{expected:,.0f} resources ({people_done:,}/{people:,} people), "
        f"{rate:,.0f}/s, ETA {eta_s / 60:.1f} min"
    )


def vacuum_analyze(database_url: str) -> float:
    """VACUUM (ANALYZE) rather than ANALYZE alone: fresh planner statistics, and the visibility map
    set so index-only scans skip the heap, as on a server whose autovacuum has caught up. It also
    keeps autovacuum from waking up on the freshly loaded tables in the middle of the timings."""
    started = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")
    return time.perf_counter() - started


# --- index extraction alone -------------------------------------------------------------------------


@dataclass
class ExtractionReport:
    """Index rows built in memory from unsaved resources: the CPU cost of indexing, one core."""

    resources: int
    seconds: float
    rate_per_s: float
    rows: dict[str, int]
    rows_per_resource: float
    by_type: dict[str, dict[str, float]]


def measure_extraction(plan: Plan, seed: int) -> ExtractionReport:
    """IndexBatch.replace on Resource objects with fake keys: no database write, one process, one core.

    The issue's target (>= 3,000 resources/s per core) is about this step alone; compiling each
    type's FHIRPath expressions happens once per process and is not timed.
    """
    from federation.models import Resource
    from federation.search.indexing import INDEX_MODELS, IndexBatch, extraction_plan

    # Other people than the loaded ones (seed + 1): nothing here may depend on what is stored.
    resources = medication_resources()
    for number in range(plan.extraction_people):
        resources += person_resources(seed + 1, number)
    rows = [
        Resource(pk=key, resource_type=r["resourceType"], logical_id=r["id"], version_id=1, content=r)
        for key, r in enumerate(resources, start=1)
    ]
    for resource_type in {row.resource_type for row in rows}:
        extraction_plan(resource_type)  # compiled once per type (already, if this process loaded)
    by_type: dict[str, dict[str, float]] = {}
    total_rows: Counter[str] = Counter()
    total_s = 0.0
    for resource_type in sorted({row.resource_type for row in rows}):
        of_type = [row for row in rows if row.resource_type == resource_type]
        batch = IndexBatch()
        started = time.perf_counter()
        for row in of_type:
            batch.replace(row, is_new=True)
        seconds = time.perf_counter() - started
        total_s += seconds
        made = {model.__name__: sum(1 for _ in batch.rows_of(model)) for model in INDEX_MODELS}
        total_rows.update(made)
        by_type[resource_type] = {
            "resources": len(of_type),
            "rate_per_s": round(len(of_type) / seconds),
            "rows_per_resource": round(sum(made.values()) / len(of_type), 1),
        }
    report = ExtractionReport(
        resources=len(rows),
        seconds=round(total_s, 3),
        rate_per_s=round(len(rows) / total_s),
        rows=dict(total_rows.most_common()),
        rows_per_resource=round(sum(total_rows.values()) / len(rows), 1),
        by_type=by_type,
    )
    progress(f"index extraction: {report.rate_per_s:,} resources/s on one core ({report.rows_per_resource} rows each)")
    return report


# --- what is in the database -----------------------------------------------------------------------

INDEX_TABLES = (
    "federation_tokenindex",
    "federation_stringindex",
    "federation_dateindex",
    "federation_numberindex",
    "federation_quantityindex",
    "federation_referenceindex",
    "federation_uriindex",
)
STORE_TABLES = ("federation_resource", "federation_resourceversion")


def database_contents(database_url: str) -> dict[str, Any]:
    """Resources per type, and rows and sizes per table: the shape the timings were taken on."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        by_type: dict[str, int] = dict(
            connection.execute(
                "SELECT resource_type, count(*) FROM federation_resource GROUP BY 1 ORDER BY 2 DESC"
            ).fetchall()
        )
        tables = {}
        for table in (*STORE_TABLES, *INDEX_TABLES):
            count = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
            sizes = connection.execute(
                "SELECT pg_relation_size(%s::regclass), pg_indexes_size(%s::regclass),"
                " pg_total_relation_size(%s::regclass)",
                (table, table, table),
            ).fetchone()
            assert count is not None
            assert sizes is not None
            tables[table] = {
                "rows": count[0],
                "heap_mb": mb(sizes[0]),
                "indexes_mb": mb(sizes[1]),
                "total_mb": mb(sizes[2]),
            }
        database = connection.execute("SELECT pg_database_size(current_database())").fetchone()
        assert database is not None
    return {
        "resources_by_type": by_type,
        "resources": sum(by_type.values()),
        "tables": tables,
        "database_mb": mb(database[0]),
    }


def mb(size: int) -> float:
    return round(size / 2**20, 1)


def postgres_settings(database_url: str) -> dict[str, str]:
    names = (
        "shared_buffers",
        "work_mem",
        "effective_cache_size",
        "random_page_cost",
        "jit",
        "max_parallel_workers_per_gather",
        "synchronous_commit",
    )
    with psycopg.connect(database_url, autocommit=True) as connection:
        return {name: str(connection.execute(f"SHOW {name}").fetchone()[0]) for name in names}  # type: ignore[index]


# --- the clinic queries ---------------------------------------------------------------------------

Row = tuple[Any, ...]
Runner = Callable[[str, dict[str, Any]], list[Row]]
PAGE = 20  # the engine's default _count: it fetches one row more to know whether a next page exists
CLINICAL_STATUS_ACTIVE = "active"


@dataclass(frozen=True)
class Answer:
    """Which resources came back: matches in page order, included ones as a sorted set."""

    matches: tuple[str, ...]
    included: tuple[str, ...]


@dataclass(frozen=True)
class Draw:
    """One parameter draw: the FHIR query string and the values the hand-written SQL needs."""

    resource_type: str
    query: str
    values: dict[str, Any]

    @property
    def path(self) -> str:
        return f"{self.resource_type}?{self.query}"


@dataclass(frozen=True)
class ClinicQuery:
    """One query of the fixed clinic set: how to draw its values and how to answer it by hand."""

    name: str
    title: str
    draw: Callable[[random.Random, Region], Draw]
    handwritten: Callable[[Runner, Draw], Answer]


@dataclass(frozen=True)
class Region:
    """What was loaded, so draws can rebuild any person's record instead of reading it back."""

    people: int
    seed: int

    def person(self, rng: random.Random, wanted: Callable[[list[dict[str, Any]]], bool] = bool) -> list[dict[str, Any]]:
        """A random person's resources (Patient first), redrawn until `wanted` holds."""
        for _ in range(1000):
            resources = person_resources(self.seed, rng.randrange(self.people))
            if wanted(resources):
                return resources
        raise BenchError("No person in the region fits this query; is --people very small?")


def key(resource_type: str, code: str, suffix: str = "") -> int:
    """The hashed parameter key the index tables store, from the same registry the engine uses."""
    from federation.search.registry import index_key, parameters_for

    return index_key(parameters_for(resource_type)[code], suffix)


def day_interval(day: str) -> tuple[datetime, datetime]:
    from federation.search.dates import date_interval

    interval = date_interval(day)
    assert interval is not None
    return interval


def of_type(resources: list[dict[str, Any]], resource_type: str) -> list[dict[str, Any]]:
    return [resource for resource in resources if resource["resourceType"] == resource_type]


def rows_answer(matches: list[Row], included: list[Row] | None = None) -> Answer:
    return Answer(
        matches=tuple(f"{row[0]}/{row[1]}" for row in matches),
        included=tuple(sorted(f"{row[0]}/{row[1]}" for row in included or [])),
    )


# a. Patient by kana name prefix + birthdate


def draw_name_birthdate(rng: random.Random, region: Region) -> Draw:
    """A real person's kana family-name prefix (2 kana) and exact birth date, as a front desk asks."""
    from federation.search.normalize import normalize_string

    patient = region.person(rng)[0]
    prefix = patient["name"][1]["family"][:2]
    birth_date = patient["birthDate"]
    low, high = day_interval(birth_date)
    values = {
        "name": key("Patient", "name"),
        "pattern": normalize_string(prefix) + "%",
        "birthdate": key("Patient", "birthdate"),
        "low": low,
        "high": high,
        "limit": PAGE,
    }
    return Draw("Patient", urlencode({"name": prefix, "birthdate": birth_date}), values)


# Both criteria are answered from the index tables alone and intersected before any resource row is
# read: a common 2-kana prefix (なか, おお) matches ~1,000-2,000 names, a birth date one or two people.
SQL_NAME_BIRTHDATE = """
SELECT r.resource_type, r.logical_id, r.content
FROM federation_resource r
WHERE r.resource_type = 'Patient' AND NOT r.is_deleted
  AND r.id IN (SELECT s.resource_id FROM federation_stringindex s
               WHERE s.param = %(name)s AND s.normalized LIKE %(pattern)s
               INTERSECT
               SELECT d.resource_id FROM federation_dateindex d
               WHERE d.param = %(birthdate)s AND d.low >= %(low)s AND d.high <= %(high)s)
ORDER BY r.id
LIMIT %(limit)s
"""


def sql_name_birthdate(run: Runner, draw: Draw) -> Answer:
    return rows_answer(run(SQL_NAME_BIRTHDATE, draw.values))


# b. Observation by patient + code + date range


def draw_observation_code_dates(rng: random.Random, region: Region) -> Draw:
    """One of a person's results: its JLAC10 or LOINC code, and a window of up to 4 years around it."""
    resources = region.person(rng)
    patient_id = resources[0]["id"]
    observation = rng.choice(of_type(resources, "Observation"))
    coding = rng.choice(observation["code"]["coding"])
    effective = datetime.fromisoformat(observation["effectiveDateTime"]).date()
    start = (effective - timedelta(days=rng.randrange(730))).isoformat()
    end = (effective + timedelta(days=1 + rng.randrange(730))).isoformat()
    from federation.search.hashing import hash64

    values = {
        "subject": key("Observation", "subject"),
        "patient": patient_id,
        "code": key("Observation", "code"),
        "coding_system": hash64(coding["system"]),
        "coding_code": hash64(coding["code"]),
        "date": key("Observation", "date"),
        "start": day_interval(start)[0],
        "end": day_interval(end)[0],
        "limit": PAGE,
    }
    query = urlencode(
        [
            ("subject", f"Patient/{patient_id}"),
            ("code", f"{coding['system']}|{coding['code']}"),
            ("date", f"ge{start}"),
            ("date", f"lt{end}"),
        ]
    )
    return Draw("Observation", query, values)


# A result is a point in time (seconds), so "ge start and lt end" is "overlaps [start, end)".
SQL_OBSERVATION_CODE_DATES = """
SELECT r.resource_type, r.logical_id, r.content
FROM federation_resource r
WHERE r.resource_type = 'Observation' AND NOT r.is_deleted
  AND r.id IN (SELECT f.resource_id FROM federation_referenceindex f
               WHERE f.param = %(subject)s AND f.target_type = 'Patient' AND f.target_id = %(patient)s)
  AND EXISTS (SELECT 1 FROM federation_tokenindex t
              WHERE t.resource_id = r.id AND t.param = %(code)s AND t.system = %(coding_system)s
                AND t.code = %(coding_code)s)
  AND EXISTS (SELECT 1 FROM federation_dateindex d
              WHERE d.resource_id = r.id AND d.param = %(date)s AND d.high >= %(start)s AND d.low < %(end)s)
ORDER BY r.id
LIMIT %(limit)s
"""


def sql_observation_code_dates(run: Runner, draw: Draw) -> Answer:
    return rows_answer(run(SQL_OBSERVATION_CODE_DATES, draw.values))


# c. Condition by patient + clinical status


def has_active_condition(resources: list[dict[str, Any]]) -> bool:
    return any(
        condition["clinicalStatus"]["coding"][0]["code"] == CLINICAL_STATUS_ACTIVE
        for condition in of_type(resources, "Condition")
    )


def draw_active_conditions(rng: random.Random, region: Region) -> Draw:
    patient_id = region.person(rng, has_active_condition)[0]["id"]
    from federation.search.hashing import hash64

    values = {
        "patient_param": key("Condition", "patient"),
        "patient": patient_id,
        "status": key("Condition", "clinical-status"),
        "active": hash64(CLINICAL_STATUS_ACTIVE),
        "limit": PAGE,
    }
    return Draw("Condition", urlencode({"patient": patient_id, "clinical-status": CLINICAL_STATUS_ACTIVE}), values)


SQL_ACTIVE_CONDITIONS = """
SELECT r.resource_type, r.logical_id, r.content
FROM federation_resource r
WHERE r.resource_type = 'Condition' AND NOT r.is_deleted
  AND r.id IN (SELECT f.resource_id FROM federation_referenceindex f
               WHERE f.param = %(patient_param)s AND f.target_type = 'Patient' AND f.target_id = %(patient)s)
  AND EXISTS (SELECT 1 FROM federation_tokenindex t
              WHERE t.resource_id = r.id AND t.param = %(status)s AND t.code = %(active)s)
ORDER BY r.id
LIMIT %(limit)s
"""


def sql_active_conditions(run: Runner, draw: Draw) -> Answer:
    return rows_answer(run(SQL_ACTIVE_CONDITIONS, draw.values))


# d. MedicationRequest by patient, with the Medication included


def draw_prescriptions(rng: random.Random, region: Region) -> Draw:
    patient_id = region.person(rng, lambda resources: bool(of_type(resources, "MedicationRequest")))[0]["id"]
    values = {
        "patient_param": key("MedicationRequest", "patient"),
        "patient": patient_id,
        "medication": key("MedicationRequest", "medication"),
        "limit": PAGE,
    }
    query = urlencode({"patient": patient_id, "_include": "MedicationRequest:medication"})
    return Draw("MedicationRequest", query, values)


SQL_PRESCRIPTIONS = """
SELECT r.resource_type, r.logical_id, r.content, r.id
FROM federation_resource r
WHERE r.resource_type = 'MedicationRequest' AND NOT r.is_deleted
  AND r.id IN (SELECT f.resource_id FROM federation_referenceindex f
               WHERE f.param = %(patient_param)s AND f.target_type = 'Patient' AND f.target_id = %(patient)s)
ORDER BY r.id
LIMIT %(limit)s
"""
# Driven by the page's references (MATERIALIZED): left to itself the planner, which sees almost no
# Medication rows, starts from the Medications and scans all prescriptions of each (~1,700 apiece).
SQL_PRESCRIBED_MEDICATIONS = """
WITH targets AS MATERIALIZED (
  SELECT DISTINCT f.target_id FROM federation_referenceindex f
  WHERE f.resource_id = ANY(%(page)s) AND f.param = %(medication)s AND f.target_type = 'Medication'
)
SELECT m.resource_type, m.logical_id, m.content
FROM targets t
JOIN federation_resource m ON m.resource_type = 'Medication' AND m.logical_id = t.target_id
WHERE NOT m.is_deleted
ORDER BY m.id
"""


def sql_prescriptions(run: Runner, draw: Draw) -> Answer:
    page = run(SQL_PRESCRIPTIONS, draw.values)
    medications = run(SQL_PRESCRIBED_MEDICATIONS, {**draw.values, "page": [row[3] for row in page]}) if page else []
    return rows_answer(page, medications)


# e. Encounter by patient, latest first


def draw_encounters(rng: random.Random, region: Region) -> Draw:
    patient_id = region.person(rng)[0]["id"]
    values = {"patient_param": key("Encounter", "patient"), "patient": patient_id, "date": key("Encounter", "date")}
    return Draw("Encounter", urlencode({"patient": patient_id, "_sort": "-date"}), {**values, "limit": PAGE})


# Every Encounter has one period, hence one date row: a plain join orders by its end.
SQL_ENCOUNTERS = """
SELECT r.resource_type, r.logical_id, r.content
FROM federation_resource r
LEFT JOIN federation_dateindex d ON d.resource_id = r.id AND d.param = %(date)s
WHERE r.resource_type = 'Encounter' AND NOT r.is_deleted
  AND r.id IN (SELECT f.resource_id FROM federation_referenceindex f
               WHERE f.param = %(patient_param)s AND f.target_type = 'Patient' AND f.target_id = %(patient)s)
ORDER BY d.high DESC NULLS LAST, r.id
LIMIT %(limit)s
"""


def sql_encounters(run: Runner, draw: Draw) -> Answer:
    return rows_answer(run(SQL_ENCOUNTERS, draw.values))


# f. Patient by id, with every Observation about them


def draw_patient_everything(rng: random.Random, region: Region) -> Draw:
    patient_id = region.person(rng)[0]["id"]
    values = {"patient": patient_id, "subject": key("Observation", "subject"), "limit": 10}
    query = urlencode({"_id": patient_id, "_revinclude": "Observation:subject", "_count": 10})
    return Draw("Patient", query, values)


SQL_PATIENT = """
SELECT r.resource_type, r.logical_id, r.content
FROM federation_resource r
WHERE r.resource_type = 'Patient' AND r.logical_id = %(patient)s AND NOT r.is_deleted
ORDER BY r.id
LIMIT %(limit)s
"""
SQL_PATIENT_OBSERVATIONS = """
SELECT r.resource_type, r.logical_id, r.content
FROM federation_resource r
WHERE r.resource_type = 'Observation' AND NOT r.is_deleted
  AND r.id IN (SELECT f.resource_id FROM federation_referenceindex f
               WHERE f.param = %(subject)s AND f.target_type = 'Patient' AND f.target_id = ANY(%(page)s))
ORDER BY r.id
"""


def sql_patient_everything(run: Runner, draw: Draw) -> Answer:
    page = run(SQL_PATIENT, draw.values)
    observations = run(SQL_PATIENT_OBSERVATIONS, {**draw.values, "page": [row[1] for row in page]}) if page else []
    return rows_answer(page, observations)


CLINIC_QUERIES = (
    ClinicQuery("a", "Patient by kana name prefix + birthdate", draw_name_birthdate, sql_name_birthdate),
    ClinicQuery(
        "b", "Observation by patient + code + date range", draw_observation_code_dates, sql_observation_code_dates
    ),
    ClinicQuery("c", "Condition by patient + clinical-status", draw_active_conditions, sql_active_conditions),
    ClinicQuery("d", "MedicationRequest by patient + _include medication", draw_prescriptions, sql_prescriptions),
    ClinicQuery("e", "Encounter by patient, _sort=-date", draw_encounters, sql_encounters),
    ClinicQuery(
        "f", "Patient by _id + _revinclude Observation:subject", draw_patient_everything, sql_patient_everything
    ),
)


# --- timing ----------------------------------------------------------------------------------------


@dataclass
class QueryResult:
    """Everything measured for one clinic query."""

    name: str
    title: str
    example: str
    http: Stats
    engine_sql: Stats
    handwritten_sql: Stats
    matches_mean: float
    included_mean: float
    included_max: int
    checked_draws: int
    engine_statements: int
    slowest_draw: str
    slowest_http_ms: float
    explain_engine: list[str] = field(default_factory=list)
    explain_handwritten: list[str] = field(default_factory=list)

    @property
    def ratio_http(self) -> float:
        """End to end: the HTTP answer against the hand-written SQL alone (p50)."""
        return self.http.p50_ms / self.handwritten_sql.p50_ms

    @property
    def ratio_sql(self) -> float:
        """The engine's generated SQL against the hand-written SQL, both straight through psycopg (p50)."""
        return self.engine_sql.p50_ms / self.handwritten_sql.p50_ms

    @property
    def passes_p95(self) -> bool:
        return self.http.p95_ms <= TARGET_P95_MS


def bundle_answer(bundle: dict[str, Any]) -> Answer:
    entries = bundle.get("entry", [])

    def ids(mode: str) -> list[str]:
        return [
            f"{entry['resource']['resourceType']}/{entry['resource']['id']}"
            for entry in entries
            if entry["search"]["mode"] == mode
        ]

    return Answer(matches=tuple(ids("match")), included=tuple(sorted(ids("include"))))


def time_http(
    client: FhirClient, draws: Sequence[Draw], warmup: Sequence[Draw], label: str
) -> tuple[Stats, list[float], list[Answer]]:
    """Each draw as GET over the client's keep-alive connection; the Bundle is parsed after the clock stops."""
    for draw in warmup:
        client.send(Call("GET", draw.path))
    samples: list[float] = []
    answers: list[Answer] = []
    started = time.perf_counter()
    for draw in draws:
        elapsed_ms, response = client.send(Call("GET", draw.path))
        samples.append(elapsed_ms)
        answers.append(bundle_answer(response.json()))
    return Stats.from_samples(label, samples, time.perf_counter() - started), samples, answers


def sql_connection(database_url: str) -> psycopg.Connection[Any]:
    """One autocommit connection; no server-side prepared statements, so every execution is planned for
    its values, as Django's queries were when this benchmark's figures were taken (before the platform
    prepared repeated statements: docs/decisions.md, "Prepared statements")."""
    return psycopg.connect(database_url, autocommit=True, prepare_threshold=None)


def fetch_runner(connection: psycopg.Connection[Any]) -> Runner:
    def run(sql: str, values: dict[str, Any]) -> list[Row]:
        return connection.execute(sql, values).fetchall()

    return run


def time_handwritten(
    connection: psycopg.Connection[Any], query: ClinicQuery, draws: Sequence[Draw], warmup: Sequence[Draw]
) -> tuple[Stats, list[Answer]]:
    """The hand-written answer of each draw: every statement executed and fetched, JSON decoded."""
    run = fetch_runner(connection)
    for draw in warmup:
        query.handwritten(run, draw)
    samples: list[float] = []
    answers: list[Answer] = []
    started = time.perf_counter()
    for draw in draws:
        began = time.perf_counter()
        answers.append(query.handwritten(run, draw))
        samples.append((time.perf_counter() - began) * 1000)
    return Stats.from_samples(f"{query.name}: hand-written SQL", samples, time.perf_counter() - started), answers


def engine_statements(draw: Draw) -> list[str]:
    """The SQL the engine runs for a draw, captured from an in-process search (values bound inline)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from federation.search.query import parse_query, query_pairs
    from federation.search.searching import resource_search

    parsed = parse_query(draw.resource_type, query_pairs(draw.query))
    with CaptureQueriesContext(connection) as captured:
        resource_search(access=system_access(), query=parsed, types=(draw.resource_type,))
    return [
        statement["sql"]
        for statement in captured.captured_queries
        if "federation_" in statement["sql"] and "searchparameterdefinition" not in statement["sql"]
    ]


def time_engine_sql(
    connection: psycopg.Connection[Any], label: str, statements: Sequence[list[str]], warmup: Sequence[list[str]]
) -> Stats:
    """The engine's own statements replayed through psycopg: the engine's SQL without Python or HTTP."""

    def replay(group: list[str]) -> None:
        for sql in group:
            connection.execute(sql.encode()).fetchall()  # bytes: no placeholder parsing of LIKE '...%'

    for group in warmup:
        replay(group)
    samples: list[float] = []
    started = time.perf_counter()
    for group in statements:
        began = time.perf_counter()
        replay(group)
        samples.append((time.perf_counter() - began) * 1000)
    return Stats.from_samples(label, samples, time.perf_counter() - started)


def explain(connection: psycopg.Connection[Any], sql: str, values: dict[str, Any] | None = None) -> str:
    rows = connection.execute(
        f"EXPLAIN (ANALYZE, BUFFERS) {sql}".encode() if values is None else f"EXPLAIN (ANALYZE, BUFFERS) {sql}", values
    ).fetchall()
    return "\n".join(str(row[0]) for row in rows)


def explain_handwritten(connection: psycopg.Connection[Any], query: ClinicQuery, draw: Draw) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of each hand-written statement; the rows still flow to the next step."""
    plans: list[str] = []

    def run(sql: str, values: dict[str, Any]) -> list[Row]:
        plans.append(explain(connection, sql, values))
        return connection.execute(sql, values).fetchall()

    query.handwritten(run, draw)
    return plans


def check_answers(
    query: ClinicQuery, draws: Sequence[Draw], engine: Sequence[Answer], handwritten: Sequence[Answer]
) -> None:
    """The engine and the hand-written SQL must return the same resources, or the comparison means nothing."""
    for draw, got, expected in zip(draws, engine, handwritten, strict=True):
        if got != expected:
            raise BenchError(
                f"query {query.name}: the engine and the hand-written SQL disagree on {draw.path}:\n"
                f"  engine:       {got}\n  hand-written: {expected}"
            )


def measure_query(
    client: FhirClient, connection: psycopg.Connection[Any], query: ClinicQuery, region: Region, plan: Plan, seed: int
) -> QueryResult:
    rng = random.Random(f"draws:{seed}:{query.name}")
    warmup = [query.draw(rng, region) for _ in range(plan.warmup)]
    draws = [query.draw(rng, region) for _ in range(plan.requests)]
    progress(f"query {query.name} ({query.title}): {plan.warmup} warm-up + {plan.requests} timed, e.g. {draws[0].path}")
    http, http_samples, engine_answers = time_http(client, draws, warmup, f"{query.name}: HTTP")
    captured = [engine_statements(draw) for draw in draws]
    engine_sql = time_engine_sql(
        connection, f"{query.name}: engine SQL", captured, [engine_statements(d) for d in warmup]
    )
    handwritten, handwritten_answers = time_handwritten(connection, query, draws, warmup)
    checked = plan.checked
    check_answers(query, draws[:checked], engine_answers[:checked], handwritten_answers[:checked])
    # The plans worth reading are the tail's: EXPLAIN the draw that was slowest over HTTP.
    slowest = max(range(len(draws)), key=lambda index: http_samples[index])
    result = QueryResult(
        name=query.name,
        title=query.title,
        example=draws[0].path,
        http=http,
        engine_sql=engine_sql,
        handwritten_sql=handwritten,
        matches_mean=round(statistics.fmean(len(answer.matches) for answer in engine_answers), 1),
        included_mean=round(statistics.fmean(len(answer.included) for answer in engine_answers), 1),
        included_max=max(len(answer.included) for answer in engine_answers),
        checked_draws=checked,
        engine_statements=len(captured[0]),
        slowest_draw=draws[slowest].path,
        slowest_http_ms=round(http_samples[slowest], 2),
        explain_engine=[explain(connection, sql) for sql in captured[slowest]],
        explain_handwritten=explain_handwritten(connection, query, draws[slowest]),
    )
    progress(
        f"query {query.name}: HTTP p50 {http.p50_ms:.2f} / p95 {http.p95_ms:.2f} ms, engine SQL p50 "
        f"{engine_sql.p50_ms:.2f} ms, hand-written SQL p50 {handwritten.p50_ms:.2f} ms"
    )
    return result


def http_floor(client: FhirClient, plan: Plan) -> Stats:
    """An unknown route (404) through the same gunicorn: the stack's cost before any search work."""
    calls = [Call("GET", "nothing-here", expect=404)] * (plan.warmup + plan.requests)
    for call in calls[: plan.warmup]:
        client.send(call)
    samples = []
    started = time.perf_counter()
    for call in calls[plan.warmup :]:
        samples.append(client.send(call)[0])
    return Stats.from_samples("HTTP floor: unknown route (404)", samples, time.perf_counter() - started)


# --- reporting -------------------------------------------------------------------------------------


@dataclass
class Results:
    meta: dict[str, Any]
    load: LoadReport | None = None
    extraction: ExtractionReport | None = None
    contents: dict[str, Any] = field(default_factory=dict)
    http_floor: Stats | None = None
    queries: list[QueryResult] = field(default_factory=list)


def as_json(results: Results) -> dict[str, Any]:
    document = asdict(results)
    for query, stored in zip(results.queries, document["queries"], strict=True):
        stored["ratio_http_to_handwritten_p50"] = round(query.ratio_http, 2)
        stored["ratio_engine_sql_to_handwritten_p50"] = round(query.ratio_sql, 2)
        stored["ratio_engine_sql_to_handwritten_p95"] = round(query.engine_sql.p95_ms / query.handwritten_sql.p95_ms, 2)
        stored["pass_p95"] = query.passes_p95
        stored["pass_sql_ratio"] = query.ratio_sql <= TARGET_RATIO
    return document


def write_json(results: Results) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"search-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(as_json(results), ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def table(results: Results) -> str:
    lines = []
    if results.load is not None:
        load = results.load
        lines.append(f"load: {load.resources:,} resources in {load.seconds:.0f} s = {load.rate_per_s:,.0f}/s")
        lines += [f"  {label:<46} {seconds:>8.1f} s" for label, seconds in load.phases_s.items()]
        lines += [f"  CPU, {label:<41} {seconds:>8.1f} s" for label, seconds in load.cpu_s.items()]
    if results.extraction is not None:
        extraction = results.extraction
        passed = extraction.rate_per_s >= TARGET_EXTRACTION_PER_CORE
        lines.append(
            f"index extraction: {extraction.rate_per_s:,} resources/s on one core "
            f"(target >= {TARGET_EXTRACTION_PER_CORE:,.0f}) {verdict(passed)}"
        )
    header = (
        f"{'query':<52} {'HTTP p50':>8} {'p95':>7} {'p99':>7} | {'engSQL p50':>10} {'p95':>6} | "
        f"{'hand p50':>8} {'p95':>6} | {'HTTP/hand':>9} {'SQL/hand':>8} | p95<=50ms SQL<=3x"
    )
    lines += [header, "-" * len(header)]
    for query in results.queries:
        lines.append(
            f"{query.name}. {query.title:<49} {query.http.p50_ms:>8.2f} {query.http.p95_ms:>7.2f} "
            f"{query.http.p99_ms:>7.2f} | {query.engine_sql.p50_ms:>10.2f} {query.engine_sql.p95_ms:>6.2f} | "
            f"{query.handwritten_sql.p50_ms:>8.2f} {query.handwritten_sql.p95_ms:>6.2f} | "
            f"{query.ratio_http:>8.1f}x {query.ratio_sql:>7.1f}x | {verdict(query.passes_p95):<9} "
            f"{verdict(query.ratio_sql <= TARGET_RATIO)}"
        )
        lines.append(
            f"     matches/draw {query.matches_mean}, included/draw {query.included_mean} (max {query.included_max});"
            f" slowest {query.slowest_http_ms} ms"
        )
    if results.http_floor is not None:
        lines.append(
            f"HTTP floor (404): p50 {results.http_floor.p50_ms:.2f} ms, p95 {results.http_floor.p95_ms:.2f} ms"
        )
    return "\n".join(lines)


def run_metadata(plan: Plan, args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    return {
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "quick": args.quick,
        "skip_load": args.skip_load,
        "seed": args.seed,
        "plan": asdict(plan),
        "machine": machine_facts(),
        "database": {
            "server": with_database(args.server, "<name>"),
            "name": BENCH_DATABASE,
            "postgresql": server_version(database_url),
            "settings": postgres_settings(database_url),
        },
        "server": {
            "command": " ".join(["gunicorn", *gunicorn_command(0, "gthread")[1:]]).replace(":0", ":<port>"),
            "workers": WORKERS,
            "threads": THREADS,
            "settings": "config.settings.local, DEBUG=false, LOG_LEVEL=ERROR, DATABASE_CONN_MAX_AGE default (60 s)",
        },
        "client": "one requests.Session (keep-alive) on the same machine; SQL via one psycopg connection",
    }


# --- main --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--people", type=int, help=f"people in the region (default {DEFAULT_PEOPLE:,}, ~50 resources each)"
    )
    parser.add_argument("--quick", action="store_true", help=f"a small region ({QUICK_PEOPLE} people) and few requests")
    parser.add_argument("--skip-load", action="store_true", help="reuse the loaded database (same --people and --seed)")
    parser.add_argument("--seed", type=int, default=3, help="random seed of the region and of the query draws")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server URL (its database part is ignored)")
    return parser.parse_args(argv)


def prepare_database(args: argparse.Namespace) -> str:
    """A fresh, migrated bench database, or (--skip-load) the existing one."""
    if BENCH_DATABASE in FORBIDDEN_DATABASES:
        raise BenchError(f"Refusing to use {BENCH_DATABASE!r}.")
    if args.skip_load:
        return with_database(args.server, BENCH_DATABASE)
    progress(f"recreating database {BENCH_DATABASE!r} on {with_database(args.server, '')}")
    database_url = recreate_database(args.server, BENCH_DATABASE)
    progress("manage.py migrate")
    migrate(database_url)
    return database_url


def check_loaded(database_url: str, region: Region) -> None:
    """Draws rebuild people from the seed, so the stored region must be the one these flags make."""
    first = person_resources(region.seed, region.people - 1)[0]["id"]
    with psycopg.connect(database_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FILTER (WHERE resource_type = 'Patient'),"
            " count(*) FILTER (WHERE resource_type = 'Patient' AND logical_id = %s) FROM federation_resource",
            (first,),
        ).fetchone()
    if row is None or row[0] != region.people or row[1] != 1:
        raise BenchError(
            f"The database holds {row[0] if row else 0} patients, not the {region.people} of seed {region.seed}; "
            "run without --skip-load, or pass the --people and --seed it was loaded with."
        )


def run(args: argparse.Namespace, plan: Plan, results: Results, database_url: str) -> None:
    region = Region(people=plan.people, seed=args.seed)
    setup_django(database_url)
    if not args.skip_load:
        progress(f"generating and loading {plan.people:,} people (~{plan.people * 51:,} resources)")
        results.load = load_region(plan, args.seed)
        progress("VACUUM (ANALYZE)")
        results.load.vacuum_analyze_s = round(vacuum_analyze(database_url), 1)
    check_loaded(database_url, region)
    results.contents = database_contents(database_url)
    results.extraction = measure_extraction(plan, args.seed)
    progress(f"starting gunicorn ({WORKERS} workers x {THREADS} thread, gthread, --preload)")
    with (
        running_server(database_url, "gthread") as server,
        FhirClient(server) as client,
        sql_connection(database_url) as connection,
    ):
        results.http_floor = http_floor(client, plan)
        for query in CLINIC_QUERIES:
            results.queries.append(measure_query(client, connection, query, region, plan, args.seed))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args.people, args.quick)
    started = time.perf_counter()
    try:
        database_url = prepare_database(args)
        results = Results(meta=run_metadata(plan, args, database_url))
        run(args, plan, results, database_url)
    except (BenchError, psycopg.Error, OSError) as error:
        print(f"benchmark stopped: {error}", file=sys.stderr)
        return 1
    results.meta["duration_s"] = round(time.perf_counter() - started, 1)
    results.meta["machine"]["load_average_at_end"] = os.getloadavg()
    print(table(results))
    progress(f"results written to {write_json(results).relative_to(REPO_ROOT)} in {results.meta['duration_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
