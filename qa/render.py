"""Presenting answers: HTML for the web chat, a plain dict for the API.

Every piece of document text and every question goes through :func:`esc`, so it is
shown as text and never interpreted as HTML, script or Markdown.  The HTML is one
line per block with no blank lines, so a Markdown renderer passes it through whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .library import DocumentInfo, IndexStatus, UpdateResult
from .records import Answer, Citation, Passage

# HTML specials, and characters that Markdown, autolinks or LaTeX would act on, as decimal
# entities (the chat's Markdown renderer shows hexadecimal ones literally).
_ENTITIES = {ord(c): f"&#{ord(c)};" for c in "&<>\"'\\`*_{}[]()#|~$!:@"}


def esc(text: object) -> str:
    """``text`` as literal HTML text: tags, quotes and Markdown characters escaped, newlines kept."""
    out = str(text).translate(_ENTITIES)
    return out.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def highlight(text: str, start: int, end: int, tag: str = "mark") -> str:
    """``text`` escaped, with ``text[start:end]`` wrapped in ``<tag>`` (no highlight if out of range)."""
    if not 0 <= start < end <= len(text):
        return esc(text)
    return f"{esc(text[:start])}<{tag}>{esc(text[start:end])}</{tag}>{esc(text[end:])}"


class Paragraphs:
    """Whole paragraphs of an index, joined from their parts, to show a citation in context."""

    def __init__(self, passages: Iterable[Passage]) -> None:
        self._group: dict[str, tuple] = {}
        self._parts: dict[tuple, list[Passage]] = {}
        for p in passages:
            # Captions and headers all have paragraph 0: the id (…#a1.c2.0) tells them apart.
            key = (p.doc, p.article, p.kind, p.paragraph if p.kind == "body" else p.id.rsplit(".", 1)[0])
            self._group[p.id] = key
            self._parts.setdefault(key, []).append(p)
        for parts in self._parts.values():
            parts.sort(key=lambda p: p.part)

    def context(self, c: Citation) -> tuple[str, int, int] | None:
        """``(paragraph, start, end)``: the whole paragraph and where the quote is in it."""
        key = self._group.get(c.passage_id)
        if key is None:
            return None
        parts = self._parts[key]
        text = "".join(p.text for p in parts)
        source = c.spans[0][0] if c.spans else c.start
        pos = 0
        for p in parts:
            if p.id == c.passage_id:
                local = 0
                for s, e in p.spans:  # map the source offset to an offset in the passage text
                    if s <= source < e:
                        start = pos + local + source - s
                        if text[start : start + len(c.quote)] == c.quote:
                            return text, start, start + len(c.quote)
                    local += e - s
            pos += len(p.text)
        start = text.find(c.quote) if c.quote else -1
        return (text, start, start + len(c.quote)) if start >= 0 else (text, -1, -1)


_last: tuple[object, Paragraphs] | None = None


def paragraphs_for(index) -> Paragraphs:
    """The :class:`Paragraphs` of an index (the last one is cached)."""
    global _last
    if _last is None or _last[0] is not index:
        _last = (index, Paragraphs(index.passages))
    return _last[1]


def confidence_level(confidence: float) -> tuple[str, str]:
    """A word for the confidence and its CSS class."""
    if confidence >= 0.85:
        return "高 high", "qa-conf-high"
    if confidence >= 0.65:
        return "中 medium", "qa-conf-mid"
    return "低 low", "qa-conf-low"


def citation_html(number: int, c: Citation, paragraphs: Paragraphs | None, *, snippet: bool = False) -> str:
    """One numbered citation that expands to its whole paragraph with the quote highlighted."""
    ctx = paragraphs.context(c) if paragraphs is not None else None
    body = highlight(*ctx) if ctx else f"<mark>{esc(c.quote)}</mark>"
    preview = f'<span class="qa-snippet">{esc(c.quote[:48])}{"…" if len(c.quote) > 48 else ""}</span>' if snippet else ""
    return (
        f'<details class="qa-cite"><summary><span class="qa-num">[{number}]</span> '
        f'<span class="qa-label">{esc(c.label)}</span>{preview}</summary>'
        f'<div class="qa-para">{body}</div>'
        f'<div class="qa-where">{esc(c.doc)} · 字符 chars {c.start}–{c.end}</div></details>'
    )


def answer_html(a: Answer, paragraphs: Paragraphs | None = None) -> str:
    """The chat reply for an answer: span, sentence, confidence and citations, or a clear "not found"."""
    if not a.found:
        out = [
            '<div class="qa-reply qa-notfound">',
            '<div class="qa-nf-title">未找到答案 · Not found in the documents</div>',
            f'<div class="qa-message">{esc(a.message or "文档中没有找到答案。")}</div>',
        ]
        if a.related:
            out.append('<div class="qa-related-title">最接近的段落（仅供参考，并非答案）· Closest passages, not answers</div>')
            out += [citation_html(i, c, paragraphs, snippet=True) for i, c in enumerate(a.related, 1)]
        out.append("</div>")
        return "".join(out)
    start = a.text_start
    if not (0 <= start and a.sentence[start : start + len(a.text)] == a.text):
        start = a.sentence.find(a.text)
    word, cls = confidence_level(a.confidence)
    out = [
        '<div class="qa-reply qa-found">',
        f'<div class="qa-answer">{esc(a.text)}</div>',
        f'<div class="qa-conf {cls}">置信度 confidence: {word} · {a.confidence:.0%}</div>',
    ]
    if a.text != a.sentence:
        out.append(f'<div class="qa-sentence">{highlight(a.sentence, start, start + len(a.text))}</div>')
    if a.message:
        out.append(f'<div class="qa-message">{esc(a.message)}</div>')
    if a.citations:
        out.append('<div class="qa-cites-title">出处 Sources</div>')
        out += [citation_html(i, c, paragraphs) for i, c in enumerate(a.citations, 1)]
    out.append("</div>")
    return "".join(out)


def question_html(question: str) -> str:
    """The user's question as literal text."""
    return f'<div class="qa-question">{esc(question)}</div>'


def _size(n: int) -> str:
    if n < 0:
        return "文件已不在 file missing"
    if n < 1024:
        return f"{n} B"
    return f"{n / 1024:.0f} KB" if n < 2**20 else f"{n / 2**20:.1f} MB"


def documents_html(docs: Sequence[DocumentInfo]) -> str:
    """The indexed documents, each expanding to its articles with passage counts."""
    if not docs:
        return '<div class="qa-docs qa-empty">还没有文档。请上传。No documents yet: upload some.</div>'
    out = ['<div class="qa-docs">']
    for d in docs:
        arts = "".join(
            f'<li>{esc(a.title)} <span class="qa-count">{a.passages} 段</span></li>' for a in d.articles
        )
        out.append(
            f'<details class="qa-doc"><summary><span class="qa-docname">{esc(d.name)}</span> '
            f'<span class="qa-count">{len(d.articles)} 篇文章 articles · {d.passages} 段 passages · {_size(d.size)}'
            f"</span></summary><ol>{arts}</ol></details>"
        )
    out.append("</div>")
    return "".join(out)


def status_html(st: IndexStatus) -> str:
    """Index status: counts, model, build time, a running build, documents not yet indexed."""
    built = st.built_at.replace("T", " ").replace("+00:00", " UTC")
    out = [
        '<div class="qa-status">',
        f"<div><b>索引 Index</b>：{st.documents} 个文档 documents · {st.articles} 篇文章 articles · "
        f"{st.passages} 段 passages</div>",
        f"<div>模型 Model：<code>{esc(st.model)}</code> · 建立于 Built：{esc(built)}</div>",
    ]
    if st.building:
        out.append('<div class="qa-busy">正在建立索引，问题仍由上一版索引回答。Indexing: questions use the previous index.</div>')
    if st.pending:
        names = "、".join(esc(n) for n in st.pending[:5]) + ("…" if len(st.pending) > 5 else "")
        out.append(
            f'<div class="qa-pending">{len(st.pending)} 个文档有变动尚未索引 not yet indexed：{names}'
            "（点击“重建索引”Rebuild）</div>"
        )
    out.append("</div>")
    return "".join(out)


def update_html(result: UpdateResult) -> str:
    """What an upload, removal or rebuild did, in a few lines."""
    out = ['<div class="qa-update">']
    if result.saved:
        out.append(f"<div>已保存 Saved：{'、'.join(esc(n) for n in result.saved)}</div>")
    if result.removed:
        out.append(f"<div>已删除 Removed：{esc(result.removed)}（文件移到 moved to seeds/.removed/）</div>")
    out += [f'<div class="qa-error">{esc(e)}</div>' for e in result.errors]
    r = result.report
    if r is not None and r.unchanged:
        out.append(f"<div>索引已是最新 Index is up to date：{r.documents} 个文档 · {r.passages} 段</div>")
    elif r is not None:
        out.append(
            f"<div>索引已更新 Index updated：{r.documents} 个文档 · {r.passages} 段 · "
            f"新计算 embedded {r.embedded} · 复用 reused {r.reused} · {r.seconds:.1f} 秒</div>"
        )
    if r is not None:  # skipped files are named even when nothing else changed
        out += [f'<div class="qa-error">跳过 skipped：{esc(m)}</div>' for m in r.skipped]
    if len(out) == 1:
        out.append("<div>没有要处理的文件。Nothing to do.</div>")
    out.append("</div>")
    return "".join(out)


def _citation_dict(c: Citation) -> dict:
    return {
        "doc": c.doc,
        "title": c.title,
        "paragraph": c.paragraph,
        "label": c.label,
        "kind": c.kind,
        "quote": c.quote,
        "start": c.start,
        "end": c.end,
        "score": c.score,
        "passage_id": c.passage_id,
    }


def answer_to_dict(a: Answer) -> dict:
    """The answer as JSON-able data (what the ``ask`` API returns)."""
    return {
        "question": a.question,
        "found": a.found,
        "text": a.text,
        "sentence": a.sentence,
        "text_start": a.text_start,
        "confidence": a.confidence,
        "answer_type": a.answer_type,
        "message": a.message,
        "citations": [_citation_dict(c) for c in a.citations],
        "related": [_citation_dict(c) for c in a.related],
    }


CSS = """
.qa-reply { line-height: 1.7; word-break: break-word; }
.qa-answer { font-size: 1.35em; font-weight: 700; color: var(--color-accent); margin-bottom: .2em; }
.qa-conf { display: inline-block; font-size: .8em; padding: 0 .6em; border-radius: 999px; margin-bottom: .5em; }
.qa-conf-high { background: #dcfce7; color: #166534; }
.qa-conf-mid { background: #fef9c3; color: #854d0e; }
.qa-conf-low { background: #fee2e2; color: #991b1b; }
.qa-sentence { border-left: 3px solid var(--color-accent); padding: .3em .8em; margin: .4em 0 .6em;
  background: var(--background-fill-secondary); border-radius: 4px; }
.qa-reply mark { background: #fde68a; color: #1f2937; padding: 0 .1em; border-radius: 2px; }
.qa-cites-title, .qa-related-title { font-size: .85em; opacity: .75; margin: .5em 0 .2em; }
.qa-cite { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: .2em .6em; margin: .3em 0; }
.qa-cite summary { cursor: pointer; }
.qa-num { font-weight: 700; color: var(--color-accent); }
.qa-snippet { display: block; font-size: .85em; opacity: .8; }
.qa-para { margin: .4em 0; white-space: pre-wrap; }
.qa-where { font-size: .75em; opacity: .65; }
.qa-notfound { border-left: 4px solid #f59e0b; padding-left: .7em; }
.qa-nf-title { font-weight: 700; color: #b45309; font-size: 1.1em; }
.qa-message { font-size: .9em; opacity: .85; margin: .2em 0; }
.qa-docs details { border-bottom: 1px solid var(--border-color-primary); padding: .4em 0; }
.qa-docs summary { cursor: pointer; }
.qa-docname { font-weight: 600; word-break: break-all; }
.qa-count { font-size: .85em; opacity: .7; }
.qa-status { line-height: 1.8; }
.qa-busy, .qa-pending { color: #b45309; }
.qa-error { color: #b91c1c; }
.qa-question { white-space: pre-wrap; }
"""
