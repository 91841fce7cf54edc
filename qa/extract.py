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
        r"多少|几[个名场次项期支家处份件本届位所座条台辆架篇种户批天年月人倍]|第几|"
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
        r"叫什么|名称|名字|什么主题|为主题|主题是|什么品牌|什么称号|什么口号|什么标语|什么活动|什么制度|"
        r"什么机制|什么模式|什么书|什么图册|哪本|哪部|什么工程|什么会|什么日|什么节|什么平台|什么载体|"
        r"\bname\b|\bcalled\b|\btheme\b|\btitle\b|\bslogan\b|\bmotto\b|\bbrand\b|\bwhat (event|activity|"
        r"system|mechanism|model|mode|project|book|campaign)\b", re.I)),
    ("action", re.compile(r"做什么|干什么|做了什么|做了哪|做些什么|\bwhat did\b|\bwhat do\b|\bwhat does\b", re.I)),
    ("manner", re.compile(r"怎样|怎么|如何|哪种方式|什么方式|什么形式|\bhow\b", re.I)),
    ("thing", re.compile(r"什么|啥|哪个|哪种|\bwhat\b|\bwhich\b", re.I)),
]

# Wh-phrases whose position splits a Chinese question into left and right context.
_WH_RE = re.compile(
    r"(?:是)?(?:多少|几[点个名场次项期支家处份件本届位所座条台辆架篇种户批天年月人倍]?|哪[一个些位里儿天年所家支项种部本]?"
    r"[个位家支项种部本所]?(?:单位|部门|机构|组织|公司|小区|社区|学校|地方)?|谁|什么(?:时候|地方|人)?|何时|何地|"
    r"怎样|怎么|如何|为什么|为何)"
)

_UNIT_SYNONYMS = {"人": "人名位人次", "名": "名人位", "位": "位名人", "场": "场场次", "场次": "场次场", "次": "次场次"}


def question_type(question: str) -> str:
    """What the question asks for: time, date, list, number, person, org, place, reason,
    name, action, manner, thing (a sentence or clause answers the last four)."""
    for name, pat in _TYPE_PATTERNS:
        if pat.search(question):
            # "叫什么名字" asks for a person only when the question is about people.
            if name == "person" and re.search(r"叫什么名字|姓名", question) and not re.search(
                r"人|员|者|长|书记|主任|谁|记者|专家", question
            ):
                return "name"
            return name
    return "thing"


def question_unit(question: str) -> str:
    """The measure word a number question asks for (多少名 → 名), or ""."""
    m = re.search(r"(?:多少|几)([个名场次项期支家处份件本届位所座条台辆架篇种户批天年月人倍]次?)", question)
    return m.group(1) if m else ""


# ------------------------------------------------------------------ candidates


@dataclass(frozen=True)
class Candidate:
    start: int
    end: int
    text: str
    kind: str
    prior: float = 0.0  # type-specific plausibility in [0, 1]


_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿"
_UNITS = (
    "场次|人次|万人|余人|小时|分钟|公里|平方米|场|次|名|人|个|项|期|支|家|处|份|件|本|届|位|所|座|条|台|辆|架|篇|种|户|批|"
    "天|年|元|万元|亿元|米|吨|间|栋|片区|余项"
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


def _org_candidates(s: str, tok: Tokenizer) -> list[Candidate]:
    tags = _tagged(s, tok)
    out = []
    suffix = re.compile(rf"(?:{_ORG_SUFFIX})$")
    nounish = ("n", "nt", "ns", "nz", "j", "b", "an", "ng", "l", "vn", "nr", "eng", "m")
    for i, (_a, b, w, f) in enumerate(tags):
        if not suffix.search(w) or w in _ORG_BAD_TOKENS or f.startswith("v") and len(w) < 2:
            continue
        j = i
        while j > 0:
            _pa, _pb, pw, pf = tags[j - 1]
            if not pf.startswith(nounish) or not re.fullmatch(r"[\u4e00-\u9fffA-Za-z0-9+·]+", pw):
                break
            j -= 1
        start = tags[j][0]
        text = s[start:b]
        if 2 <= len(text) <= 24:
            out.append(Candidate(start, b, text, "org", 0.8 if len(text) >= 3 else 0.5))
    return out


def _person_candidates(s: str, tok: Tokenizer) -> list[Candidate]:
    out = []
    for m in _ROLE_RE.finditer(s):
        pos = m.end()
        # Several space-separated names may follow one role word (bylines).
        while True:
            n = _NAME_AFTER_ROLE.match(s, pos)
            if not n or _ROLE_RE.match(s, n.start()):
                break
            out.append(Candidate(n.start(1), n.end(1), n.group(1), "person", 0.9))
            pos = n.end(1)
            while pos < len(s) and s[pos] in " \u3000":
                pos += 1
    for m in _PHOTOGRAPHER_RE.finditer(s):
        out.append(Candidate(m.start(1), m.end(1), m.group(1), "person", 0.8))
    for a, b, w, f in _tagged(s, tok):
        if f in ("nr", "nrfg", "nrt") and 2 <= len(w) <= 4:
            out.append(Candidate(a, b, w, "person", 0.5))
    return out


def _name_candidates(s: str) -> list[Candidate]:
    out = []
    for m in _QUOTE_RE.finditer(s):
        inner = Candidate(m.start() + 1, m.end() - 1, m.group(0)[1:-1], "name", 0.9)
        out.append(inner)
    return out


def _list_candidates(s: str, tok: Tokenizer) -> list[Candidate]:
    out = []
    for m in _ENUM_RE.finditer(s):
        a, b = m.start(), m.end()
        # Trim verbs, prepositions and adverbs that the first item swallowed ("组织基层干部").
        first_end = s.find("、", a)
        for w, f in tok.pos(s[a:first_end]):
            if f.startswith(_TRIM_LEAD_FLAGS) and a + len(w) < first_end:
                a += len(w)
            else:
                break
        while b > a and s[b - 1] in _TRIM_TAIL:
            b -= 1
        if b - a >= 3:
            out.append(Candidate(a, b, s[a:b], "list", 0.8))
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
    }
    maker = makers.get(qtype)
    return maker() if maker else []


# ------------------------------------------------------------------ alignment


def _longest_in(piece: str, sentence: str, suffix: bool, limit: int = 12) -> str:
    """Longest suffix (or prefix) of ``piece`` that occurs in ``sentence``."""
    piece = piece[-limit:] if suffix else piece[:limit]
    for n in range(len(piece), 0, -1):
        sub = piece[-n:] if suffix else piece[:n]
        if sub.strip() and sub in sentence:
            return sub
    return ""


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
    left_ctx = re.split(r"[，,。；;：:]", q[: m.start()])[-1]
    right_ctx = re.split(r"[，,。；;：:？?]", q[m.end() :])[0]
    left = _longest_in(left_ctx, sentence, suffix=True)
    if len(left) < 2 and not (left in "在于到以由向为" and left):
        left = ""
    right = _longest_in(right_ctx, sentence, suffix=False)
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


def _context_score(sentence: str, c: Candidate, terms: dict[str, float], window: int = 14) -> float:
    """IDF-weighted share of question terms found near the candidate."""
    total = sum(terms.values()) or 1.0
    lo, hi = max(0, c.start - window), min(len(sentence), c.end + window)
    ctx = normalize(sentence[lo:c.start] + " " + sentence[c.end:hi])
    return sum(w for t, w in terms.items() if t in ctx) / total


@dataclass(frozen=True)
class Span:
    """The chosen answer inside a sentence, with how well it fits (0..1)."""

    start: int
    end: int
    text: str
    kind: str
    fit: float


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
    cands = candidates(sentence, qtype, tok)
    qn = normalize(question)
    unit = question_unit(question)
    al = align(question, sentence, qtype) if not _is_latin(question) else Alignment("", "", None)
    # A span that merely repeats the question is no answer.
    cands = [c for c in cands if normalize(c.text) not in qn or len(c.text) > 12]
    if qtype == "number" and "第几" not in question and "第" not in (unit or ""):
        cands = [c for c in cands if c.kind == "number"] or cands
    if not cands:
        if al.gap and qtype in ("name", "org", "place", "thing", "action", "manner", "reason", "person"):
            a, b = al.gap
            text = sentence[a:b].strip("“”\"《》 ")
            a = sentence.find(text, a) if text else a
            if text and (qtype not in ("person",) or len(text) <= 4):
                return Span(a, a + len(text), text, "gap", 0.6)
        return None
    scores: list[float] = []
    clause_scores = None
    if rank_clauses is not None and (not terms or _is_latin(question)):
        clause_scores = rank_clauses([_clause_around(sentence, c.start, c.end) for c in cands])
    for i, c in enumerate(cands):
        s = 0.3 * c.prior + 0.7 * _context_score(sentence, c, terms)
        if unit:
            cu = c.text.lstrip("0123456789.,余多万亿" + _CN_DIGITS)
            if cu and (cu.startswith(unit) or cu in _UNIT_SYNONYMS.get(unit, unit)):
                s += 0.6
            elif cu:
                s -= 0.3
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
        if clause_scores is not None:
            s += 2.0 * clause_scores[i]
        scores.append(s)
    best = max(range(len(cands)), key=lambda i: (scores[i], -cands[i].start))
    c = cands[best]
    fit = max(0.0, min(1.0, scores[best] / 1.5))
    return Span(c.start, c.end, c.text, c.kind, fit)


def _is_latin(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return bool(letters) and sum(ch.isascii() for ch in letters) / len(letters) > 0.7


def _clause_around(sentence: str, start: int, end: int) -> str:
    a = start
    while a > 0 and sentence[a - 1] not in _CLAUSE_END:
        a -= 1
    b = end
    while b < len(sentence) and sentence[b] not in _CLAUSE_END:
        b += 1
    return sentence[a:b]


def clause_span(sentence: str, start: int, end: int) -> tuple[int, int]:
    """The clause (between commas) that contains ``[start, end)``."""
    clause = _clause_around(sentence, start, end)
    a = sentence.rfind(clause, 0, end)
    return a, a + len(clause)
