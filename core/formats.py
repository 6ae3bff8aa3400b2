"""The formats this project defines (docs/connectors/care-csv.md, resident-register.md) and the Japanese
number rules they use: one definition for the generator that writes them and the connectors that read them."""

from __future__ import annotations


def check_digit(digits: str) -> str:
    """検証番号 of 保険者番号 / 医療機関コード: weights 2,1,2,... from the right, digit sums, modulus 10."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


# Barthel Index items in file order, with the scores each allows.
BARTHEL_SCORES: dict[str, tuple[int, ...]] = {
    "食事": (0, 5, 10),
    "移乗": (0, 5, 10, 15),
    "整容": (0, 5),
    "トイレ動作": (0, 5, 10),
    "入浴": (0, 5),
    "平地歩行": (0, 5, 10, 15),
    "階段": (0, 5, 10),
    "更衣": (0, 5, 10),
    "排便": (0, 5, 10),
    "排尿": (0, 5, 10),
}
CHECKLIST_ITEMS = 25  # 基本チェックリスト

# Care-facility CSV: file name -> header row.
CARE_CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "clients.csv": (
        "利用者番号",
        "氏名",
        "氏名カナ",
        "生年月日",
        "性別",
        "郵便番号",
        "住所",
        "電話番号",
        "介護保険者番号",
        "被保険者番号",
        "登録日",
    ),
    "certifications.csv": (
        "利用者番号",
        "要介護状態区分コード",
        "要介護状態区分",
        "申請区分",
        "申請日",
        "認定日",
        "有効期間開始",
        "有効期間終了",
    ),
    "services.csv": ("利用者番号", "サービス提供日", "サービス種類コード", "サービス種類", "単位数"),
    "adl.csv": ("利用者番号", "評価日", *BARTHEL_SCORES, "合計"),
    "incidents.csv": ("利用者番号", "発生日", "種別", "場所", "受傷"),
    "checklists.csv": ("利用者番号", "実施日", *(f"質問{n}" for n in range(1, CHECKLIST_ITEMS + 1)), "身長", "体重"),
    "vitals.csv": ("利用者番号", "測定日時", "収縮期血圧", "拡張期血圧", "脈拍", "体温", "体重"),
}

# Resident register extract: file name -> header row.
RESIDENT_REGISTER_COLUMNS: dict[str, tuple[str, ...]] = {
    "residents.csv": (
        "宛名番号",
        "世帯番号",
        "続柄",
        "氏名",
        "氏名カナ",
        "生年月日",
        "性別",
        "郵便番号",
        "住所",
        "地区",
        "住民となった日",
        "状態",
        "死亡日",
        "電話番号",
        "介護保険被保険者番号",
        "医療保険種別",
        "医療保険者番号",
        "被保険者記号",
        "被保険者番号",
        "被保険者枝番",
    ),
    "movements.csv": ("宛名番号", "異動日", "異動事由", "旧住所", "新住所", "旧世帯番号", "新世帯番号"),
}
