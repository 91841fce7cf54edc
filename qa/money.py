"""Sums of money: whether a question asks for one, and whether an answer span names one.

A question that asks what something cost, earned or lost ("计划投资多少钱？",
"门票收入是多少？", "How much does she earn?") is answered by a sum of money.  When the
reader's best span for it names no currency ("50吨", "4.6万人次", "8间"), the article gives
a figure for something else: answer() then says "not found" rather than show a number of
another kind (a setting chosen on dev, ``answering.money``).

The currency names come from the Unicode CLDR (through Babel): every currency's name in
simplified and traditional Chinese and in English, and its symbols.  What counts as a
question about money is a short list of the nouns such questions name (资金, 收入, 损失, 费,
价格 …); a question about a rate or a share (利率, 比例, 增长) is not one, since its answer
is a percentage.
"""

from __future__ import annotations

import re
from functools import cache

# Spoken and written units that CLDR's names do not end in (块钱, 人民币 written 元).
_SPOKEN = ("元", "圆", "圓", "块", "塊", "钱", "錢", "币", "幣")
# Nouns whose amount is a sum of money, in simplified and traditional characters.
_NOUNS = (
    "资金|資金|投资|投資|金额|金額|收入|损失|損失|奖金|獎金|补贴|補貼|补助|補助|费用|費用|费|費|价格|價格|价钱|價錢|"
    "价|價|罚金|罰金|罚款|罰款|工资|工資|薪酬|薪水|预算|預算|营收|營收|营业额|營業額|销售额|銷售額|利润|利潤|税收|稅收|"
    "成本|造价|造價|租金|花费|花費|花了|赔偿|賠償|赔款|賠款|经费|經費|捐款|钱|錢"
)
# What may stand between the noun and 多少: a verb of amount, a measure adverb (是, 一共, 降到了).
_LINK = "[是为為有达達约約共计計合要需能可将將会會了到降增减減大概总總一]{0,4}"
# A 多少 followed by a unit that is not money asks for that unit (损失了多少平方公里).
_OTHER_UNIT = ("(?![个個名人家项項座台辆輛次户戶亩畝吨噸件间間套张張册冊种種条條所位批天年月日周週时時分秒倍"
               "公平立米升克斤里])")
_ASKS = re.compile(
    r"多少(?:万|萬|亿|億)?(?:元|圆|圓|块|塊|钱|錢|美元|港元|欧元|歐元)|几(?:块|塊)钱|"
    rf"(?:{_NOUNS}){_LINK}多少{_OTHER_UNIT}|多少{_OTHER_UNIT}[^，,。？?\s]{{0,6}}(?:{_NOUNS})[？?]?$|"
    r"\bhow much (?:money|(?:do|does|did|will|would|is|was|are|were)\b.{1,40}\b(?:cost|earn|pay|spend|invest|raise)|"
    r"is the (?:price|fee|cost|fine|budget|salary))",
    re.I,
)
_SAYS_UNIT = re.compile(r"多少(?:万|萬|亿|億)?(?:元|圆|圓|块|塊|钱|錢|美元|港元|欧元|歐元)|几(?:块|塊)钱")
# Its answer is a percentage or a multiple, not a sum.
_SHARE = re.compile(r"[%％‰]|百分之|千分之|百分点")
_RATE = re.compile(r"比例|比重|占|佔|百分|率|利息|增长|增長|增幅|上浮|下浮|同比|环比|環比|倍|\bpercent|\brate\b", re.I)


def asks_money(question: str) -> bool:
    """Whether ``question`` asks for a sum of money (not a rate, a share or a count)."""
    if _SAYS_UNIT.search(question):
        return True
    return bool(_ASKS.search(question)) and not _RATE.search(question)


@cache
def _currency() -> re.Pattern:
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
    return re.compile("|".join(re.escape(w) for w in alternatives) + r"|\b(?:RMB|USD|HKD|MOP|EUR)\b", re.I)


def names_money(span: str, before: str = "", after: str = "") -> bool:
    """Whether ``span`` is a sum of money: it names a currency, or its number is followed by
    one (``50`` before ``万元``) or preceded by a symbol (``$`` before ``3``).  A share of a sum
    (``12％`` for 华沙生产多少国民收入) counts too: the question may ask for that."""
    cur = _currency()
    if cur.search(span) or _SHARE.search(span):
        return True
    tail = re.match(r"\s*[万萬亿億千百]*\s*", after)
    rest = after[tail.end() if tail else 0 :]
    head = cur.match(rest)
    return bool(head) or bool(re.search(r"(?:[$¥€£]|US\$|HK\$|NT\$|MOP\$?)\s*$", before))


def money_at(text: str, start: int, end: int) -> bool:
    """:func:`names_money` for the span ``text[start:end]``, with the characters around it."""
    return names_money(text[start:end], text[max(0, start - 4) : start], text[end : end + 4])
