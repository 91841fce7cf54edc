"""``qa eval --html OUT``: a self-contained HTML page for a :class:`qa.evaluate.Report`.

One file, no scripts, no external assets: the metrics table, a bar chart of F1 and
exact match per question type (inline SVG), the confidence reliability diagram (inline
SVG), the share right per display band (高 / 中 / not found) and the failures with the
question, the given answer, the gold answers and the cited sentence.  Every value from the
report is HTML-escaped.
"""

from __future__ import annotations

import html
from pathlib import Path

from .evaluate import BAND_NAMES, Report, band_source

# (key in Report.overall, label, kind): kind "ratio" is shown as a percentage.
METRICS = [
    ("n", "questions", "count"),
    ("answerable", "answerable", "count"),
    ("unanswerable", "unanswerable", "count"),
    ("f1", "answer F1 (CMRC 2018)", "ratio"),
    ("em", "exact match", "ratio"),
    ("sentence_accuracy", "sentence accuracy", "ratio"),
    ("citation@1", "first citation holds the evidence", "ratio"),
    ("citations_valid", "citation offsets valid", "ratio"),
    ("abstain_recall", "unanswerable refused", "ratio"),
    ("abstain_precision", "refusals that were right", "ratio"),
    ("false_refusal", "answerable refused", "ratio"),
    ("no_answer_accuracy", "no-answer accuracy", "ratio"),
    ("latency_p50_ms", "latency p50 (ms)", "ms"),
    ("latency_p95_ms", "latency p95 (ms)", "ms"),
]

CSS = """
body { font-family: system-ui, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; margin: 2em auto;
  max-width: 60em; padding: 0 1em; color: #1f2937; line-height: 1.5; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #e5e7eb; padding: .3em .5em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #6b7280; font-size: .9em; }
.stage { display: inline-block; background: #fee2e2; color: #991b1b; border-radius: 999px; padding: 0 .6em; font-size: .8em; }
.sentence { color: #374151; font-size: .9em; }
svg text { font-family: inherit; }
"""


def esc(value: object) -> str:
    """Any value as escaped HTML text."""
    return html.escape(str(value), quote=True)


def _value(key: str, value: object, kind: str) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return esc(value)
    if kind == "ratio":
        return f"{100 * value:.1f}%"
    if kind == "ms":
        return f"{value:.0f}"
    return f"{value:g}"


def metrics_table(overall: dict) -> str:
    """The overall metrics that the report has, one row each."""
    rows = [
        f'<tr><td>{esc(label)}</td><td class="num">{_value(key, overall[key], kind)}</td></tr>'
        for key, label, kind in METRICS
        if overall.get(key) is not None
    ]
    return f'<table class="metrics"><tr><th>metric</th><th>value</th></tr>{"".join(rows)}</table>'


def _bars_svg(by_type: dict) -> str:
    """Horizontal bars of F1 and exact match per question type (0-1 scale)."""
    types = list(by_type)
    if not types:
        return '<p class="muted">no question types</p>'
    label_w, bar_w, row_h = 150, 360, 34
    height = 30 + row_h * len(types)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{label_w + bar_w + 70}" height="{height}" '
           f'viewBox="0 0 {label_w + bar_w + 70} {height}" aria-label="F1 and exact match by question type">']
    for x in (0, 0.5, 1):
        gx = label_w + x * bar_w
        out.append(f'<line x1="{gx:.1f}" y1="18" x2="{gx:.1f}" y2="{height - 4}" stroke="#e5e7eb"/>'
                   f'<text x="{gx:.1f}" y="12" font-size="10" text-anchor="middle" fill="#6b7280">{x:g}</text>')
    for i, t in enumerate(types):
        m = by_type[t] if isinstance(by_type[t], dict) else {}
        y = 22 + i * row_h
        f1, em = float(m.get("f1", 0) or 0), float(m.get("em", 0) or 0)
        out.append(f'<text x="{label_w - 6}" y="{y + 15}" font-size="12" text-anchor="end">'
                   f'{esc(t)} (n={esc(m.get("n", 0))})</text>')
        out.append(f'<rect x="{label_w}" y="{y}" width="{max(0.0, min(1.0, f1)) * bar_w:.1f}" height="12" fill="#6366f1">'
                   f'<title>F1 {f1:.3f}</title></rect>')
        out.append(f'<rect x="{label_w}" y="{y + 14}" width="{max(0.0, min(1.0, em)) * bar_w:.1f}" height="8" '
                   f'fill="#a5b4fc"><title>EM {em:.3f}</title></rect>')
        out.append(f'<text x="{label_w + bar_w + 6}" y="{y + 11}" font-size="11">{f1:.2f}</text>')
    out.append("</svg>")
    legend = ('<p class="muted"><span style="color:#6366f1">■</span> F1 '
              '<span style="color:#a5b4fc">■</span> exact match</p>')
    return "".join(out) + legend


def _reliability_svg(cal: dict) -> str:
    """Reliability diagram: share right against mean confidence per bucket, with the diagonal."""
    size, pad = 300, 36
    rows = [r for r in cal.get("table", []) if isinstance(r, dict)]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{size + 2 * pad}" height="{size + 2 * pad}" '
           f'viewBox="0 0 {size + 2 * pad} {size + 2 * pad}" aria-label="confidence reliability diagram">',
           f'<rect x="{pad}" y="{pad}" width="{size}" height="{size}" fill="none" stroke="#9ca3af"/>',
           f'<line x1="{pad}" y1="{pad + size}" x2="{pad + size}" y2="{pad}" stroke="#9ca3af" stroke-dasharray="4 3"/>']
    for v in (0, 0.5, 1):
        out.append(f'<text x="{pad + v * size:.1f}" y="{pad + size + 14}" font-size="10" text-anchor="middle">{v:g}</text>'
                   f'<text x="{pad - 6}" y="{pad + size - v * size + 4:.1f}" font-size="10" text-anchor="end">{v:g}</text>')
    out.append(f'<text x="{pad + size / 2}" y="{pad + size + 30}" font-size="11" text-anchor="middle">mean confidence</text>'
               f'<text x="12" y="{pad + size / 2}" font-size="11" text-anchor="middle" '
               f'transform="rotate(-90 12 {pad + size / 2})">share right (F1 ≥ 0.5)</text>')
    n_max = max((int(r.get("n", 0) or 0) for r in rows), default=1) or 1
    points = []
    for r in rows:
        c, a, n = float(r.get("confidence", 0) or 0), float(r.get("accuracy", 0) or 0), int(r.get("n", 0) or 0)
        x, y = pad + min(1.0, max(0.0, c)) * size, pad + size - min(1.0, max(0.0, a)) * size
        points.append(f"{x:.1f},{y:.1f}")
        radius = 3 + 7 * (n / n_max) ** 0.5
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" fill="#6366f1" fill-opacity=".75">'
                   f'<title>{esc(r.get("bucket", ""))}: {n} answers, confidence {c:.2f}, right {a:.2f}</title></circle>')
    if len(points) > 1:
        out.insert(3, f'<polyline points="{" ".join(points)}" fill="none" stroke="#6366f1"/>')
    out.append("</svg>")
    return "".join(out)


def _reliability_table(cal: dict) -> str:
    rows = "".join(
        f'<tr><td>{esc(r.get("bucket", ""))}</td><td class="num">{esc(r.get("n", ""))}</td>'
        f'<td class="num">{float(r.get("confidence", 0) or 0):.3f}</td>'
        f'<td class="num">{float(r.get("accuracy", 0) or 0):.3f}</td></tr>'
        for r in cal.get("table", []) if isinstance(r, dict)
    )
    return ('<table><tr><th>confidence</th><th>answers</th><th>mean confidence</th><th>share right</th></tr>'
            f"{rows}</table>")


def _num(x: object, digits: int = 3) -> str:
    return f"{x:.{digits}f}" if isinstance(x, (int, float)) and not isinstance(x, bool) else "—"


def _bands(rep: dict) -> str:
    """The display bands: answers in each, the share right here, the target and dev's measure."""
    rows = []
    for r in rep.get("rows", []):
        if not isinstance(r, dict):
            continue
        lo, hi = r.get("from"), r.get("to")
        span = f"≥ {_num(lo)}" if hi is None else (f"&lt; {_num(hi)}" if lo is None else f"{_num(lo)}–{_num(hi)}")
        target = f"≥ {_num(r.get('target'), 2)}" if r.get("target") is not None else "—"
        dev = f"{_num(r.get('dev_share_right'))} ({esc(r.get('dev_n'))})" if r.get("dev_n") is not None else "—"
        rows.append(
            f'<tr><td>{esc(BAND_NAMES.get(str(r.get("band")), r.get("band")))}</td><td class="num">{span}</td>'
            f'<td class="num">{esc(r.get("n", ""))}</td><td class="num">{esc(r.get("right", ""))}</td>'
            f'<td class="num">{_num(r.get("share_right"))}</td><td class="num">{target}</td>'
            f'<td class="num">{dev}</td></tr>'
        )
    f = rep.get("refused") if isinstance(rep.get("refused"), dict) else {}
    rows.append(f'<tr><td>not found (refused)</td><td class="num">—</td><td class="num">{esc(f.get("n", ""))}</td>'
                f'<td class="num">—</td><td class="num">{_num(f.get("share_unanswerable"))} unanswerable</td>'
                '<td class="num">—</td><td class="num">—</td></tr>')
    return ("<table><tr><th>shown as</th><th>confidence</th><th>answers</th><th>right</th>"
            "<th>share right (F1 ≥ 0.5)</th><th>target</th><th>dev: share right (n)</th></tr>"
            f"{''.join(rows)}</table>")


def _failures(report: Report) -> str:
    sentences = {str(r.get("id")): r.get("sentence", "") for r in report.results if isinstance(r, dict)}
    if not report.failures:
        return '<p class="muted">no failures</p>'
    rows = []
    for f in report.failures:
        expected = f.get("expected") or []
        gold = " / ".join(map(str, expected)) if isinstance(expected, list) else str(expected)
        sentence = sentences.get(str(f.get("id")), "")
        cited = esc(sentence) if sentence else '<span class="muted">—</span>'
        conf = float(f.get("confidence", 0) or 0)
        rows.append(
            f'<tr><td>{esc(f.get("id", ""))}<br><span class="muted">{esc(f.get("type", ""))}</span></td>'
            f'<td>{esc(f.get("question", ""))}<br><span class="stage">{esc(f.get("stage", ""))}</span></td>'
            f'<td>{esc(f.get("got", ""))}<br><span class="muted">{conf:.2f}</span></td>'
            f'<td>{esc(gold or "(not answerable)")}</td>'
            f'<td class="sentence">{cited}</td></tr>'
        )
    return ("<table><tr><th>id</th><th>question</th><th>given answer (confidence)</th><th>gold answer</th>"
            f"<th>cited sentence</th></tr>{''.join(rows)}</table>")


def report_html(report: Report) -> str:
    """The whole page as a string."""
    o = report.overall
    cal = o.get("calibration") or {"ece": 0.0, "n": 0, "table": []}
    return "".join([
        '<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Evaluation: {esc(report.questions)}</title><style>{CSS}</style></head><body>",
        f"<h1>Evaluation: {esc(report.questions)}</h1>",
        "<h2>Metrics</h2>", metrics_table(o),
        "<h2>By question type</h2>", _bars_svg(report.by_type),
        f"<h2>Confidence reliability (answers given: {esc(cal.get('n', 0))}, "
        f"expected calibration error {float(cal.get('ece', 0) or 0):.3f})</h2>",
        '<p class="muted">Each dot is a confidence bucket (size: answers in it); on the dashed diagonal, '
        "shown confidence equals the share of right answers.</p>",
        _reliability_svg(cal), _reliability_table(cal),
        *([f"<h2>Display bands ({esc(band_source(report.bands))})</h2>",
           '<p class="muted">How answers are shown, by their confidence: 高 and 中 with the span, below 中 as '
           '"not found" with the closest passages. A band\'s label holds when its share right meets the target.</p>',
           _bands(report.bands)] if report.bands else []),
        f"<h2>Failures ({len(report.failures)})</h2>", _failures(report),
        "</body></html>",
    ])


def write_html(report: Report, path: Path | str) -> Path:
    """Write the report page to ``path`` (folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(report), encoding="utf-8")
    return path
