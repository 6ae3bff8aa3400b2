"""Conditions, drugs, lab tests and vaccines the generator uses.

ICD-10 codes are real. Drug codes follow the shape of the YJ / HOT9 / レセプト電算 masters and keep the YJ
ingredient part (first 7 characters) of the real ingredient, so that counting ingredients works as it
would on real data; the remaining digits, the MEDIS 病名 numbers and the HOT / レセ電 numbers are
illustrative and must not be used as a code master. JLAC10 codes for the common labs are those published
in the JP-CLINS core lab list.
"""

from __future__ import annotations

from decimal import Decimal

from core.formats import BARTHEL_SCORES
from synthetic.model import (
    CareLevel,
    CareServiceType,
    Condition,
    Department,
    DosageForm,
    Drug,
    LabTest,
    Vaccine,
)


def _condition(key: str, name: str, icd10: str, medis_key: str, medis_exchange: str, **kw: bool) -> Condition:
    return Condition(key, name, icd10, medis_key, medis_exchange, **kw)


CONDITIONS = {
    c.key: c
    for c in (
        _condition("hypertension", "本態性高血圧症", "I10", "20089213", "PAKS"),
        _condition("diabetes", "２型糖尿病", "E11.9", "20060712", "KDPL"),
        _condition("dyslipidemia", "脂質異常症", "E78.5", "20083317", "CRD5"),
        _condition("dementia_alzheimer", "アルツハイマー型認知症", "G30.9", "20057364", "HN63"),
        _condition("dementia_vascular", "血管性認知症", "F01.9", "20066254", "JFQ1", sensitive=True),
        _condition("dementia_unspecified", "認知症", "F03", "20084420", "RC1V", sensitive=True),
        _condition("osteoporosis", "骨粗鬆症", "M81.0", "20071386", "N3EM"),
        _condition("hip_fracture", "大腿骨頚部骨折", "S72.0", "20079918", "VB3S"),
        _condition("trochanteric_fracture", "大腿骨転子部骨折", "S72.1", "20079926", "VB4N"),
        _condition("heart_failure", "慢性心不全", "I50.9", "20067105", "EDC6"),
        _condition("atrial_fibrillation", "心房細動", "I48.9", "20064913", "HTF3"),
        _condition("cerebral_infarction", "脳梗塞", "I63.9", "20066640", "SC8L"),
        _condition("ckd", "慢性腎臓病", "N18.9", "20067337", "JDF2"),
        _condition("gerd", "逆流性食道炎", "K21.0", "20057883", "L4PR"),
        _condition("gastritis", "慢性胃炎", "K29.5", "20054174", "TSQF"),
        _condition("insomnia", "不眠症", "G47.0", "20072103", "K7UA"),
        _condition("knee_oa", "変形性膝関節症", "M17.9", "20075230", "S5FS"),
        _condition("lumbar_stenosis", "腰部脊柱管狭窄症", "M48.06", "20086315", "GEF0"),
        _condition("copd", "慢性閉塞性肺疾患", "J44.9", "20068101", "H0JE"),
        _condition("pneumonia", "肺炎", "J18.9", "20063612", "L4AC"),
        _condition("constipation", "便秘症", "K59.0", "20075622", "JJ8T"),
        _condition("bph", "前立腺肥大症", "N40", "20072922", "M6UM"),
        _condition("cataract", "老人性白内障", "H25.9", "20084016", "AS2K"),
        _condition("gastric_cancer", "胃癌", "C16.9", "20054099", "N3KC"),
        _condition("colon_cancer", "大腸癌", "C18.9", "20063409", "QDVK"),
        _condition("lung_cancer", "肺癌", "C34.9", "20067019", "EBT5"),
        _condition("breast_cancer", "乳癌", "C50.9", "20078620", "C2JD"),
        _condition("prostate_cancer", "前立腺癌", "C61", "20072954", "JH5G"),
        _condition("depression", "うつ病", "F32.9", "20057042", "PQ2S", sensitive=True),
        _condition("asthma", "気管支喘息", "J45.9", "20058806", "M1PR"),
        _condition("allergic_rhinitis", "アレルギー性鼻炎", "J30.4", "20056866", "S8LK"),
        _condition("atopic_dermatitis", "アトピー性皮膚炎", "L20.9", "20056879", "HRR1"),
        _condition("acute_bronchitis", "急性気管支炎", "J20.9", "20058133", "DGFG"),
        _condition("influenza", "インフルエンザ", "J11.1", "20059117", "GV4J"),
        _condition("fall_injury", "転倒による打撲", "W19", "20060001", "TTB1"),
    )
}

DEMENTIA_CONDITIONS = frozenset({"dementia_alzheimer", "dementia_vascular", "dementia_unspecified"})
FALL_FRACTURES = frozenset({"hip_fracture", "trochanteric_fracture"})


def _drug(
    key: str,
    name: str,
    generic: str,
    yj: str,
    hot9: str,
    receipt: str,
    form: DosageForm,
    unit: tuple[str, str],
    daily_dose: str,
    usage: tuple[str, str],
) -> Drug:
    return Drug(key, name, generic, yj, hot9, receipt, form, unit[0], unit[1], Decimal(daily_dose), *usage)


TABLET = ("錠", "TAB")
CAPSULE = ("カプセル", "CAP")
GRAM = ("g", "G")
SHEET = ("枚", "SHT")
BOTTLE = ("本", "HON")
AFTER_BREAKFAST = ("1013042400000000", "１日１回朝食後")
AFTER_MEALS_TWICE = ("1013024400000000", "１日２回朝夕食後")
AFTER_MEALS_THRICE = ("1013044400000000", "１日３回朝昼夕食後")
BEDTIME = ("1050110020000000", "１日１回就寝前")
WEEKLY = ("1013042400000000", "週１回起床時")
WHEN_PAINFUL = ("1022000000000000", "疼痛時")
APPLY = ("2B74000000000000", "１日１回患部に貼付")
INHALE = ("2A00000000000000", "１日１回吸入")

ORAL = DosageForm.ORAL
DRUGS = {
    d.key: d
    for d in (
        _drug(
            "amlodipine",
            "アムロジピン錠５ｍｇ",
            "【般】アムロジピンベシル酸塩錠５ｍｇ",
            "2171022F2020",
            "109211501",
            "620008201",
            ORAL,
            TABLET,
            "1",
            AFTER_BREAKFAST,
        ),
        _drug(
            "candesartan",
            "カンデサルタン錠８ｍｇ",
            "【般】カンデサルタンシレキセチル錠８ｍｇ",
            "2149040F3020",
            "112457801",
            "620009101",
            ORAL,
            TABLET,
            "1",
            AFTER_BREAKFAST,
        ),
        _drug(
            "azilsartan",
            "アジルバ錠２０ｍｇ",
            "【般】アジルサルタン錠２０ｍｇ",
            "2149048F1020",
            "121430901",
            "622143001",
            ORAL,
            TABLET,
            "1",
            AFTER_BREAKFAST,
        ),
        _drug(
            "metformin",
            "メトホルミン塩酸塩錠２５０ｍｇ",
            "【般】メトホルミン塩酸塩錠２５０ｍｇ",
            "3962002F1037",
            "107452001",
            "620002308",
            ORAL,
            TABLET,
            "2",
            AFTER_MEALS_TWICE,
        ),
        _drug(
            "sitagliptin",
            "ジャヌビア錠５０ｍｇ",
            "【般】シタグリプチン錠５０ｍｇ",
            "3969010F2020",
            "118810101",
            "620008954",
            ORAL,
            TABLET,
            "1",
            AFTER_BREAKFAST,
        ),
        _drug(
            "atorvastatin",
            "アトルバスタチン錠１０ｍｇ",
            "【般】アトルバスタチン錠１０ｍｇ",
            "2189015F2020",
            "111873601",
            "620004504",
            ORAL,
            TABLET,
            "1",
            AFTER_BREAKFAST,
        ),
        _drug(
            "rosuvastatin",
            "ロスバスタチン錠２．５ｍｇ",
            "【般】ロスバスタチン錠２．５ｍｇ",
            "2189017F1020",
            "117141301",
            "620003402",
            ORAL,
            TABLET,
            "1",
            AFTER_BREAKFAST,
        ),
        _drug(
            "donepezil",
            "ドネペジル塩酸塩錠５ｍｇ",
            "【般】ドネペジル塩酸塩錠５ｍｇ",
            "1190012F2020",
            "112149701",
            "620007201",
            ORAL,
            TABLET,
            "1",
            AFTER_BREAKFAST,
        ),
        _drug(
            "memantine",
            "メマリー錠２０ｍｇ",
            "【般】メマンチン塩酸塩錠２０ｍｇ",
            "1190018F4020",
            "120549101",
            "622054901",
            ORAL,
            TABLET,
            "1",
            AFTER_BREAKFAST,
        ),
        _drug(
            "alendronate",
            "アレンドロン酸錠３５ｍｇ",
            "【般】アレンドロン酸ナトリウム錠３５ｍｇ",
            "3999018F2020",
            "116220301",
            "620002811",
            ORAL,
            TABLET,
            "1",
            WEEKLY,
        ),
        _drug(
            "eldecalcitol",
            "エディロールカプセル０．７５μｇ",
            "【般】エルデカルシトールカプセル０．７５μｇ",
            "3112004M2020",
            "120584201",
            "622058401",
            ORAL,
            CAPSULE,
            "1",
            AFTER_BREAKFAST,
        ),
        _drug(
            "furosemide",
            "フロセミド錠２０ｍｇ",
            "【般】フロセミド錠２０ｍｇ",
            "2139005F1020",
            "100796101",
            "612130001",
            ORAL,
            TABLET,
            "1",
            AFTER_BREAKFAST,
        ),
        _drug(
            "bisoprolol",
            "ビソプロロールフマル酸塩錠２．５ｍｇ",
            "【般】ビソプロロールフマル酸塩錠２．５ｍｇ",
            "2123016F2020",
            "112148001",
            "620007601",
            ORAL,
            TABLET,
            "1",
            AFTER_BREAKFAST,
        ),
        _drug(
            "apixaban",
            "エリキュース錠２．５ｍｇ",
            "【般】アピキサバン錠２．５ｍｇ",
            "3339004F1020",
            "121832901",
            "622183201",
            ORAL,
            TABLET,
            "2",
            AFTER_MEALS_TWICE,
        ),
        _drug(
            "aspirin",
            "バイアスピリン錠１００ｍｇ",
            "【般】アスピリン腸溶錠１００ｍｇ",
            "3399007H1021",
            "106238001",
            "620000033",
            ORAL,
            TABLET,
            "1",
            AFTER_BREAKFAST,
        ),
        _drug(
            "clopidogrel",
            "クロピドグレル錠７５ｍｇ",
            "【般】クロピドグレル錠７５ｍｇ",
            "3399008F1020",
            "117136301",
            "620003201",
            ORAL,
            TABLET,
            "1",
            AFTER_BREAKFAST,
        ),
        _drug(
            "lansoprazole",
            "ランソプラゾールＯＤ錠１５ｍｇ",
            "【般】ランソプラゾール口腔内崩壊錠１５ｍｇ",
            "2329023F1020",
            "114839201",
            "620002526",
            ORAL,
            TABLET,
            "1",
            AFTER_BREAKFAST,
        ),
        _drug(
            "famotidine",
            "ファモチジン錠２０ｍｇ",
            "【般】ファモチジン錠２０ｍｇ",
            "2325003F2020",
            "105316101",
            "620004908",
            ORAL,
            TABLET,
            "2",
            AFTER_MEALS_TWICE,
        ),
        _drug(
            "rebamipide",
            "レバミピド錠１００ｍｇ",
            "【般】レバミピド錠１００ｍｇ",
            "2329021F1021",
            "106431401",
            "620004211",
            ORAL,
            TABLET,
            "3",
            AFTER_MEALS_THRICE,
        ),
        _drug(
            "magnesium_oxide",
            "酸化マグネシウム錠３３０ｍｇ",
            "【般】酸化マグネシウム錠３３０ｍｇ",
            "2344009F1020",
            "104863601",
            "620002115",
            ORAL,
            TABLET,
            "3",
            AFTER_MEALS_THRICE,
        ),
        _drug(
            "zolpidem",
            "ゾルピデム酒石酸塩錠５ｍｇ",
            "【般】ゾルピデム酒石酸塩錠５ｍｇ",
            "1129009F1020",
            "115303001",
            "620005101",
            ORAL,
            TABLET,
            "1",
            BEDTIME,
        ),
        _drug(
            "brotizolam",
            "ブロチゾラム錠０．２５ｍｇ",
            "【般】ブロチゾラム錠０．２５ｍｇ",
            "1124009F1020",
            "104296101",
            "620004001",
            ORAL,
            TABLET,
            "1",
            BEDTIME,
        ),
        _drug(
            "loxoprofen",
            "ロキソプロフェンナトリウム錠６０ｍｇ",
            "【般】ロキソプロフェンナトリウム錠６０ｍｇ",
            "1149019F1020",
            "104866701",
            "620004851",
            DosageForm.AS_NEEDED,
            TABLET,
            "1",
            WHEN_PAINFUL,
        ),
        _drug(
            "loxoprofen_tape",
            "ロキソプロフェンＮａテープ１００ｍｇ",
            "【般】ロキソプロフェンナトリウムテープ１００ｍｇ",
            "2649735S2020",
            "118431301",
            "620008724",
            DosageForm.TOPICAL,
            SHEET,
            "28",
            APPLY,
        ),
        _drug(
            "celecoxib",
            "セレコックス錠１００ｍｇ",
            "【般】セレコキシブ錠１００ｍｇ",
            "1149037F1020",
            "117871201",
            "620007601",
            ORAL,
            TABLET,
            "2",
            AFTER_MEALS_TWICE,
        ),
        _drug(
            "limaprost",
            "リマプロストアルファデクス錠５μｇ",
            "【般】リマプロストアルファデクス錠５μｇ",
            "3399003F1020",
            "108037801",
            "620006801",
            ORAL,
            TABLET,
            "3",
            AFTER_MEALS_THRICE,
        ),
        _drug(
            "tiotropium",
            "スピリーバ２．５μｇレスピマット６０吸入",
            "【般】チオトロピウム臭化物水和物吸入液",
            "2259711G1021",
            "118532601",
            "622004001",
            DosageForm.TOPICAL,
            BOTTLE,
            "1",
            INHALE,
        ),
        _drug(
            "silodosin",
            "シロドシン錠４ｍｇ",
            "【般】シロドシン錠４ｍｇ",
            "2590011F2020",
            "117040701",
            "620003301",
            ORAL,
            TABLET,
            "2",
            AFTER_MEALS_TWICE,
        ),
        _drug(
            "sertraline",
            "セルトラリン錠２５ｍｇ",
            "【般】セルトラリン錠２５ｍｇ",
            "1179046F1020",
            "116161701",
            "620002014",
            ORAL,
            TABLET,
            "1",
            AFTER_BREAKFAST,
        ),
        _drug(
            "montelukast",
            "モンテルカスト錠１０ｍｇ",
            "【般】モンテルカスト錠１０ｍｇ",
            "4490026F2020",
            "114946101",
            "620002707",
            ORAL,
            TABLET,
            "1",
            BEDTIME,
        ),
        _drug(
            "fexofenadine",
            "フェキソフェナジン塩酸塩錠６０ｍｇ",
            "【般】フェキソフェナジン塩酸塩錠６０ｍｇ",
            "4490023F1020",
            "112785201",
            "620003901",
            ORAL,
            TABLET,
            "2",
            AFTER_MEALS_TWICE,
        ),
        _drug(
            "carbocisteine",
            "カルボシステイン錠５００ｍｇ",
            "【般】カルボシステイン錠５００ｍｇ",
            "2233002F2020",
            "103835401",
            "620009801",
            ORAL,
            TABLET,
            "3",
            AFTER_MEALS_THRICE,
        ),
        _drug(
            "acetaminophen",
            "カロナール錠２００ｍｇ",
            "【般】アセトアミノフェン錠２００ｍｇ",
            "1141007F1063",
            "100713701",
            "620003610",
            DosageForm.AS_NEEDED,
            TABLET,
            "2",
            ("1022000000000000", "発熱時"),
        ),
        _drug(
            "oseltamivir",
            "タミフルカプセル７５",
            "【般】オセルタミビルカプセル７５ｍｇ",
            "6250021M1027",
            "113785301",
            "620002720",
            ORAL,
            CAPSULE,
            "2",
            AFTER_MEALS_TWICE,
        ),
        _drug(
            "clarithromycin",
            "クラリスロマイシン錠２００ｍｇ",
            "【般】クラリスロマイシン錠２００ｍｇ",
            "6149003F2020",
            "109027101",
            "620005312",
            ORAL,
            TABLET,
            "2",
            AFTER_MEALS_TWICE,
        ),
        _drug(
            "heparinoid",
            "ヘパリン類似物質油性クリーム０．３％",
            "【般】ヘパリン類似物質油性クリーム０．３％",
            "3339950N1030",
            "105950201",
            "620007902",
            DosageForm.TOPICAL,
            GRAM,
            "50",
            ("2B74000000000000", "１日２回患部に塗布"),
        ),
    )
}

DEMENTIA_DRUGS = frozenset({"donepezil", "memantine"})

# What is prescribed for each chronic condition; one ingredient is picked per group.
TREATMENT = {
    "hypertension": (("amlodipine",), ("candesartan", "azilsartan")),
    "diabetes": (("metformin", "sitagliptin"),),
    "dyslipidemia": (("atorvastatin", "rosuvastatin"),),
    "dementia_alzheimer": (("donepezil", "memantine"),),
    "dementia_vascular": (("donepezil",),),
    "dementia_unspecified": (("donepezil",),),
    "osteoporosis": (("alendronate",), ("eldecalcitol",)),
    "heart_failure": (("furosemide",), ("bisoprolol",)),
    "atrial_fibrillation": (("apixaban",),),
    "cerebral_infarction": (("aspirin", "clopidogrel"),),
    "gerd": (("lansoprazole", "famotidine"),),
    "gastritis": (("rebamipide",),),
    "insomnia": (("zolpidem", "brotizolam"),),
    "knee_oa": (("loxoprofen_tape",), ("celecoxib", "loxoprofen")),
    "lumbar_stenosis": (("limaprost",),),
    "copd": (("tiotropium",), ("carbocisteine",)),
    "constipation": (("magnesium_oxide",),),
    "bph": (("silodosin",),),
    "depression": (("sertraline",),),
    "asthma": (("montelukast",),),
    "allergic_rhinitis": (("fexofenadine",),),
    "atopic_dermatitis": (("heparinoid",),),
    "acute_bronchitis": (("carbocisteine",), ("clarithromycin",)),
    "influenza": (("oseltamivir",), ("acetaminophen",)),
    "pneumonia": (("clarithromycin",),),
}


def _lab(key: str, name: str, jlac10: str, unit: str, low: str | None, high: str | None, specimen: str) -> LabTest:
    specimen_name = {"023": "血清", "019": "全血", "001": "尿", "022": "血漿"}[specimen]
    return LabTest(
        key,
        name,
        jlac10,
        unit,
        None if low is None else Decimal(low),
        None if high is None else Decimal(high),
        specimen,
        specimen_name,
    )


LAB_TESTS = {
    t.key: t
    for t in (
        _lab("tp", "総蛋白", "3A010000002327101", "g/dL", "6.6", "8.1", "023"),
        _lab("alb", "アルブミン", "3A015000002327101", "g/dL", "4.1", "5.1", "023"),
        _lab("ast", "AST", "3B035000002327201", "U/L", "13", "30", "023"),
        _lab("alt", "ALT", "3B045000002327201", "U/L", "7", "23", "023"),
        _lab("cre", "クレアチニン", "3C015000002327101", "mg/dL", "0.46", "1.07", "023"),
        _lab("ua", "尿酸", "3C020000002327101", "mg/dL", "2.6", "7.0", "023"),
        _lab("bun", "尿素窒素", "3C025000002327101", "mg/dL", "8", "20", "023"),
        _lab("glucose", "血糖", "3D010000002227101", "mg/dL", "73", "109", "022"),
        _lab("hba1c", "HbA1c(NGSP)", "3D046000001920402", "%", "4.9", "6.0", "019"),
        _lab("tc", "総コレステロール", "3F050000002327101", "mg/dL", "142", "248", "023"),
        _lab("tg", "中性脂肪", "3F015000002327101", "mg/dL", "40", "149", "023"),
        _lab("hdl", "HDLコレステロール", "3F070000002327101", "mg/dL", "40", "90", "023"),
        _lab("ldl", "LDLコレステロール", "3F077000002327101", "mg/dL", "65", "139", "023"),
        _lab("na", "ナトリウム", "3H010000002324101", "mmol/L", "138", "145", "023"),
        _lab("k", "カリウム", "3H015000002324101", "mmol/L", "3.6", "4.8", "023"),
        _lab("wbc", "白血球数", "2A990000001930101", "10*3/uL", "3.3", "8.6", "019"),
        _lab("hb", "ヘモグロビン", "2A030000001930101", "g/dL", "11.6", "16.8", "019"),
        _lab("plt", "血小板数", "2A050000001930101", "10*4/uL", "15.8", "34.8", "019"),
        _lab("crp", "CRP", "5C070000002306101", "mg/dL", None, "0.14", "023"),
        _lab("bnp", "BNP", "4Q015000002207101", "pg/mL", None, "18.4", "022"),
    )
}

# Labs ordered when following each condition, on top of the basic panel.
MONITORING = {
    "diabetes": ("glucose", "hba1c"),
    "dyslipidemia": ("tc", "tg", "hdl", "ldl"),
    "hypertension": ("na", "k", "cre"),
    "ckd": ("cre", "bun", "k"),
    "heart_failure": ("bnp", "na", "k"),
    "pneumonia": ("wbc", "crp"),
}
BASIC_PANEL = ("tp", "alb", "ast", "alt", "cre", "ua", "wbc", "hb", "plt")

VACCINES = {
    v.key: v
    for v in (
        Vaccine("influenza", "インフルエンザＨＡワクチン", "influenza", "631340QA1000"),
        Vaccine("pneumococcal", "ニューモバックスＮＰ（２３価肺炎球菌ワクチン）", "pneumococcal-23", "631140SA1000"),
        Vaccine("covid19", "新型コロナウイルスワクチン", "covid-19", "631341QA1000"),
    )
}

DEPARTMENTS = {
    "internal": Department("01", "内科"),
    "surgery": Department("10", "外科"),
    "orthopedics": Department("11", "整形外科"),
    "neurosurgery": Department("13", "脳神経外科"),
    "dermatology": Department("20", "皮膚科"),
    "urology": Department("21", "泌尿器科"),
    "ophthalmology": Department("24", "眼科"),
    "psychiatry": Department("26", "精神科"),
    "cardiology": Department("30", "循環器内科"),
    "respiratory": Department("31", "呼吸器内科"),
    "gastroenterology": Department("33", "消化器内科"),
    "emergency": Department("90", "救急科"),
}

CARE_LEVELS = {
    level.code: level
    for level in (
        CareLevel("12", "要支援1"),
        CareLevel("13", "要支援2"),
        CareLevel("21", "要介護1"),
        CareLevel("22", "要介護2"),
        CareLevel("23", "要介護3"),
        CareLevel("24", "要介護4"),
        CareLevel("25", "要介護5"),
    )
}

CARE_SERVICE_TYPES = {
    service.code: service
    for service in (
        CareServiceType("11", "訪問介護"),
        CareServiceType("13", "訪問看護"),
        CareServiceType("15", "通所介護"),
        CareServiceType("16", "通所リハビリテーション"),
        CareServiceType("17", "福祉用具貸与"),
        CareServiceType("21", "短期入所生活介護"),
        CareServiceType("43", "居宅介護支援"),
        CareServiceType("51", "介護福祉施設サービス"),
        CareServiceType("A5", "通所型サービス（総合事業）"),
    )
}

BARTHEL_ITEMS = tuple(BARTHEL_SCORES)
BARTHEL_MAXIMA = tuple(max(scores) for scores in BARTHEL_SCORES.values())
