"""Matching forms of Japanese demographics: two sources that write the same name, number or address
differently (kana typos, 旧字体, full-width digits) give the same key.

These keys are for comparing only, never for storing or showing: they fold on purpose distinctions a
register keeps (髙 and 高, ユウコ and ユコ), because sources blur them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Hiragana ぁ..ゖ to katakana ァ..ヶ (the two blocks are 0x60 apart).
_HIRAGANA_TO_KATAKANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}
# Spaces and middle dots (・ ·) between name parts; the long-vowel mark ー and the dashes typed for it
# (hyphen-minus, U+2010..U+2015 hyphens and dashes, U+2212 minus).
_KANA_DROPPED = " \u3000\u30fb\u00b7\u30fc-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_KANA_FOLDS = str.maketrans(
    "ァィゥェォッャュョヮヵヶヅヂヲヱヰワ",
    "アイウエオツヤユヨワカケズジオエイハ",
    _KANA_DROPPED,
)
_ROW_VOWEL = {
    kana: vowel
    for vowel, row in (
        ("a", "アカガサザタダナハバパマヤラ"),
        ("i", "イキギシジチニヒビピミリ"),
        ("u", "ウクグスズツヌフブプムユルヴ"),
        ("e", "エケゲセゼテデネヘベペメレ"),
        ("o", "オコゴソゾトドノホボポモヨロ"),
    )
    for kana in row
}
# A vowel kana that only lengthens the kana before it: ウ after an o/u-row kana (サトウ), イ after an
# e-row kana (ケイコ), オ after an o-row kana (オオタ).
_LENGTHENERS = {"ウ": frozenset("ou"), "イ": frozenset("e"), "オ": frozenset("o")}


@lru_cache(maxsize=65536)
def kana_key(text: str) -> str:
    """The matching form of a kana reading. NFKC makes half-width ｻﾄｳ full-width; hiragana becomes
    katakana; small kana are written large and ヅヂヲヱヰ as ズジオエイ, ワ as ハ (clerks mix them); the
    long vowel is folded away (ー, and ウ/イ/オ that only lengthen), so サトウ, サトー, さとう and ｻﾄｳ all
    give サト. This loses distinctions on purpose (オオノ and オノ, ユウコ and ユコ give one key): the
    other fields tell such names apart, a missed typo would not be found again."""
    folded = unicodedata.normalize("NFKC", text).translate(_HIRAGANA_TO_KATAKANA).translate(_KANA_FOLDS)
    kept: list[str] = []
    previous_vowel = ""
    for kana in folded:
        if previous_vowel in _LENGTHENERS.get(kana, ()):
            continue
        kept.append(kana)
        previous_vowel = _ROW_VOWEL.get(kana, "")
    return "".join(kept)


# 新字体 -> the 旧字体 and 異体字 sources write for it in names (the register keeps the form it was given).
KANJI_NEW_FORMS = {
    "亜": "亞",
    "悪": "惡",
    "圧": "壓",
    "囲": "圍",
    "為": "爲",
    "医": "醫",
    "壱": "壹",
    "隠": "隱",
    "栄": "榮",
    "営": "營",
    "衛": "衞",
    "駅": "驛",
    "円": "圓",
    "塩": "鹽",
    "応": "應",
    "奥": "奧",
    "欧": "歐",
    "桜": "櫻",
    "温": "溫",
    "価": "價",
    "画": "畫",
    "会": "會",
    "懐": "懷",
    "覚": "覺",
    "学": "學",
    "岳": "嶽",
    "楽": "樂",
    "巻": "卷",
    "寛": "寬",
    "関": "關",
    "観": "觀",
    "巌": "巖",
    "顔": "顏",
    "気": "氣",
    "帰": "歸",
    "旧": "舊",
    "拠": "據",
    "挙": "擧",
    "峡": "峽",
    "狭": "狹",
    "暁": "曉",
    "区": "區",
    "勲": "勳",
    "恵": "惠",
    "渓": "溪",
    "経": "經",
    "継": "繼",
    "蛍": "螢",
    "軽": "輕",
    "鶏": "鷄",
    "芸": "藝",
    "県": "縣",
    "剣": "劍",
    "険": "險",
    "検": "檢",
    "権": "權",
    "献": "獻",
    "研": "硏",
    "顕": "顯",
    "験": "驗",
    "広": "廣",
    "恒": "恆",
    "黄": "黃",
    "号": "號",
    "国": "國",
    "黒": "黑",
    "済": "濟",
    "斎": "齋齊斉",
    "崎": "﨑嵜",
    "雑": "雜",
    "参": "參",
    "蚕": "蠶",
    "賛": "贊",
    "残": "殘",
    "糸": "絲",
    "児": "兒",
    "辞": "辭",
    "実": "實",
    "写": "寫",
    "釈": "釋",
    "寿": "壽",
    "収": "收",
    "従": "從",
    "渋": "澁",
    "獣": "獸",
    "縦": "縱",
    "粛": "肅",
    "処": "處",
    "緒": "緖",
    "叙": "敍",
    "将": "將",
    "奨": "獎",
    "称": "稱",
    "渉": "涉",
    "焼": "燒",
    "証": "證",
    "条": "條",
    "状": "狀",
    "乗": "乘",
    "浄": "淨",
    "剰": "剩",
    "畳": "疊",
    "嬢": "孃",
    "譲": "讓",
    "醸": "釀",
    "触": "觸",
    "真": "眞",
    "寝": "寢",
    "慎": "愼",
    "尽": "盡",
    "図": "圖",
    "粋": "粹",
    "酔": "醉",
    "穂": "穗",
    "随": "隨",
    "髄": "髓",
    "枢": "樞",
    "数": "數",
    "瀬": "瀨",
    "声": "聲",
    "静": "靜",
    "摂": "攝",
    "専": "專",
    "浅": "淺",
    "戦": "戰",
    "銭": "錢",
    "践": "踐",
    "潜": "潛",
    "繊": "纖",
    "禅": "禪",
    "双": "雙",
    "壮": "壯",
    "争": "爭",
    "荘": "莊",
    "捜": "搜",
    "挿": "插",
    "巣": "巢",
    "曽": "曾",
    "装": "裝",
    "総": "總",
    "聡": "聰",
    "騒": "騷",
    "増": "增",
    "蔵": "藏",
    "臓": "臟",
    "即": "卽",
    "属": "屬",
    "続": "續",
    "堕": "墮",
    "体": "體",
    "対": "對",
    "帯": "帶",
    "滞": "滯",
    "台": "臺",
    "滝": "瀧",
    "択": "擇",
    "沢": "澤",
    "担": "擔",
    "胆": "膽",
    "単": "單",
    "団": "團",
    "弾": "彈",
    "断": "斷",
    "遅": "遲",
    "昼": "晝",
    "虫": "蟲",
    "鋳": "鑄",
    "庁": "廳",
    "聴": "聽",
    "鎮": "鎭",
    "転": "轉",
    "伝": "傳",
    "灯": "燈",
    "当": "當",
    "党": "黨",
    "盗": "盜",
    "稲": "稻",
    "闘": "鬪",
    "徳": "德",
    "独": "獨",
    "読": "讀",
    "届": "屆",
    "縄": "繩",
    "弐": "貳",
    "悩": "惱",
    "脳": "腦",
    "覇": "霸",
    "廃": "廢",
    "拝": "拜",
    "売": "賣",
    "麦": "麥",
    "発": "發",
    "髪": "髮",
    "抜": "拔",
    "晩": "晚",
    "蛮": "蠻",
    "秘": "祕",
    "浜": "濱濵",
    "瓶": "甁",
    "払": "拂",
    "仏": "佛",
    "併": "倂",
    "並": "竝",
    "変": "變",
    "辺": "邊邉",
    "弁": "辯辨瓣",
    "舗": "舖",
    "歩": "步",
    "宝": "寶",
    "豊": "豐",
    "没": "沒",
    "翻": "飜",
    "毎": "每",
    "万": "萬",
    "満": "滿",
    "黙": "默",
    "弥": "彌",
    "訳": "譯",
    "薬": "藥",
    "与": "與",
    "誉": "譽",
    "予": "豫",
    "揺": "搖",
    "様": "樣",
    "謡": "謠",
    "来": "來",
    "頼": "賴",
    "乱": "亂",
    "覧": "覽",
    "竜": "龍",
    "両": "兩",
    "猟": "獵",
    "緑": "綠",
    "塁": "壘",
    "励": "勵",
    "礼": "禮",
    "隷": "隸",
    "霊": "靈",
    "齢": "齡",
    "恋": "戀",
    "炉": "爐",
    "労": "勞",
    "郎": "郞",
    "楼": "樓",
    "禄": "祿",
    "録": "錄",
    "湾": "灣",
    # 異体字 common in family and given names rather than 旧字体 proper.
    "高": "髙",
    "島": "嶋嶌",
    "富": "冨",
    "峰": "峯",
    "館": "舘",
    "柳": "栁",
    "桑": "桒",
    "杉": "杦",
    "吉": "𠮷",
    "土": "𡈽",
    "野": "埜",
    "槙": "槇",
    "桧": "檜",
    "凛": "凜",
    "亘": "亙",
    "祢": "禰",
    "園": "薗",
    "船": "舩",
    "鶴": "靍靎",
    "渕": "淵",
    "迪": "廸",
    "昇": "曻",
    "芦": "蘆",
}
_TO_NEW_FORM = str.maketrans({old: new for new, olds in KANJI_NEW_FORMS.items() for old in olds})
_VARIATION_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")


@lru_cache(maxsize=65536)
def kanji_key(text: str) -> str:
    """The matching form of a kanji name: 旧字体 and 異体字 written as their 新字体 (齋藤, 斉藤 -> 斎藤;
    髙橋 -> 高橋; 山﨑 -> 山崎), variation selectors (IVS) and spaces dropped, kana as katakana.

    NFKC is safe here, for a key: it maps CJK compatibility ideographs (U+F900..) and Kangxi radicals to
    the unified ideograph they stand for, and never one unified ideograph to another, so it folds nothing
    the table should decide. The stored name is never NFKC'd (connectors keep the registered form)."""
    plain = unicodedata.normalize("NFKC", _VARIATION_SELECTORS.sub("", text))
    return "".join(plain.split()).translate(_HIRAGANA_TO_KATAKANA).translate(_TO_NEW_FORM)


def phone_key(text: str) -> str:
    """A phone number's digits: sources write 0548-26-5284, 0548(26)5284 or 0548 26 5284, in either width."""
    return "".join(char for char in unicodedata.normalize("NFKC", text) if char.isdigit())


def postal_key(text: str) -> str:
    """A 7-digit 郵便番号 (428-0021, 〒4280021, full-width digits too), or "" when the text is not one: a
    wrong postal code must not look like a shared one."""
    digits = phone_key(text)
    return digits if len(digits) == 7 else ""


# Hyphens and dashes (U+2010..U+2015), the minus sign and the long-vowel mark ー that clerks type between
# 番地 numbers (15ー24); NFKC has already made the full-width hyphen-minus ASCII.
_DASH_AFTER_DIGIT = re.compile(r"(?<=\d)[\u2010-\u2015\u2212\u30fc]")
_SPACES = re.compile(r"\s+")


def address_key(text: str) -> str:
    """An address as one comparable string: NFKC (full-width digits and dashes as ASCII), no spaces, any
    dash after a digit as "-". 丁目 numbers stay as written (一丁目 and 1丁目 differ): sources copy the
    register's form, and folding kanji numerals would also touch place names (八幡, 三島)."""
    plain = _SPACES.sub("", unicodedata.normalize("NFKC", text))
    return _DASH_AFTER_DIGIT.sub("-", plain)
