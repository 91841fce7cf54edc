"""Typed answer spans: what a question asks for, and where it is in a sentence.

Two tools work together (as in classic reading-comprehension systems):

* typed candidates: numbers with their measure words, dates, times, places,
  people, organisations, quoted or 《titled》 names and enumerations, found with
  patterns and jieba's part-of-speech tags;
* alignment: the words a question shares with the sentence surround the answer
  (the question is the sentence with the answer replaced by a wh-word), which
  both ranks candidates and, when no typed span fits, yields the gap itself.

Every span returned is a literal slice ``sentence[start:end]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .text import Tokenizer, normalize

# ------------------------------------------------------------------ question types

# (type, pattern) in priority order; Chinese and English.
_TYPE_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("time", re.compile(r"几点|几时几分|什么时刻|\bwhat time\b|\bat what time\b", re.I)),
    ("date", re.compile(
        r"哪天|哪一天|哪日|什么时候|何时|几月几日|几号|哪年|哪一年|哪些年份?|什么日子|日期|什么时间|"
        r"\bwhen\b|\bwhat date\b|\bwhich (day|date|year)\b|\bwhat (day|year)\b|\bwhich years\b", re.I)),
    ("list", re.compile(
        r"哪些|哪[两二三四五六七八九几]+[个项种类方面者位家支条]?|有什么|\bwhich (two|three|four|five)\b|"
        r"\bwhat (are|were) the\b|\blist\b", re.I)),
    ("number", re.compile(
        r"多少|几[个名场次项期支家处份件本届位所座条台辆架篇种户批天年月人倍大]|第几|"
        r"\bhow (many|much)\b|\bwhat number\b|\bnumber of\b|\bhow long\b", re.I)),
    ("person", re.compile(
        r"谁|哪位|哪个人|什么人|叫什么名字|姓名|哪名|\bwho\b|\bwhom\b|\bwhose\b|\bwhich (reporter|person|"
        r"correspondent|staff|worker|journalist|photographer)\b", re.I)),
    ("org", re.compile(
        r"哪[个家支一]?(?:单位|部门|机构|组织|公司|团队|队伍|服务队|支队|社团|协会|队|团)|哪个(?:局|委|办)|"
        r"什么(?:单位|部门|机构|组织)|\bwhich (organi[sz]ation|department|unit|team|agency|company|"
        r"office|bureau|group|body|district)\b|\bwhat (organi[sz]ation|department|unit|agency|company|"
        r"office|bureau|team|district)\b", re.I)),
    ("place", re.compile(
        r"哪里|在哪|哪儿|什么地方|何地|何处|地点|哪所|哪个(?:地方|小区|社区|广场|学校|园区|场所|城市|区|县|街道)|"
        r"\bwhere\b|\bwhich (place|venue|school|square|site|community|location)\b|\bwhat (place|venue|location)\b",
        re.I)),
    ("reason", re.compile(r"为什么|为何|原因|目的|\bwhy\b|\bfor what purpose\b", re.I)),
    ("name", re.compile(
        r"叫什么|名称|名字|全称|简称|称号|名叫|什么主题|为主题|主题是|什么品牌|什么称号|什么口号|什么标语|什么活动|什么制度|"
        r"什么机制|什么模式|什么书|什么图册|哪本|哪部|什么工程|什么会|什么日|什么节|什么平台|什么载体|"
        r"\bname\b|\bcalled\b|\btheme\b|\btitle\b|\bslogan\b|\bmotto\b|\bbrand\b|\bwhat (event|activity|"
        r"system|mechanism|model|mode|project|book|campaign)\b", re.I)),
    ("action", re.compile(r"做什么|干什么|做了什么|做了哪|做些什么|\bwhat did\b|\bwhat do\b|\bwhat does\b", re.I)),
    ("manner", re.compile(r"怎样|怎么|如何|哪种方式|什么方式|什么形式|\bhow\b", re.I)),
    ("thing", re.compile(r"什么|啥|哪|\bwhat\b|\bwhich\b", re.I)),
]

# Wh-phrases whose position splits a Chinese question into left and right context.
_WH_RE = re.compile(
    r"(?:是|要|做了|干了|做|干|有)?(?:多少|几[点个名场次项期支家处份件本届位所座条台辆架篇种户批天年月人倍大]?|哪[一个些位里儿天年所家支项种部本]?"
    r"[个位家支项种部本所]?(?:单位|部门|机构|组织|公司|小区|社区|学校|地方)?|谁|什么(?:时候|地方|人)?|何时|何地|"
    r"怎样|怎么|如何|为什么|为何)"
)



def question_type(question: str) -> str:
    """What the question asks for: time, date, list, number, person, org, place, reason,
    name, action, manner, thing (a sentence or clause answers the last four), or none
    when there is no question word at all."""
    for name, pat in _TYPE_PATTERNS:
        if pat.search(question):
            # "叫什么名字" asks for a person only when the question is about people.
            if name == "person" and re.search(r"叫什么名字|姓名", question) and not re.search(
                r"人|员|者|长|书记|主任|谁|记者|专家", question
            ):
                return "name"
            return name
    return "none"


_QROLE_RE = re.compile(
    r"([\u4e00-\u9fff]{0,4}?(?:总经理|经理|书记|校长|院长|主任|局长|区长|市长|县长|队长|团长|主席|记者|通讯员|"
    r"摄影师?|作者|专家|工作人员|负责人|讲解员|主持人|队员|成员|代表))(?:是谁|叫什么|姓什么|是哪位|有哪些|是)"
)


_ENGLISH_ROLES = (
    ("correspondent", "通讯员"), ("reporter", "记者"), ("journalist", "记者"), ("staff", "工作人员"),
    ("worker", "工作人员"), ("expert", "专家"), ("secretary", "书记"), ("director", "主任"),
    ("manager", "经理"), ("principal", "校长"), ("mayor", "市长"),
)


def question_role(question: str) -> str:
    """The role a person question asks about (…的总经理是谁 → 总经理), or ""."""
    if re.search(r"拍摄|摄影|照片|图片|拍的|photo", question, re.I):
        return "摄影"
    for english, role in _ENGLISH_ROLES:
        if re.search(rf"\b{english}", question, re.I):
            return role
    m = _QROLE_RE.search(question)
    if not m:
        m = re.search(r"(?:哪位|哪个|哪名)(记者|通讯员|工作人员|专家|摄影师?)", question)
    return m.group(1) if m else ""


def _role_matches(q_role: str, c_role: str) -> bool:
    q_role = q_role.replace("本报", "")
    c_role = c_role.replace("本报", "")
    return bool(c_role) and (q_role.endswith(c_role) or c_role.endswith(q_role[-2:]) or
                             (q_role.startswith("摄影") and c_role == "摄影"))


def _nounlike(word: str, flag: str) -> bool:
    """A content word: two or more characters, not a verb, adverb, particle, number…"""
    return len(word) >= 2 and not flag.startswith(("v", "d", "p", "c", "u", "r", "y", "e", "o", "m", "q", "ad"))


def counted_noun(question: str, tok: Tokenizer) -> list[str]:
    """The words of what a number question counts: 多少架无人机 → [无人机], “百姓名嘴”共有多少名 → [百姓名嘴]."""
    m = re.search(r"(?:多少|几)[个名场次项期支家处份件本届位所座条台辆架篇种户批天年月人倍大间]?次?", question)
    if not m:
        return []
    words = []
    for w, f in tok.pos(question[m.end() : m.end() + 10]):
        if not _nounlike(w, f) or not re.fullmatch(r"[\u4e00-\u9fff]+", w):
            break
        words.append(w)
    if not words:  # "X共有多少名": X is what is counted
        before = re.split(r"[，,。；;：:]", question[: m.start()])[-1]
        before = re.sub(r"(?:一共|总共|共计|共|总|合计)?(?:有|是|为|达到?)?$", "", before).strip("“”\"《》 ")
        pos = [(w, f) for w, f in tok.pos(before) if w.strip("“”\"《》 ")]
        if pos and _nounlike(*pos[-1]) and re.fullmatch(r"[\u4e00-\u9fff]+", pos[-1][0]):
            words.append(pos[-1][0])
    return words


def question_unit(question: str) -> str:
    """The measure word a number question asks for (多少名 → 名), or ""."""
    m = re.search(r"(?:多少|几)([个名场次项期支家处份件本届位所座条台辆架篇种户批天年月人倍大]次?)", question)
    return m.group(1) if m else ""


# ------------------------------------------------------------------ candidates


@dataclass(frozen=True)
class Candidate:
    start: int
    end: int
    text: str
    kind: str
    prior: float = 0.0  # type-specific plausibility in [0, 1]
    role: str = ""  # for people: the role word before the name (记者, 工作人员, …)


_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿"
_UNITS = (
    "场次|人次|万人|余人|小时|分钟|公里|平方米|场|次|名|人|个|项|期|支|家|处|份|件|本|届|位|所|座|条|台|辆|架|篇|种|户|批|"
    "天|年|元|万元|亿元|米|吨|间|栋|片区|余项|大"
)
_NUM_RE = re.compile(
    rf"(?<![\d.])(\d+(?:[.,]\d+)*(?:\s*[万亿])?(?:余|多)?(?:[万亿])?)\s*((?:{_UNITS}))?(?![\d月日号])"
)
_CN_NUM_RE = re.compile(rf"(?<![{_CN_DIGITS}])([{_CN_DIGITS}]{{1,4}}(?:余|多)?)((?:{_UNITS}))")
_ORDINAL_RE = re.compile(rf"第[\d{_CN_DIGITS}]+[届次期批个名]?")
_DATE_RES = [
    re.compile(r"\d{4}年\d{1,2}月\d{1,2}[日号]"),
    re.compile(r"\d{1,2}月\d{1,2}[日号]"),
    re.compile(r"\d{4}年\d{1,2}月"),
    re.compile(r"\d{4}\s*[—\-–~～至到]\s*\d{4}(?:年)?"),
    re.compile(r"\d{4}年"),
    re.compile(r"每个?月\d{1,2}[日号]"),
    re.compile(r"(?:今年|去年|明年)?(?:清明节|春节|国庆节?|中秋节?|端午节?|元旦|五一|夏季|秋季|冬季|春季)(?:期间|当天|前后)?"),
    re.compile(r"今年以来|近日|连日来|节日当天|当天"),
]
_TIME_RE = re.compile(r"(?:上午|下午|晚上|凌晨|中午)?\d{1,2}[点时:：](?:\d{1,2}分?)?")
_QUOTE_RE = re.compile(r"“[^“”]{1,60}”|《[^《》]{1,60}》|「[^「」]{1,60}」|『[^『』]{1,60}』|\"[^\"]{1,60}\"")
_PLACE_SUFFIX = (
    "广场|中学|小学|大学|学校|园区|基地|小区|社区|大剧院|剧院|中心|街道|村|镇|乡|市|区|县|省|公园|馆|校园|现场|"
    "新城|车站|街|路|机关|企业|军营|农村|田间地头|台区"
)
_PLACE_RE = re.compile(
    rf"(?:在|于|到|来到|共聚|深入|赴|前往|走进|位于)((?:[^，。；、“”\s在于到]{{1,20}}?)(?:{_PLACE_SUFFIX}))"
    rf"(?=[，。；、\s]|举行|举办|开展|进行|召开|拉开帷幕|启动|设立|作业|参观|实践|宣讲|$|的|内|中|里|上)"
)
_ORG_SUFFIX = (
    "委员会|联合会|宣讲团|服务队|志愿服务队|研究室|宣传部|组织部|供电公司|巡特警支队|支队|大队|中队|党支部|党委|"
    "公司|中心|协会|学会|政府|分区|街道|社区|妇联|人社局|局|委|办|部|队|团|院|所|站|室|会"
)
_ORG_BAD_TOKENS = {"工作", "活动", "会议", "大会", "机制", "制度"}
_ROLE_RE = re.compile(r"(本报记者|记者|通讯员|工作人员|队员|书记|主任|局长|专家|主持人|讲解员|负责人)[\s:：]*")
_NAME_AFTER_ROLE = re.compile(r"([\u4e00-\u9fff]{2,3})(?=[\s)）对在向是等和与及的了将把被为从到，。、]|$)")
_PHOTOGRAPHER_RE = re.compile(r"([\u4e00-\u9fff]{2,3})\s*摄")
_ENUM_ITEM = r"(?:“[^“”]{1,20}”|《[^《》]{1,30}》|[^，。；、：:“”《》\s]{1,16})"
_ENUM_RE = re.compile(rf"{_ENUM_ITEM}(?:、{_ENUM_ITEM})+")
_TRIM_LEAD_FLAGS = ("v", "d", "p", "c", "u", "r", "ad", "vd")
_TRIM_TAIL = "这等些的了其"


def _number_candidates(s: str) -> list[Candidate]:
    out = []
    for m in _NUM_RE.finditer(s):
        after = s[m.end() : m.end() + 1]
        if after and after in "年月日号点时分":
            continue
        if m.start() > 0 and s[m.start() - 1] in "第":
            continue
        prior = 0.9 if m.group(2) else 0.6
        out.append(Candidate(m.start(), m.end(), s[m.start() : m.end()].strip(), "number", prior))
    for m in _CN_NUM_RE.finditer(s):
        if m.start() > 0 and s[m.start() - 1] in "第":
            continue
        out.append(Candidate(m.start(), m.end(), m.group(0), "number", 0.5))
    for m in _ORDINAL_RE.finditer(s):
        out.append(Candidate(m.start(), m.end(), m.group(0), "ordinal", 0.5))
    return out


def _date_candidates(s: str) -> list[Candidate]:
    out: list[Candidate] = []
    taken: list[tuple[int, int]] = []
    for rank, pat in enumerate(_DATE_RES):
        for m in pat.finditer(s):
            if any(a <= m.start() < b or a < m.end() <= b for a, b in taken):
                continue
            taken.append((m.start(), m.end()))
            out.append(Candidate(m.start(), m.end(), m.group(0), "date", max(0.2, 1.0 - 0.1 * rank)))
    return out


def _time_candidates(s: str) -> list[Candidate]:
    return [Candidate(m.start(), m.end(), m.group(0), "time", 0.9) for m in _TIME_RE.finditer(s)]


def _place_candidates(s: str, tok: Tokenizer) -> list[Candidate]:
    out = [Candidate(m.start(1), m.end(1), m.group(1), "place", 0.9) for m in _PLACE_RE.finditer(s)]
    pos = 0
    for word, flag in tok.pos(s):
        if flag == "ns" and len(word) >= 2:
            out.append(Candidate(pos, pos + len(word), word, "place", 0.4))
        pos += len(word)
    return out


def _tagged(s: str, tok: Tokenizer) -> list[tuple[int, int, str, str]]:
    out, pos = [], 0
    for word, flag in tok.pos(s):
        out.append((pos, pos + len(word), word, flag))
        pos += len(word)
    return out


_NOUNISH = ("n", "nt", "ns", "nz", "j", "b", "an", "ng", "l", "vn", "nr", "eng", "m", "q", "x")


def _extend_left(tags: list[tuple[int, int, str, str]], i: int, max_len: int = 16, lists: bool = False) -> int:
    """Start offset of the noun phrase that ends with token ``i`` (stops at verbs, particles, punctuation).

    With ``lists``, enumerated modifiers joined by 、 belong to the phrase (河道巡查、夜巡夜查行动).
    """
    j = i
    end = tags[i][1]
    while j > 0:
        _pa, _pb, pw, pf = tags[j - 1]
        joiner = lists and pw == "、" and j > 1 and tags[j - 2][3].startswith(_NOUNISH)
        if not joiner and (not pf.startswith(_NOUNISH) or not re.fullmatch(r"[\u4e00-\u9fffA-Za-z0-9+·]+", pw)):
            break
        if end - tags[j - 1][0] > max_len:
            break
        j -= 1
    return tags[j][0]


def _org_candidates(s: str, tok: Tokenizer) -> list[Candidate]:
    tags = _tagged(s, tok)
    out = []
    suffix = re.compile(rf"(?:{_ORG_SUFFIX})$")
    for i, (_a, b, w, f) in enumerate(tags):
        if not suffix.search(w) or w in _ORG_BAD_TOKENS or f.startswith("v") and len(w) < 2:
            continue
        start = _extend_left(tags, i, 24)
        text = s[start:b]
        if 2 <= len(text) <= 24:
            out.append(Candidate(start, b, text, "org", 0.8 if len(text) >= 3 else 0.5))
    # 辽源市委 inside 辽源市委研究室: keep the whole name.
    return [c for c in out if not any(o.start == c.start and o.end > c.end for o in out)]


_HEAD_RE = re.compile(r"(?:哪(?![里儿])[一]?[个所支家位项种部本条座间]?|什么|啥)")
_HEAD_STOP = set("的为是在呢吗了？?，,。和与及要有")


def head_noun(question: str, tok: Tokenizer) -> str:
    """The noun the wh-word asks about: 哪个小区 → 小区, 什么会议制度 → 会议制度, 召开什么会 → 会."""
    for m in _HEAD_RE.finditer(question):
        rest = question[m.end() :]
        words: list[str] = []
        pos = 0
        for w, f in tok.pos(rest[:8]):
            pos += len(w)
            if w in _HEAD_STOP or not f.startswith(("n", "j", "vn")):
                # The question's last word is the head whatever its tag (召开什么会？ 什么演出？).
                last = pos >= len(rest) or rest[pos] in _HEAD_STOP or not rest[pos].strip()
                if not words and w not in _HEAD_STOP and last:
                    words.append(w)
                break
            words.append(w)
        head = "".join(words)
        if head and head not in ("时候", "地方", "人", "名字"):
            return head[:6]
    return ""


def _head_candidates(s: str, head: str, tok: Tokenizer, question: str = "") -> list[Candidate]:
    """Phrases of the sentence that end with the question's head noun.

    The phrase runs left over nouns and verbs (电力设施保护知识) up to a particle,
    preposition or punctuation, and starts after the question's own verb
    (讲解|电力设施保护知识 for "讲解了什么知识").
    """
    if not head:
        return []
    tags = _tagged(s, tok)
    out = []
    for i, (_a, b, _w, _f) in enumerate(tags):
        if not s[:b].endswith(head):
            continue
        j = i
        while j > 0:
            _pa, _pb, pw, pf = tags[j - 1]
            joiner = pw == "、" and j > 1 and tags[j - 2][3].startswith(_NOUNISH + ("v",))
            word = re.fullmatch(r"[\u4e00-\u9fffA-Za-z0-9+·]+", pw) and pf.startswith(_NOUNISH + ("v", "t"))
            if not (joiner or word) or b - tags[j - 1][0] > 20:
                break
            j -= 1
        # Start after the last verb the question itself uses (讲解|电力设施保护知识), unless
        # that would leave only the head; never start with a verb or a list comma.
        cut = [k for k in range(j, i) if tags[k][3].startswith("v") and tags[k][2] in question]
        if cut and cut[-1] + 1 < i:
            j = cut[-1] + 1
        while j < i and (tags[j][3].startswith("v") or tags[j][2] == "、"):
            j += 1
        start = tags[j][0]
        if b - start > len(head):
            out.append(Candidate(start, b, s[start:b], "head", 0.7))
    return out


# Common Chinese family names (single-character ones cover the vast majority of people).
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施"
    "文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷"
    "盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷"
    "晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)


def _person_candidates(s: str, tok: Tokenizer) -> list[Candidate]:
    out = []
    for m in _ROLE_RE.finditer(s):
        pos = m.end()
        # Several space-separated names may follow one role word (bylines).
        while True:
            n = _NAME_AFTER_ROLE.match(s, pos)
            if not n or _ROLE_RE.match(s, n.start()):
                break
            name, after = n.group(1), s[n.end(1) : n.end(1) + 1]
            # A known family name, or a byline-like slot (name then space, bracket or end).
            if name[0] in SURNAMES or after in ("", " ", "\u3000", ")", "）"):
                out.append(Candidate(n.start(1), n.end(1), name, "person", 0.9, m.group(1)))
            pos = n.end(1)
            while pos < len(s) and s[pos] in " \u3000":
                pos += 1
    for m in _PHOTOGRAPHER_RE.finditer(s):
        out.append(Candidate(m.start(1), m.end(1), m.group(1), "person", 0.8, "摄影"))
    for a, b, w, f in _tagged(s, tok):
        if f in ("nr", "nrfg", "nrt") and 2 <= len(w) <= 4 and w[0] in SURNAMES:
            out.append(Candidate(a, b, w, "person", 0.5))
    return out


def _name_candidates(s: str) -> list[Candidate]:
    out = []
    for m in _QUOTE_RE.finditer(s):
        inner = Candidate(m.start() + 1, m.end() - 1, m.group(0)[1:-1], "name", 0.9)
        out.append(inner)
    return out


_QUOTED_RUN_RE = re.compile(r"(?:“[^“”]{1,24}”){2,}|(?:《[^《》]{1,40}》){2,}")
_CONJ = ("和", "及", "与", "以及")


def _extend_right(tags: list[tuple[int, int, str, str]], i: int, max_len: int = 16) -> int:
    """End offset of the noun phrase that starts with token ``i``."""
    j = i
    start = tags[i][0]
    while j + 1 < len(tags):
        _a, b, w, f = tags[j + 1]
        if not f.startswith(_NOUNISH) or not re.fullmatch(r"[\u4e00-\u9fffA-Za-z0-9+·]+", w) or b - start > max_len:
            break
        j += 1
    return tags[j][1]


def _enum_runs(s: str, start: int, end: int, tok: Tokenizer) -> list[tuple[int, int]]:
    """Split an A、B、C match into runs of noun items.

    A verb inside an item ends a run ("社区、农村|开展|对象化、分众化"); a verb at the
    start of the first item is not part of it ("解决|消防安全隐患、…").
    """
    items: list[list[int]] = []
    pos = start
    for part in s[start:end].split("、"):
        items.append([pos, pos + len(part)])
        pos += len(part) + 1
    runs: list[list[list[int]]] = [[]]
    for a, b in items:
        cut = s.find("等", a, b)
        if cut > a:
            b = cut
        p = a
        verbs = []
        for w, f in tok.pos(s[a:b]):
            if f.startswith(_TRIM_LEAD_FLAGS) and (len(w) >= 2 or f.startswith("p")):
                verbs.append((p, p + len(w), f))
            p += len(w)
        if not runs[-1]:  # first item of a run: drop what precedes its last leading verb
            lead = [v for v in verbs if v[1] < b]
            if lead:
                a = lead[-1][1]
            verbs = [v for v in verbs if v[0] >= a]
        inner = [v for v in verbs if a < v[0] and v[1] < b and v[2].startswith("v")]
        if inner:
            runs[-1].append([a, inner[0][0]])
            runs.append([[inner[0][1], b]])
        else:
            runs[-1].append([a, b])
    out = []
    for run in runs:
        if len(run) < 2:
            continue
        a, b = run[0][0], run[-1][1]
        cut = s.find("等", run[-1][0], b)
        if cut != -1:
            b = cut
        while b > a and s[b - 1] in _TRIM_TAIL:
            b -= 1
        if b - a >= 3 and "、" in s[a:b]:
            out.append((a, b))
    return out


def _list_candidates(s: str, tok: Tokenizer) -> list[Candidate]:
    """Enumerations: A、B、C (trimmed to the items), “A”“B”, 《A》《B》, and A和B of noun phrases."""
    out = []
    for m in _ENUM_RE.finditer(s):
        for a, b in _enum_runs(s, m.start(), m.end(), tok):
            out.append(Candidate(a, b, s[a:b], "list", 0.8))
    for m in _QUOTED_RUN_RE.finditer(s):
        out.append(Candidate(m.start(), m.end(), m.group(0), "list", 0.8))
    tags = _tagged(s, tok)
    for i, (a, b, w, _f) in enumerate(tags):
        if w in _CONJ and 0 < i < len(tags) - 1 and tags[i - 1][3].startswith(_NOUNISH):
            start, end = _extend_left(tags, i - 1), _extend_right(tags, i + 1)
            if end > b and a - start >= 2:
                out.append(Candidate(start, end, s[start:end], "list", 0.6))
    return out


def _reason_candidates(s: str) -> list[Candidate]:
    """Purpose and cause clauses: 为(了)…, 因为…, 由于…."""
    out = []
    for m in re.finditer(r"(?:为了|为|因为|由于)[^，。；！？]{3,40}", s):
        if m.start() == 0 or s[m.start() - 1] in _CLAUSE_END:
            out.append(Candidate(m.start(), m.end(), m.group(0), "reason", 0.8))
    return out


def candidates(sentence: str, qtype: str, tok: Tokenizer) -> list[Candidate]:
    """Typed spans of ``sentence`` that could answer a question of ``qtype``."""
    makers: dict[str, Callable[[], list[Candidate]]] = {
        "number": lambda: _number_candidates(sentence),
        "date": lambda: _date_candidates(sentence),
        "time": lambda: _time_candidates(sentence),
        "place": lambda: _place_candidates(sentence, tok),
        "org": lambda: _org_candidates(sentence, tok),
        "person": lambda: _person_candidates(sentence, tok),
        "name": lambda: _name_candidates(sentence),
        "list": lambda: _list_candidates(sentence, tok),
        "reason": lambda: _reason_candidates(sentence),
        "thing": lambda: _name_candidates(sentence),
    }
    maker = makers.get(qtype)
    return maker() if maker else []


# ------------------------------------------------------------------ alignment


_SKIPPABLE = set("在于到了的是要着过将把被对向从给为有")


def _longest_in(piece: str, sentence: str, suffix: bool, limit: int = 12, skip: int = 0) -> str:
    """Longest suffix (or prefix) of ``piece`` that occurs in ``sentence``.

    Up to ``skip`` function characters next to the wh-word may be skipped ("万人共聚在|哪里"
    finds "万人共聚" in "万人共聚辽源市南仁东广场"); a single character matches only when
    nothing longer does.
    """
    for drop in range(skip + 1):
        cut = piece[: len(piece) - drop] if suffix else piece[drop:]
        cut = cut[-limit:] if suffix else cut[:limit]
        for n in range(len(cut), 1, -1):
            sub = cut[-n:] if suffix else cut[:n]
            if sub.strip() and sub in sentence:
                return sub
        # Only function characters next to the wh-word may be skipped.
        nxt = piece[len(piece) - drop - 1 : len(piece) - drop] if suffix else piece[drop : drop + 1]
        if nxt not in _SKIPPABLE:
            break
    one = piece[-1:] if suffix else piece[:1]
    return one if one.strip() and one in sentence else ""


@dataclass(frozen=True)
class Alignment:
    left: str  # the question's left context found in the sentence
    right: str
    gap: tuple[int, int] | None  # the sentence span between them


_CLAUSE_END = "，。；！？,;!?…"


def align(question: str, sentence: str, qtype: str) -> Alignment:
    """Find the wh-word's place in the sentence from the question's left/right context."""
    q = question.strip().rstrip("？?。！!")
    m = None
    for cand in _WH_RE.finditer(q):
        m = cand
        break
    if m is None:
        return Alignment("", "", None)
    # Function words next to the wh-word rarely occur in the answer sentence ("来到了哪个").
    left_ctx = re.split(r"[，,。；;：:]", q[: m.start()])[-1].rstrip("了的是呢吗着过")
    right_ctx = re.split(r"[，,。；;：:？?]", q[m.end() :])[0].lstrip("的是呢吗了")
    left = _longest_in(left_ctx, sentence, suffix=True, skip=2)
    if len(left) < 2 and not (left in "在于到以由向为" and left):
        left = ""
    right = _longest_in(right_ctx, sentence, suffix=False, skip=2)
    if len(right) < 2 and not (right and qtype in ("number",)):
        right = ""
    gap = None
    if left:
        # Try every occurrence of the left context; keep the first with a sensible gap.
        for lm in re.finditer(re.escape(left), sentence):
            start = lm.end()
            if right:
                end = sentence.find(right, start)
                if end == -1 or end - start > 40:
                    continue
            else:
                end = start
                stop_at_sentence = qtype in ("action", "reason")
                while end < len(sentence) and (
                    sentence[end] not in _CLAUSE_END or (stop_at_sentence and sentence[end] in "，,")
                ):
                    end += 1
            while start < end and sentence[start] in "是了为：:，, ":
                start += 1
            if end > start:
                gap = (start, end)
                break
    elif right:
        end = sentence.find(right)
        start = end
        while start > 0 and sentence[start - 1] not in _CLAUSE_END and end - start < 20:
            start -= 1
        if end > start:
            gap = (start, end)
    return Alignment(left, right, gap)


def _context_score(sentence: str, c: Candidate, terms: dict[str, float], question: str) -> float:
    """How well the question's words surround the candidate (0..1).

    Mostly the IDF-weighted share of question words in the candidate's own clause,
    then in the rest of its sentence, plus a bonus when the text right next to the candidate also occurs in the question
    ("人数达|10万余人" for "参加人数达到多少").
    """
    total = sum(terms.values()) or 1.0
    if c.kind == "reason":  # a purpose clause ("为消除…隐患，") modifies the whole sentence
        rest = normalize(sentence[: c.start] + " " + sentence[c.end :])
        return sum(w for t, w in terms.items() if t in rest) / total
    a, b = clause_span(sentence, c.start, c.end)
    if (b - a) - (c.end - c.start) < 4 and b < len(sentence):
        # The span is its own clause ("9月17日，…"): it modifies the clause that follows.
        b = clause_span(sentence, b + 1, b + 1)[1] if b + 1 < len(sentence) else b
    clause = normalize(sentence[a : c.start] + " " + sentence[c.end : b])
    # The other clauses of the sentence count too, less: Chinese chains clauses that share
    # one subject (辽源市委研究室积极发挥职能优势，…，编纂了…), but a number belongs to its own.
    rest = normalize(sentence[:a] + " " + sentence[b:])
    share = sum(w for t, w in terms.items() if t in clause) / total
    share_rest = sum(w for t, w in terms.items() if t in rest and t not in clause) / total
    rest_weight = 0.3 if c.kind in ("number", "ordinal", "date", "time") else 0.6
    # Question words close to the span count a little more (分季度召开|四次主要负责人交流会).
    left, right = normalize(sentence[max(a, c.start - 10) : c.start]), normalize(sentence[c.end : c.end + 10])
    close = 0.0
    for t, w in terms.items():
        gaps = [len(left) - left.rfind(t) - len(t)] if t in left else []
        gaps += [right.find(t)] if t in right else []
        if gaps:
            close += w * (1.0 - min(gaps) / 10)
    share += 0.2 * close / total
    adjacent = max(
        len(_longest_in(sentence[max(0, c.start - 8) : c.start], question, suffix=True)),
        len(_longest_in(sentence[c.end : c.end + 8], question, suffix=False)),
    )
    return min(1.0, share + rest_weight * share_rest + (0.1 * min(adjacent, 4) if adjacent >= 2 else 0.0))


@dataclass(frozen=True)
class Span:
    """The chosen answer inside a sentence, with how well it fits (0..1)."""

    start: int
    end: int
    text: str
    kind: str
    fit: float  # ranking score of the span among the sentence's candidates, 0..1
    support: float = 0.0  # how much of the question surrounds the span (context words), 0..1


def extract(
    question: str,
    sentence: str,
    qtype: str,
    tok: Tokenizer,
    terms: dict[str, float],
    rank_clauses: Callable[[list[str]], list[float]] | None = None,
) -> Span | None:
    """The best typed span for the question in the sentence, or None when no typed span fits.

    ``terms`` are the question's content words with their IDF (for context scoring);
    ``rank_clauses`` (optional) scores clause texts by meaning, used when the question
    shares no words with the sentence (e.g. an English question).
    """
    latin = is_latin(question)
    cands = candidates(sentence, qtype, tok)
    head = "" if latin else head_noun(question, tok)
    if qtype in ("name", "place", "org", "thing"):
        cands += _head_candidates(sentence, head, tok, question)
    qn = normalize(question)
    unit = question_unit(question)
    al = Alignment("", "", None) if latin else align(question, sentence, qtype)
    # A span that merely repeats the question is no answer.
    cands = [c for c in cands if normalize(c.text) not in qn or len(c.text) > 12]
    if qtype == "number" and "第几" not in question and "第" not in (unit or ""):
        cands = [c for c in cands if c.kind == "number"] or cands
    if not cands:
        if al.gap and qtype in ("name", "org", "place", "thing", "action", "manner"):
            a, b = al.gap
            text = sentence[a:b].strip("“”\"《》 ")
            a = sentence.find(text, a) if text else a
            if text:
                support = min(1.0, (len(al.left) + len(al.right)) / 6)
                return Span(a, a + len(text), text, "gap", 0.6, support)
        return None
    # The subject right before the wh-word names what the answer is ("警示图册叫什么").
    subject = ""
    if qtype == "name" and not latin:
        m = _WH_RE.search(question)
        words = tok.cut(question[: m.start()].rstrip("叫是为称作的")) if m else []
        subject = words[-1] if words and len(words[-1]) >= 2 else ""
    scores: list[float] = []
    contexts: list[float] = []
    clause_scores = None
    if rank_clauses is not None and (not terms or latin):
        clause_scores = rank_clauses([_clause_around(sentence, c.start, c.end) for c in cands])
    q_role = question_role(question) if qtype == "person" else ""
    has_head = bool(head) and any(c.text.endswith(head) for c in cands)
    for i, c in enumerate(cands):
        ctx = _context_score(sentence, c, terms, question)
        contexts.append(ctx)
        s = 0.3 * c.prior + 0.7 * ctx
        if unit:
            cu = c.text.lstrip("0123456789.,余多万亿" + _CN_DIGITS)
            if cu:
                s += 0.6 if _unit_ok(c.text, unit) else -0.3
        if al.gap:
            a, b = al.gap
            if c.start >= a and c.end <= b:
                s += 0.8 * (1.0 - min(1.0, ((b - a) - (c.end - c.start)) / 20))
            elif a - 2 <= c.end <= b + 2 or a - 2 <= c.start <= b + 2:
                s += 0.3
        if al.right and sentence.startswith(al.right, c.end):
            s += 0.3
        if al.right and c.text.endswith(al.right[: len(c.text)]) and qtype == "number":
            s += 0.2
        if al.left and sentence[: c.start].endswith(al.left):
            s += 0.3
        if subject and subject in c.text:
            s += 0.5
        if head and (c.text.endswith(head) or sentence.startswith(head, c.end + 1)):
            s += 0.4  # ends with the noun asked about, or is the quoted name before it (“5+X”服务)
        elif has_head:
            s -= 0.4  # another candidate is the kind of thing asked about (哪个小区 → …小区)
        if clause_scores is not None:
            s += 2.0 * clause_scores[i]
        if q_role and _role_matches(q_role, c.role):
            s += 1.0
        scores.append(s)
    best = max(range(len(cands)), key=lambda i: (scores[i], -cands[i].start))
    c = cands[best]
    fit = max(0.0, min(1.0, scores[best] / 1.5))
    support = clause_scores[best] if clause_scores is not None else contexts[best]
    if unit and c.kind == "number" and not _unit_ok(c.text, unit):
        support *= 0.3  # asked 多少架, found 五条: not the quantity asked for
    if qtype == "number" and not latin:
        counted = counted_noun(question, tok)
        a, b = clause_span(sentence, c.start, c.end)
        clause = sentence[a : c.start] + sentence[c.end : b]
        after = sentence[c.end : min(b, c.end + 8)]
        # The counted word in the clause, or a character of it right after the number
        # (社团 ~ 10余个文化团体): synonyms often share a morpheme.
        if counted and not any(w in clause or any(ch in after for ch in w) for w in counted):
            support *= 0.3  # asked how many 无人机, the number counts something else
    if q_role:
        support = max(support, 0.8) if _role_matches(q_role, c.role) else support * 0.1
    return Span(c.start, c.end, c.text, c.kind, fit, support)


_UNIT_CLASSES = ("名人位人次员", "场次期届批轮", "年月天日小时分钟", "元万元亿元")


def _unit_class(unit: str) -> int:
    """People, events, time spans, money; everything else counts things (个 fits them all)."""
    for i, chars in enumerate(_UNIT_CLASSES):
        if unit[:1] in chars:
            return i
    return len(_UNIT_CLASSES)


def _unit_ok(text: str, unit: str) -> bool:
    """Whether the measure word of a number span can answer a question asking 多少<unit>."""
    cu = text.lstrip("0123456789.,余多万亿" + _CN_DIGITS)
    if not cu or cu.startswith(unit):
        return True
    cls = _unit_class(cu)
    if cls != _unit_class(unit):
        return False
    # Two measure words for things agree only through the generic 个 (11个 for 多少间).
    return cls < len(_UNIT_CLASSES) or "个" in (cu[:1], unit[:1])


def is_latin(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return bool(letters) and sum(ch.isascii() for ch in letters) / len(letters) > 0.7


def _clause_around(sentence: str, start: int, end: int) -> str:
    a, b = clause_span(sentence, start, end)
    return sentence[a:b]


def candidate_clauses(sentence: str, qtype: str, tok: Tokenizer) -> list[str]:
    """The clauses that :func:`extract` will ask ``rank_clauses`` about (to batch them)."""
    return [_clause_around(sentence, c.start, c.end) for c in candidates(sentence, qtype, tok)]


def clause_span(sentence: str, start: int, end: int) -> tuple[int, int]:
    """The clause (between commas) that contains ``[start, end)``."""
    a = start
    while a > 0 and sentence[a - 1] not in _CLAUSE_END:
        a -= 1
    b = end
    while b < len(sentence) and sentence[b] not in _CLAUSE_END:
        b += 1
    return a, b
