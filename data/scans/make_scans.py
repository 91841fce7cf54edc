"""Render the seed page as scanned newspaper pages, for the OCR tests and measurements.

    .venv/bin/python data/scans/make_scans.py [FONT]

FONT is a CJK TrueType font (default: Debian's fonts-wqy-microhei,
/usr/share/fonts/truetype/wqy/wqy-microhei.ttc).  Writes, beside this file:

- ``seed_p1.png``: article 1 of the seed, its headline, subtitle and byline across three
  columns, the body flowing down them, a photo box with its captions;
- ``seed_p2.png``: articles 2 and 3 in boxes over columns 1-2 (headlines across both),
  article 4 down column 3;
- ``seed_noisy_p1.jpg``, ``seed_noisy_p2.jpg``: the same rotated by 1.5° and -1°, with
  speckle noise, as greyscale JPEG (a phone photo or a poor scan);
- ``seed_scan.pdf``: the two clean pages as an image-only PDF (no text layer);
- ``truth.json``: for each page, each article's headline, header lines and paragraphs in
  reading order (what OCR should find).

Pages are 1-bit PNG at about 150 dpi (22-pixel body text), so the files stay small.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from qa.documents import read_document  # noqa: E402

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
BODY, CAPTION = 22, 19
COL_CHARS = 20
GUTTER = 44
MARGIN = 48
LEAD = 1.5  # line spacing, in font sizes


class Page:
    def __init__(self, font_path: str, width: int, height: int) -> None:
        self.font_path = font_path
        self.img = Image.new("L", (width, height), 255)
        self.draw = ImageDraw.Draw(self.img)

    def font(self, size: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(self.font_path, size)

    def centred(self, text: str, size: int, x0: int, x1: int, y: int) -> int:
        f = self.font(size)
        w = f.getlength(text)
        self.draw.text((x0 + (x1 - x0 - w) / 2, y), text, font=f, fill=0)
        return y + round(size * LEAD)


def wrap(text: str, font: ImageFont.FreeTypeFont, width: float, indent: float) -> list[tuple[float, str]]:
    """``text`` cut into lines no wider than ``width`` (the first indented by ``indent``)."""
    lines: list[tuple[float, str]] = []
    cur, x0 = "", indent
    for ch in text:
        if cur and font.getlength(cur + ch) > width - x0:
            lines.append((x0, cur))
            cur, x0 = "", 0.0
        cur += ch
    if cur:
        lines.append((x0, cur))
    return lines


def flow(page: Page, blocks: list[tuple[str, str]], cols: list[int], top: int, col_width: int) -> int:
    """Lay ``blocks`` (kind, text) down the columns at x ``cols``, balanced in height; the bottom y."""
    body, cap = page.font(BODY), page.font(CAPTION)
    items: list[tuple[str, float, str, int]] = []  # kind, x offset, text, height
    for kind, text in blocks:
        if kind == "photo":
            items.append(("photo", 0, "", 150))
            continue
        if kind == "heading":
            items.append(("gap", 0, "", BODY // 2))
            items += [("heading", 0, t, round(BODY * LEAD)) for _, t in wrap(text, body, col_width, 0)]
            items.append(("gap", 0, "", BODY // 2))
            continue
        if kind == "caption":
            items += [("caption", x, t, round(CAPTION * LEAD)) for x, t in wrap(text, cap, col_width, 0)]
            items.append(("gap", 0, "", CAPTION // 2))
            continue
        items += [("body", x, t, round(BODY * LEAD)) for x, t in wrap(text, body, col_width, 2 * BODY)]
    total = sum(h for *_, h in items)
    per_col = total / len(cols) + BODY * LEAD
    c, y, bottom = 0, top, top
    for kind, dx, text, h in items:
        if y - top + h > per_col and c + 1 < len(cols) and kind != "gap":
            c, y = c + 1, top
        if kind == "gap" and y == top:
            continue
        x = cols[c]
        if kind == "photo":
            page.draw.rectangle((x, y + 4, x + col_width, y + h - 12), fill=200, outline=90, width=2)
            page.draw.ellipse((x + 40, y + 30, x + 120, y + 110), fill=140)
            page.draw.polygon([(x + 150, y + h - 14), (x + 260, y + 40), (x + 380, y + h - 14)], fill=110)
        elif text:
            page.draw.text((x + dx, y), text, font=body if kind != "caption" else cap, fill=0)
        y += h
        bottom = max(bottom, y)
    return bottom


def article_blocks(article) -> list[tuple[str, str]]:
    out, photo = [], False
    for b in article.blocks:
        if b.kind == "caption" and not photo:
            out.append(("photo", ""))
            photo = True
        out.append((b.kind if b.kind in ("heading", "caption") else "paragraph", b.text))
    return out


def truth_of(article) -> dict:
    header = [b.text for b in (article.subtitle, article.byline) if b is not None]
    return {"title": article.title, "header": header, "blocks": [[b.kind, b.text] for b in article.blocks]}


def main(font_path: str = FONT) -> None:
    doc = read_document(ROOT / "seeds" / "000_2575e84d6e1eb83a.txt")
    a1, a2, a3, a4 = doc.articles
    col_w = COL_CHARS * BODY
    width = 2 * MARGIN + 3 * col_w + 2 * GUTTER
    cols = [MARGIN + i * (col_w + GUTTER) for i in range(3)]

    p1 = Page(font_path, width, 2400)
    y = p1.centred(a1.title, 44, MARGIN, width - MARGIN, MARGIN)
    y = p1.centred(a1.subtitle.text, 26, MARGIN, width - MARGIN, y + 8)
    y = p1.centred(a1.byline.text, BODY, MARGIN, width - MARGIN, y + 4)
    p1.draw.line((MARGIN, y + 10, width - MARGIN, y + 10), fill=0, width=2)
    flow(p1, article_blocks(a1), cols, y + 30, col_w)

    p2 = Page(font_path, width, 2400)
    two = col_w * 2 + GUTTER
    y = p2.centred(a2.title, 36, MARGIN, MARGIN + two, MARGIN)
    body2 = article_blocks(a2)
    if a2.byline is not None:
        body2[0] = ("paragraph", a2.byline.text + body2[0][1])  # 本报讯(…) starts the first paragraph
    y3 = flow(p2, body2, cols[:2], y + 16, col_w) + 60
    p2.draw.line((MARGIN, y3 - 24, MARGIN + two, y3 - 24), fill=0, width=2)
    y = p2.centred(a3.title, 36, MARGIN, MARGIN + two, y3)
    body3 = article_blocks(a3)
    body3[0] = ("paragraph", a3.byline.text + body3[0][1])
    flow(p2, body3, cols[:2], y + 16, col_w)
    y = p2.centred(a4.title[:10], 30, cols[2], cols[2] + col_w, MARGIN)  # a headline in two lines
    y = p2.centred(a4.title[10:], 30, cols[2], cols[2] + col_w, y)
    body4 = article_blocks(a4)
    body4[0] = ("paragraph", a4.byline.text + body4[0][1])
    flow(p2, body4, cols[2:], y + 16, col_w)

    pages = []
    for page in (p1, p2):  # crop the unused foot of the page
        bbox = Image.eval(page.img, lambda v: 255 - v).getbbox()
        pages.append(page.img.crop((0, 0, width, min(page.img.height, bbox[3] + MARGIN))))
    for i, img in enumerate(pages, 1):
        img.convert("1", dither=Image.Dither.NONE).save(HERE / f"seed_p{i}.png", optimize=True)
    bw = [p.convert("1", dither=Image.Dither.NONE) for p in pages]
    bw[0].save(HERE / "seed_scan.pdf", save_all=True, append_images=bw[1:], resolution=150)

    rng = random.Random(7)
    for i, (img, angle) in enumerate(zip(pages, (1.5, -1.0)), 1):
        noisy = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
        px = noisy.load()
        w, h = noisy.size
        for _ in range(w * h // 500):  # speckles: dust and paper grain
            x, y = rng.randrange(w), rng.randrange(h)
            px[x, y] = rng.choice((0, 90, 160))
        noisy = noisy.filter(ImageFilter.GaussianBlur(0.6))
        noisy.save(HERE / f"seed_noisy_p{i}.jpg", quality=50, optimize=True)

    truth = {"seed_p1": [truth_of(a1)], "seed_p2": [truth_of(a2), truth_of(a3), truth_of(a4)]}
    (HERE / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:2])
