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
- ``seed_rotated_p1.png``, ``seed_rotated_p2.png``: the clean pages laid askew on a
  black-and-white scanner, page 1 turned by +2° (counter-clockwise), page 2 by -2°;
- ``seed_150dpi_p1.png``, ``seed_150dpi_p2.png``: the same pages set in 9-point type (小五号,
  the body size of many dailies) and scanned in grey at 150 dpi: 19-pixel body text,
  anti-aliased (drawn at 300 dpi and reduced, as a scanner's sensor averages), kept in four
  levels of grey;
- ``seed_scan.pdf``: the two clean pages as an image-only PDF (no text layer);
- ``notice_tc.png``: a short public notice in traditional characters (written for this
  file in simplified characters and converted with OpenCC ``s2t``), one column;
- ``vertical.png``: a short essay (written for this file, simplified characters) set in
  vertical columns, read top to bottom and the columns right to left: the title in the
  rightmost column, two paragraphs (each indented two characters at its top);
- ``truth.json``: for each page, each article's headline, header lines and paragraphs in
  reading order (what OCR should find); the variants of a page share its truth
  (``seed_p1``, ``seed_p2``), the notice is ``notice_tc``, the vertical page ``vertical``.

The clean pages are 1-bit PNG at about 150 dpi for 10.5-point type (22-pixel body text), so
the files stay small.  Everything is deterministic: the same font gives the same files.
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
ROTATED = (2.0, -2.0)  # degrees, counter-clockwise, of seed_rotated_p1 and _p2
SMALL_SCALE = 2 * 18.75 / BODY  # 9-point type at 300 dpi (37.5-pixel body text), reduced by 2 to 150 dpi

# The notice, in simplified characters; the page shows it converted to traditional ones.
NOTICE_TITLE = "关于暂停供水的通知"
NOTICE = [
    "各位居民：因东区主干水管更换阀门，本处将于十二月十八日上午九时至下午五时暂停供水，"
    "受影响的范围包括和平路、建国路及临江街一带。",
    "请各户提前储备用水。停水期间请关闭家中水龙头，以免恢复供水时发生漏水；如遇紧急情况，"
    "请拨打本处服务电话二三四五六七八九。",
    "恢复供水后，水质可能短时间浑浊，放水数分钟后即可正常使用。造成不便，敬请见谅。",
]
NOTICE_SIGNED = ["东区自来水管理处", "二〇二六年十二月十日"]

# The vertical page: columns of VERTICAL_CHARS characters, read from the right.
VERTICAL_TITLE = "古城春日记"
VERTICAL = [
    "清晨的古城还笼罩在薄雾之中，石板路上已经有了早起的行人。老街两旁的店铺陆续打开门窗，"
    "茶馆里飘出阵阵清香。",
    "午后阳光正好，游客们沿着城墙慢慢散步，远处的山峦与近处的屋檐相映成趣。傍晚时分，"
    "街灯亮起，小城又换上了另一副模样。",
]
VERTICAL_CHARS = 16


class Page:
    """A white page to draw on, its geometry ``scale`` times that of the clean renders."""

    def __init__(self, font_path: str, width: int, height: int, scale: float = 1.0) -> None:
        self.font_path = font_path
        self.scale = scale
        self.img = Image.new("L", (width, height), 255)
        self.draw = ImageDraw.Draw(self.img)

    def px(self, v: float) -> int:
        """A length of the clean renders (pixels) on this page."""
        return round(v * self.scale)

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
    px = page.px
    body_size, cap_size = px(BODY), px(CAPTION)
    body, cap = page.font(body_size), page.font(cap_size)
    items: list[tuple[str, float, str, int]] = []  # kind, x offset, text, height
    for kind, text in blocks:
        if kind == "photo":
            items.append(("photo", 0, "", px(150)))
            continue
        if kind == "heading":
            items.append(("gap", 0, "", px(BODY // 2)))
            items += [("heading", 0, t, round(body_size * LEAD)) for _, t in wrap(text, body, col_width, 0)]
            items.append(("gap", 0, "", px(BODY // 2)))
            continue
        if kind == "caption":
            items += [("caption", x, t, round(cap_size * LEAD)) for x, t in wrap(text, cap, col_width, 0)]
            items.append(("gap", 0, "", px(CAPTION // 2)))
            continue
        items += [("body", x, t, round(body_size * LEAD)) for x, t in wrap(text, body, col_width, 2 * body_size)]
    total = sum(h for *_, h in items)
    per_col = total / len(cols) + body_size * LEAD
    c, y, bottom = 0, top, top
    for kind, dx, text, h in items:
        if y - top + h > per_col and c + 1 < len(cols) and kind != "gap":
            c, y = c + 1, top
        if kind == "gap" and y == top:
            continue
        x = cols[c]
        if kind == "photo":
            page.draw.rectangle((x, y + px(4), x + col_width, y + h - px(12)), fill=200, outline=90, width=px(2))
            page.draw.ellipse((x + px(40), y + px(30), x + px(120), y + px(110)), fill=140)
            page.draw.polygon([(x + px(150), y + h - px(14)), (x + px(260), y + px(40)), (x + px(380), y + h - px(14))],
                              fill=110)
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


def crop_foot(img: Image.Image, margin: int) -> Image.Image:
    """``img`` without the unused foot of the page (``margin`` pixels kept below the print)."""
    bbox = Image.eval(img, lambda v: 255 - v).getbbox()
    return img.crop((0, 0, img.width, min(img.height, bbox[3] + margin)))


def seed_pages(font_path: str, articles: list, scale: float = 1.0) -> list[Image.Image]:
    """The two seed pages in grey (anti-aliased), at ``scale`` times the clean renders' size."""
    a1, a2, a3, a4 = articles
    px = Page(font_path, 1, 1, scale).px
    margin, gutter = px(MARGIN), px(GUTTER)
    col_w = COL_CHARS * px(BODY)
    width = 2 * margin + 3 * col_w + 2 * gutter
    cols = [margin + i * (col_w + gutter) for i in range(3)]

    p1 = Page(font_path, width, px(2400), scale)
    y = p1.centred(a1.title, px(44), margin, width - margin, margin)
    y = p1.centred(a1.subtitle.text, px(26), margin, width - margin, y + px(8))
    y = p1.centred(a1.byline.text, px(BODY), margin, width - margin, y + px(4))
    p1.draw.line((margin, y + px(10), width - margin, y + px(10)), fill=0, width=px(2))
    flow(p1, article_blocks(a1), cols, y + px(30), col_w)

    p2 = Page(font_path, width, px(2400), scale)
    two = col_w * 2 + gutter
    y = p2.centred(a2.title, px(36), margin, margin + two, margin)
    body2 = article_blocks(a2)
    if a2.byline is not None:
        body2[0] = ("paragraph", a2.byline.text + body2[0][1])  # 本报讯(…) starts the first paragraph
    y3 = flow(p2, body2, cols[:2], y + px(16), col_w) + px(60)
    p2.draw.line((margin, y3 - px(24), margin + two, y3 - px(24)), fill=0, width=px(2))
    y = p2.centred(a3.title, px(36), margin, margin + two, y3)
    body3 = article_blocks(a3)
    body3[0] = ("paragraph", a3.byline.text + body3[0][1])
    flow(p2, body3, cols[:2], y + px(16), col_w)
    y = p2.centred(a4.title[:10], px(30), cols[2], cols[2] + col_w, margin)  # a headline in two lines
    y = p2.centred(a4.title[10:], px(30), cols[2], cols[2] + col_w, y)
    body4 = article_blocks(a4)
    body4[0] = ("paragraph", a4.byline.text + body4[0][1])
    flow(p2, body4, cols[2:], y + px(16), col_w)
    return [crop_foot(p.img, margin) for p in (p1, p2)]


def notice_page(font_path: str) -> tuple[Image.Image, dict]:
    """The traditional-character notice (one column, 22-pixel text) and its truth."""
    import opencc

    s2t = opencc.OpenCC("s2t")
    title = s2t.convert(NOTICE_TITLE)
    paragraphs = [s2t.convert(p) for p in NOTICE]
    signed = [s2t.convert(s) for s in NOTICE_SIGNED]
    width = 2 * MARGIN + 28 * BODY
    page = Page(font_path, width, 1200)
    body = page.font(BODY)
    y = page.centred(title, 36, MARGIN, width - MARGIN, MARGIN) + BODY
    step = round(BODY * LEAD)
    for i, text in enumerate(paragraphs):
        for x, line in wrap(text, body, width - 2 * MARGIN, 0 if i == 0 else 2 * BODY):
            page.draw.text((MARGIN + x, y), line, font=body, fill=0)
            y += step
    y += step
    for line in signed:  # set flush right, under the text
        page.draw.text((width - MARGIN - body.getlength(line), y), line, font=body, fill=0)
        y += step
    img = crop_foot(page.img, MARGIN)
    truth = {"title": title, "header": [], "blocks": [["paragraph", t] for t in paragraphs + signed]}
    return img, truth


def vertical_page(font_path: str) -> tuple[Image.Image, dict]:
    """The vertical page (22-pixel text, a character every 24 pixels down a column, columns
    33 pixels apart from right to left) and its truth."""
    step, pitch = round(BODY * LEAD), BODY + 2
    columns: list[tuple[int, str, int]] = [(0, VERTICAL_TITLE, 30)]  # (first cell, text, size)
    for text in VERTICAL:
        cells = 2 + len(text)  # indented two characters
        for k in range(0, cells, VERTICAL_CHARS):
            columns.append((2 if k == 0 else 0, text[max(0, k - 2):k + VERTICAL_CHARS - 2], BODY))
    width = 2 * MARGIN + (len(columns) + 1) * step
    page = Page(font_path, width, 2 * MARGIN + VERTICAL_CHARS * pitch)
    x = width - MARGIN - step
    for i, (first, text, size) in enumerate(columns):
        f = page.font(size)
        cell = pitch if size == BODY else size + 4
        for j, ch in enumerate(text):
            page.draw.text((x + (BODY - f.getlength(ch)) / 2, MARGIN + (first + j) * cell), ch, font=f, fill=0)
        x -= step * (2 if i == 0 else 1)  # a white column after the title
    truth = {"title": VERTICAL_TITLE, "header": [], "blocks": [["paragraph", t] for t in VERTICAL]}
    return page.img, truth


def one_bit(img: Image.Image) -> Image.Image:
    return img.convert("1", dither=Image.Dither.NONE)


def main(font_path: str = FONT, out: Path = HERE) -> None:
    """Write the renders and ``truth.json`` into ``out`` (default: beside this file)."""
    doc = read_document(ROOT / "seeds" / "000_2575e84d6e1eb83a.txt")
    a1, a2, a3, a4 = doc.articles
    pages = seed_pages(font_path, doc.articles)
    for i, img in enumerate(pages, 1):
        one_bit(img).save(out / f"seed_p{i}.png", optimize=True)
    bw = [one_bit(p) for p in pages]
    # No creation or modification date: the same pages make the same file.
    bw[0].save(out / "seed_scan.pdf", save_all=True, append_images=bw[1:], resolution=150,
               creationDate=None, modDate=None)

    rng = random.Random(7)
    for i, (img, angle) in enumerate(zip(pages, (1.5, -1.0)), 1):
        noisy = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
        px = noisy.load()
        w, h = noisy.size
        for _ in range(w * h // 500):  # speckles: dust and paper grain
            x, y = rng.randrange(w), rng.randrange(h)
            px[x, y] = rng.choice((0, 90, 160))
        noisy = noisy.filter(ImageFilter.GaussianBlur(0.6))
        noisy.save(out / f"seed_noisy_p{i}.jpg", quality=50, optimize=True)

    for i, (img, angle) in enumerate(zip(pages, ROTATED), 1):  # the scanner's own threshold, after the skew
        turned = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
        one_bit(turned).save(out / f"seed_rotated_p{i}.png", optimize=True)

    for i, img in enumerate(seed_pages(font_path, doc.articles, SMALL_SCALE), 1):
        grey = img.reduce(2).point(lambda v: round(v * 3 / 255) * 85)  # four levels of grey (2 bits)
        grey.convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(
            out / f"seed_150dpi_p{i}.png", optimize=True, bits=2)

    notice, notice_truth = notice_page(font_path)
    one_bit(notice).save(out / "notice_tc.png", optimize=True)
    vertical, vertical_truth = vertical_page(font_path)
    one_bit(vertical).save(out / "vertical.png", optimize=True)

    truth = {"seed_p1": [truth_of(a1)], "seed_p2": [truth_of(a2), truth_of(a3), truth_of(a4)],
             "notice_tc": [notice_truth], "vertical": [vertical_truth]}
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:2])
