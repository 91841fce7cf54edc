"""The document library's panels in the web app: documents, index status, build progress, what an
upload, removal or rebuild did, and the chat's line while documents are indexed.

Every name and message goes through :func:`qa.render.esc`, so it is shown as text and never
interpreted as HTML, script or Markdown.  The panels are in Chinese (the app's language).
"""

from __future__ import annotations

from collections.abc import Sequence

from .library import BuildProgress, DocumentInfo, IndexStatus, UpdateResult
from .render import esc, notice_html


def indexing_notice(names: Sequence[str], existing: int, progress: BuildProgress | None = None) -> str:
    """The chat's line while documents changed in the seeds folder are indexed."""
    if existing == len(names):
        text = f"正在索引 {len(names)} 个新文档…"
    else:
        text = f"文档有变动（{len(names)} 个），正在更新索引…"
    return notice_html(text) + progress_html(progress)


def _size(n: int) -> str:
    if n < 0:
        return "文件已不在"
    if n < 1024:
        return f"{n} B"
    return f"{n / 1024:.0f} KB" if n < 2**20 else f"{n / 2**20:.1f} MB"


def _doc_title(d: DocumentInfo) -> str:
    return f'<span class="qa-doctitle">{esc(d.title)}</span> ' if d.title else ""


def documents_html(docs: Sequence[DocumentInfo]) -> str:
    """The indexed documents, each expanding to its articles with passage counts."""
    if not docs:
        return '<div class="qa-docs qa-empty">还没有文档，请上传。</div>'
    out = ['<div class="qa-docs">']
    for d in docs:
        arts = "".join(
            f'<li>{esc(a.title)} <span class="qa-count">{a.passages} 段</span></li>' for a in d.articles
        )
        out.append(
            f'<details class="qa-doc"><summary>{_doc_title(d)}<span class="qa-docname">{esc(d.name)}</span> '
            f'<span class="qa-count">{len(d.articles)} 篇文章，{d.passages} 段，{_size(d.size)}'
            f"</span></summary><ol>{arts}</ol></details>"
        )
    out.append("</div>")
    return "".join(out)


def _seconds(s: float) -> str:
    return f"{s:.0f} 秒" if s < 90 else f"{s / 60:.0f} 分钟"


def progress_html(p: BuildProgress | None) -> str:
    """A running build: stage, documents, texts embedded of the total, time so far and left; its bar
    shows the share of the texts embedded, or of the pages read while OCR reads a scan."""
    if p is None:
        return ""
    docs = f" {len(p.documents)} 个文档" if p.documents else "文档"
    parts = [f"正在索引{docs}：{p.stage}"]
    if p.total:
        parts.append(f"{min(p.done, p.total)}/{p.total} 段")
    parts.append(f"已用 {_seconds(p.elapsed)}")
    left = p.seconds_left
    if left is not None and p.done < p.total:
        parts.append(f"约剩 {_seconds(left)}")
    pct = 100 * p.fraction  # texts embedded, or pages read while OCR reads a scan
    return (
        f'<div class="qa-progress"><div>{esc("，".join(parts))}</div>'
        f'<div class="qa-bar"><div style="width:{pct:.0f}%"></div></div></div>'
    )


def status_html(st: IndexStatus, progress: BuildProgress | None = None) -> str:
    """Index status: counts, model, build time, why the documents folder can't be used (what to
    do), a running build, documents not yet indexed."""
    built = st.built_at.replace("T", " ").replace("+00:00", " UTC")
    out = [
        '<div class="qa-status">',
        f"<div><b>索引</b>：{st.documents} 个文档，{st.articles} 篇文章，{st.passages} 段</div>",
        f"<div>模型：<code>{esc(st.model)}</code>，建立于 {esc(built)}</div>",
    ]
    if st.folder is not None:  # the folder is gone or emptied: the index is kept, nothing is synced
        out.append(f'<div class="qa-error qa-folder">{esc(st.folder.text("zh"))}</div>')
    if st.building:
        out.append('<div class="qa-busy">正在建立索引，问题暂由上一版索引回答。</div>')
        out.append(progress_html(progress))
    elif st.pending:
        names = "、".join(esc(n) for n in st.pending[:5]) + ("…" if len(st.pending) > 5 else "")
        out.append(f'<div class="qa-pending">{len(st.pending)} 个文档有变动，将在下次提问时自动索引：{names}</div>')
    out.append("</div>")
    return "".join(out)


def update_html(result: UpdateResult) -> str:
    """What an upload, removal or rebuild did, in a few lines."""
    out = ['<div class="qa-update">']
    if result.saved:
        out.append(f"<div>已保存：{'、'.join(esc(n) for n in result.saved)}</div>")
    if result.removed:
        out.append(f"<div>已删除：{esc(result.removed)}（文件已移到 seeds/.removed/）</div>")
    out += [f'<div class="qa-error">{esc(e)}</div>' for e in result.errors]
    r = result.report
    if r is not None and r.unchanged:
        out.append(f"<div>索引已是最新：{r.documents} 个文档，{r.passages} 段</div>")
    elif r is not None:
        out.append(
            f"<div>索引已更新：{r.documents} 个文档，{r.passages} 段（新处理 {r.embedded} 段，"
            f"沿用 {r.reused} 段），用时 {r.seconds:.1f} 秒</div>"
        )
    if r is not None:  # skipped files are named even when nothing else changed
        out += [f'<div class="qa-error">已跳过：{esc(m.text("zh"))}</div>' for m in r.skipped_reasons]
    if len(out) == 1:
        out.append("<div>没有要处理的文件。</div>")
    out.append("</div>")
    return "".join(out)
