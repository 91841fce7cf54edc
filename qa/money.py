"""Sums of money: whether a question asks for one, and whether an answer span names one.

A question that asks what something cost, earned or lost ("计划投资多少钱？",
"门票收入是多少？", "How much does she earn?") is answered by a sum of money.  When the
reader's best span for it names no currency ("50吨", "4.6万人次", "8间"), the article gives
a figure for something else: answer() then says "not found" rather than show a number of
another kind (a setting chosen on dev, ``answering.money``).

The currency units come from the Unicode CLDR (through Babel): every currency's name in
simplified and traditional Chinese without its country, and the currency symbols.  What counts
as a question about money is a short list of the nouns such questions name (资金, 收入, 损失,
费, 价格 …); a question about a rate or a share (利率, 比例, 增长) or a count (多少架飞机) is
not one.
"""

from __future__ import annotations

import re
from functools import cache

# Spoken and written units that CLDR's names do not end in (块钱, 人民币 written 元, 美金).
_SPOKEN = ("元", "圆", "圓", "块", "塊", "钱", "錢", "币", "幣", "美金", "￥")
# Nouns whose amount is a sum of money, in simplified and traditional characters.
_NOUNS = (
    "资金|資金|投资|投資|耗资|耗資|斥资|斥資|融资|融資|资本|資本|金额|金額|总额|總額|收入|损失|損失|奖金|獎金|补贴|補貼|"
    "补助|補助|拨款|撥款|贷款|貸款|善款|捐款|费用|費用|经费|經費|花费|花費|花了|费|費|价格|價格|价钱|價錢|价值|價值|价|價|"
    "市值|产值|產值|罚金|罰金|罚款|罰款|赔偿|賠償|赔款|賠款|工资|工資|年薪|月薪|薪酬|薪水|预算|預算|营收|營收|营业额|營業額|"
    "销售额|銷售額|利润|利潤|税收|稅收|成本|造价|造價|租金|钱|錢"
)
# Verbs a bare 费 ends without being a sum (浪费了多少粮食, 耗费多少精力, 费了多少口舌).
_NOT_FEE = "(?<![浪耗])"
# What may stand between the noun and 多少: a verb of amount, a measure adverb (是, 一共, 降到了).
_LINK = "[是为為有达達值约約共计計合要需能可将將会會了到降增减減大概总總一]{0,4}"
# The money a question may name after 多少 (元 not as in 元素, 元件, 元旦, 元首, 元朝, 元代).
_SUM_WORDS = r"元(?![素件旦首朝代])|圆|圓|块|塊|钱|錢"
# After "noun … 多少" the question ends, or names the money (多少元, 多少钱): 损失了多少架飞机 and
# 浪费了多少粮食 ask for something else.
_THEN = rf"(?=[？?，,。！!\s]|$|(?:万|萬|亿|億)?(?:{_SUM_WORDS}))"
# Measure words of things and people: "多少(万)人" counts people, even before a noun of money.
_COUNTED = ("(?![万萬亿億]?(?:个|個|名|人|家|项|項|座|台|辆|輛|次|户|戶|亩|畝|吨|噸|件|间|間|套|张|張|册|冊|种|種|"
            "条|條|所|位|批|架|艘|头|頭|只|隻|匹|棵|株|本|部|片|栋|棟|层|層|场|場|届|屆|例|起|枚|颗|顆|支|把|份|篇|笔|筆|"
            "天|年|月|日|周|週|小时|小時|时|時|分|秒|倍|公|平|立|米|千米|升|克|斤|里))")
# Between 多少 and a noun of money at the end of the question, only modifiers (直接经济, 抗旱救灾),
# not a verb of receiving (多少企业获得补贴 counts firms).
_MODIFIERS = "[^，,。？?\\s获獲得享受领領取拿申发發给給到有是为為]{0,6}"
_SAYS_UNIT = re.compile(rf"(?:多少|几|幾)(?:十|百|千|万|萬|亿|億)*(?:{_SUM_WORDS}|美元|港元|欧元|歐元|美金|日元|英镑|英鎊)")
_ASKS = re.compile(
    rf"{_NOT_FEE}(?:{_NOUNS}){_LINK}多少{_THEN}|多少{_COUNTED}{_MODIFIERS}(?:{_NOUNS})[？?]?$|"
    r"\bhow much (?:money|(?:do|does|did|will|would|is|was|are|were)\b.{1,40}\b(?:cost|earn|pay|spend|invest|raise)\b|"
    r"(?:is|was|are|were) the (?:price|fee|cost|fine|budget|salary|bill|rent|prize|bonus|subsidy)\b)|"
    r"\bwhat (?:is|was|are|were) the (?:price|fee|cost|fine|budget|salary|rent|prize money|subsidy)\b",
    re.I,
)
# Its answer is a percentage or a multiple, not a sum.
_SHARE = re.compile(r"[%％‰]|百分之|千分之|百分点")
_RATE = re.compile(r"比例|比重|占|佔|百分|率|利息|增长|增長|增幅|上浮|下浮|同比|环比|環比|倍|\bpercent|\brate\b", re.I)
# What a bare number may carry before its unit: a magnitude and an approximation (1200余万元).
_MAGNITUDE = re.compile(r"\s*[十百千万萬亿億余餘多来來]*\s*")
_BARE_SUM = re.compile(r"[\d一二两兩三四五六七八九十][\d.,零〇一二两兩三四五六七八九十百千]*\s*[万萬亿億]+[余餘多]?$")


def asks_money(question: str) -> bool:
    """Whether ``question`` asks for a sum of money (not a rate, a share or a count)."""
    if _SAYS_UNIT.search(question):
        return True
    return bool(_ASKS.search(question)) and not _RATE.search(question)


@cache
def _currency() -> re.Pattern[str]:
    """Any currency unit or symbol.

    The units come from CLDR's currency names in simplified and traditional Chinese, each
    without the country it starts with (阿根廷比索 → 比索, 港元 stays whole); a one-character
    unit counts when at least three currencies use it (元, 镑, 盾), so that a stray 尼 or 金
    does not.  Supranational and test codes (X…) are left out.  English names are not used:
    the documents are Chinese; ``$`` and the other symbols are.
    """
    from babel import Locale

    words: set[str] = set(_SPOKEN)
    symbols: set[str] = set()
    for loc in ("zh", "zh_Hant"):
        locale = Locale.parse(loc)
        countries = sorted(locale.territories.values(), key=len, reverse=True)
        units: dict[str, int] = {}
        for code, name in locale.currencies.items():
            name = re.sub(r"\s*[（(].*$", "", name).strip()
            if code.startswith("X") or not re.fullmatch(r"[\u4e00-\u9fff]+", name):
                continue
            country = next((c for c in countries if name.startswith(c) and len(name) > len(c)), "")
            unit = name[len(country) :]
            units[unit] = units.get(unit, 0) + 1
        words.update(
            u for u, n in units.items()
            if (len(u) >= 2 and not any(u in c or c in u for c in countries)) or (len(u) == 1 and n >= 3)
        )
        symbols.update(s for s in locale.currency_symbols.values() if not s.isalpha())
    alternatives = sorted(words | symbols, key=len, reverse=True)
    codes = r"(?<![A-Za-z])(?:RMB|CNY|USD|HKD|MOP|TWD|EUR|GBP|JPY)(?![A-Za-z])"
    return re.compile("|".join(re.escape(w) for w in alternatives) + "|" + codes, re.I)


def names_money(span: str, before: str = "", after: str = "") -> bool:
    """Whether ``span`` is a sum of money.

    It names a currency; or its number is followed by one (``50`` before ``万元``, ``1200`` before
    ``余万元``) or preceded by one (``人民币`` or ``$`` before ``5万``); or it is a bare sum in 万 or
    亿 that no other unit follows (``总投资3亿，``: news often leaves the 元 out).  A share of a sum
    (``12％`` for 华沙生产多少国民收入) counts too: the question may ask for that.
    """
    cur = _currency()
    if cur.search(span) or _SHARE.search(span):
        return True
    magnitude = _MAGNITUDE.match(after).end()
    rest = after[magnitude:]
    if cur.match(rest) or any(before[m.end() :].strip() == "" for m in cur.finditer(before)):
        return True
    bare = span.strip() + after[:magnitude].strip()
    return bool(_BARE_SUM.search(bare)) and not re.match(r"[\u4e00-\u9fff]", rest)


def money_at(text: str, start: int, end: int) -> bool:
    """:func:`names_money` for the span ``text[start:end]``, with the characters around it."""
    return names_money(text[start:end], text[max(0, start - 4) : start], text[end : end + 4])
