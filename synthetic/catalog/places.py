"""The fictional municipality: 綱木市 (つなぎ市) in 静岡県, its districts (町丁目) and postal codes.

The city and its numbers do not exist; the prefecture is real so that prefecture numbers and insurer
numbers have their real shape.
"""

from __future__ import annotations

PREFECTURE = "静岡県"
PREFECTURE_NUMBER = "22"
CITY = "綱木市"
CITY_KANA = "ツナギシ"
MUNICIPALITY_CODE = "229990"  # 全国地方公共団体コード shape: prefecture 2 + city 3 + check 1 (fictional)

# 町丁目 with their (fictional) postal codes; the population spreads over the first `district_count` ones.
DISTRICTS = (
    ("本町一丁目", "428-0011"),
    ("本町二丁目", "428-0012"),
    ("駅前一丁目", "428-0021"),
    ("緑が丘", "428-0031"),
    ("桜木町", "428-0041"),
    ("港町", "428-0051"),
    ("東浜", "428-0061"),
    ("西山", "428-0071"),
    ("北原", "428-0081"),
    ("南台", "428-0091"),
)

BUILDINGS = ("つなぎハイツ", "コーポ緑", "メゾン桜木", "サンライズ港", "グランドール駅前", "ハイム東浜")

AREA_CODE = "0548"  # fictional-looking 市外局番 for fixed lines
