"""The words Chinese institution names are built from: institution types, universities, chains.

Each table maps what people write to one canonical form, so 人医 and 人民医院, 川大 and 四川大学,
妇保 and 妇幼保健院 compare equal.
"""

from __future__ import annotations

from domain.numerals import small_number

# Institution types, as written at the end of a name → canonical type. Longest match wins.
KINDS: dict[str, str] = {
    "社区卫生服务中心": "社区卫生服务中心",
    "社区卫生服务站": "社区卫生服务站",
    "卫生服务中心": "社区卫生服务中心",
    "中西医结合医院": "中西医结合医院",
    "妇幼保健院": "妇幼保健院",
    "妇幼保健所": "妇幼保健院",
    "妇幼保健中心": "妇幼保健院",
    "妇保院": "妇幼保健院",
    "妇保": "妇幼保健院",
    "妇幼": "妇幼保健院",
    "妇产科医院": "妇产医院",
    "妇产医院": "妇产医院",
    "妇女儿童医院": "妇女儿童医院",
    "儿童医院": "儿童医院",
    "口腔医院": "口腔医院",
    "肿瘤医院": "肿瘤医院",
    "眼科医院": "眼科医院",
    "骨科医院": "骨科医院",
    "胸科医院": "胸科医院",
    "传染病医院": "传染病医院",
    "精神卫生中心": "精神卫生中心",
    "康复医院": "康复医院",
    "口腔": "口腔医院",
    "肿瘤": "肿瘤医院",
    "眼科": "眼科医院",
    "妇儿": "妇女儿童医院",
    "中医医院": "中医院",
    "中医院": "中医院",
    "中医": "中医院",
    "人民医院": "人民医院",
    "人医": "人民医院",
    "中心医院": "中心医院",
    "总医院": "总医院",
    "卫生院": "卫生院",
    "医院": "医院",
    "院": "医院",
    "门诊部": "门诊部",
    "诊所": "诊所",
    "大药房": "药房",
    "药房": "药房",
    "药店": "药房",
    "超市": "超市",
    "便利店": "便利店",
    "购物广场": "超市",
    "商场": "商场",
}
KIND_WORDS: tuple[str, ...] = tuple(sorted(KINDS, key=len, reverse=True))

# A name that states no type means a general hospital (富阳 → 富阳区人民医院, 华西 → 华西医院).
GENERAL = frozenset({"医院", "人民医院"})
STORES = frozenset({"药房", "超市", "便利店", "商场"})
# Store types that may stand in the middle of a name: brand + type + [city] + branch + 店.
STORE_WORDS: tuple[str, ...] = ("购物广场", "大药房", "便利店", "超市", "药房", "药店", "商场")

# Universities (and medical schools) whose affiliated hospitals reps name by the school's short form.
# full name → (short forms, province)
UNIVERSITIES: dict[str, tuple[tuple[str, ...], str]] = {
    "浙江大学": (("浙大",), "浙江"),
    "四川大学": (("川大",), "四川"),
    "中山大学": (("中大",), "广东"),
    "中南大学": (("中南",), "湖南"),
    "复旦大学": (("复旦",), "上海"),
    "上海交通大学": (("上海交大", "上交大", "交大"), "上海"),
    "西安交通大学": (("西安交大", "西交大", "交大"), "陕西"),
    "北京大学": (("北大",), "北京"),
    "清华大学": (("清华",), "北京"),
    "首都医科大学": (("首医大", "首医"), "北京"),
    "南京大学": (("南大",), "江苏"),
    "南京医科大学": (("南医大",), "江苏"),
    "东南大学": (("东大",), "江苏"),
    "苏州大学": (("苏大",), "江苏"),
    "武汉大学": (("武大",), "湖北"),
    "华中科技大学": (("华科", "华中科大"), "湖北"),
    "山东大学": (("山大",), "山东"),
    "青岛大学": (("青大",), "山东"),
    "郑州大学": (("郑大",), "河南"),
    "吉林大学": (("吉大",), "吉林"),
    "中国医科大学": (("中国医大",), "辽宁"),
    "哈尔滨医科大学": (("哈医大",), "黑龙江"),
    "重庆医科大学": (("重医大", "重医"), "重庆"),
    "温州医科大学": (("温医大", "温医"), "浙江"),
    "福建医科大学": (("福医大", "福建医大"), "福建"),
    "厦门大学": (("厦大",), "福建"),
    "南昌大学": (("南昌大",), "江西"),
    "安徽医科大学": (("安医大",), "安徽"),
    "广州医科大学": (("广医大", "广医"), "广东"),
    "南方医科大学": (("南方医",), "广东"),
    "暨南大学": (("暨大",), "广东"),
    "广西医科大学": (("广西医大",), "广西"),
    "昆明医科大学": (("昆医大", "昆医"), "云南"),
    "贵州医科大学": (("贵医大", "贵医"), "贵州"),
    "西南医科大学": (("西南医大",), "四川"),
    "兰州大学": (("兰大",), "甘肃"),
    "新疆医科大学": (("新疆医大",), "新疆"),
    "天津医科大学": (("天医大",), "天津"),
    "河北医科大学": (("河北医大",), "河北"),
    "山西医科大学": (("山西医大",), "山西"),
    "内蒙古医科大学": (("内蒙古医大",), "内蒙古"),
    "大连医科大学": (("大医",), "辽宁"),
    "宁夏医科大学": (("宁医大",), "宁夏"),
    "海南医学院": (("海医",), "海南"),
    "徐州医科大学": (("徐医",), "江苏"),
    "南通大学": (("通大",), "江苏"),
    "宁波大学": (("宁大",), "浙江"),
    "杭州师范大学": (("杭师大",), "浙江"),
    "同济大学": ((), "上海"),
    "上海中医药大学": (("上中医",), "上海"),
    "浙江中医药大学": (("浙中医",), "浙江"),
}
# A short form several universities share (交大) stands for all of them, joined by ORG_SEP; the
# resolver then matches any of them (and asks when more than one is a customer).
ORG_SEP = "|"
UNIVERSITY_ALIASES: dict[str, str] = {}
for _full, (_shorts, _province) in UNIVERSITIES.items():
    UNIVERSITY_ALIASES[_full] = _full
    for _short in _shorts:
        _known = UNIVERSITY_ALIASES.get(_short)
        UNIVERSITY_ALIASES[_short] = f"{_known}{ORG_SEP}{_full}" if _known else _full
UNIVERSITY_WORDS: tuple[str, ...] = tuple(sorted(UNIVERSITY_ALIASES, key=len, reverse=True))
UNIVERSITY_PROVINCE: dict[str, str] = {full: province for full, (_, province) in UNIVERSITIES.items()}

# Store chains (brand as reps write it); the resolver also learns brands from indexed names
# (whatever stands before 超市/药房/… in a customer's name).
CHAINS: tuple[str, ...] = (
    "永辉",
    "华润万家",
    "沃尔玛",
    "大润发",
    "家乐福",
    "物美",
    "联华",
    "世纪联华",
    "盒马",
    "步步高",
    "人人乐",
    "新华都",
    "朴朴",
    "老百姓",
    "一心堂",
    "大参林",
    "益丰",
    "海王星辰",
    "国大",
    "漱玉平民",
    "九州通",
    "华东医药",
    "全家",
    "罗森",
    "美宜佳",
)

DIGITS = "〇零一二三四五六七八九十"


def chinese_number(text: str) -> int | None:
    """一 → 1, 十二 → 12, 二十 → 20, 12 → 12; None when ``text`` is not a small number."""
    return small_number(text)
