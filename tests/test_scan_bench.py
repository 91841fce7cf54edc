"""The scanned pages of data/scans (data/scans/make_scans.py) and what measures them
(scripts/bench_scans.py): the renders are what the generator makes, every render has its
truth, and the seed questions are answered from the seed's text and from its scans alike."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from qa.documents import ocr, read_document
from qa.documents.reading_order import TextBox
from qa.evaluate import Question, best_f1

ROOT = Path(__file__).resolve().parent.parent
SCANS = ROOT / "data" / "scans"


def _module(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bench():
    return _module(ROOT / "scripts" / "bench_scans.py")


def test_every_render_has_its_truth_and_stays_small(bench):
    truth = json.loads((SCANS / "truth.json").read_text(encoding="utf-8"))
    assert bench.truth_keys("seed_rotated_p2.png", 1) == ["seed_p2"]
    assert bench.truth_keys("seed_150dpi_p1.png", 1) == ["seed_p1"]
    assert bench.truth_keys("notice_tc.png", 1) == ["notice_tc"]
    assert bench.truth_keys("vertical.png", 1) == ["vertical"] and bench.kind_of("vertical.png") == "vertical"
    assert bench.truth_keys("seed_scan.pdf", 2) == ["seed_p1", "seed_p2"]
    assert [bench.kind_of(n) for n in ("seed_p1.png", "seed_rotated_p1.png", "seed_150dpi_p2.png", "notice_tc.png",
                                        "seed_noisy_p2.jpg", "seed_scan.pdf")] == [
        "clean", "rotated", "150dpi", "traditional", "noisy", "clean"]
    for name in bench.FILES:
        assert (SCANS / name).stat().st_size < 500_000, name
        assert all(key in truth for key in bench.truth_keys(name, 2)), name
    # The seed pages render the document the question comparison indexes as text.
    doc = read_document(bench.SEED)
    assert [a["title"] for k in ("seed_p1", "seed_p2") for a in truth[k]] == [a.title for a in doc.articles]
    # The notice is in traditional characters.
    notice = truth["notice_tc"][0]
    assert notice["title"] == "關於暫停供水的通知" and "東區" in notice["blocks"][0][1]


def test_the_committed_renders_are_what_the_generator_makes(tmp_path):
    make = _module(SCANS / "make_scans.py")
    if not Path(make.FONT).is_file():
        pytest.skip(f"the font {make.FONT} is not installed (apt-get install fonts-wqy-microhei)")
    make.main(make.FONT, tmp_path)
    assert (tmp_path / "truth.json").read_text(encoding="utf-8") == (SCANS / "truth.json").read_text(encoding="utf-8")
    for name in ("seed_p1.png", "seed_rotated_p1.png", "seed_rotated_p2.png", "seed_150dpi_p2.png", "notice_tc.png",
                 "vertical.png"):
        made, kept = Image.open(tmp_path / name).convert("L"), Image.open(SCANS / name).convert("L")
        assert made.size == kept.size, name
        differ = ImageChops.difference(made, kept).point(lambda v: 255 if v > 64 else 0).histogram()[255]
        assert differ <= 0.002 * made.width * made.height, name  # another FreeType may shift a few pixels
    # The rotated pages are the clean ones turned by ±2°: wider and taller by the turn.
    w, h = Image.open(SCANS / "seed_p1.png").size
    rw, rh = Image.open(SCANS / "seed_rotated_p1.png").size
    assert (rw, rh) == pytest.approx((w * 0.99939 + h * 0.0349, h * 0.99939 + w * 0.0349), abs=2)


SEED_TEXT = "龙山区宣讲活动\n\n今年以来，全区开展宣讲1300余场次，受众达5千余人。\n"


def _boxes(text: str) -> list[TextBox]:
    """A page as OCR reads it: the headline, then the paragraph on one line."""
    head, body = text.split("\n\n")
    return [TextBox((0, 0, 480, 36), head.strip(), 0.97), TextBox((44, 60, 960, 82), body.strip(), 0.95)]


@pytest.mark.parametrize("read_as", ["1300余", "l300余"])
def test_the_seed_questions_answered_from_the_text_and_from_the_scan(bench, tmp_path, monkeypatch, fake_embedder,
                                                                     fake_reader, read_as):
    # OCR reads the page right, or misreads the 1 as an l: the fake reader then answers 300余.
    seed = tmp_path / "seed.txt"
    seed.write_text(SEED_TEXT, encoding="utf-8")
    monkeypatch.setattr(ocr, "recognise", lambda image: _boxes(SEED_TEXT.replace("1300余", read_as)))
    Image.new("L", (1000, 100), 255).save(tmp_path / "seed_p1.png")
    questions = [
        Question("q1", "宣讲开展了多少场次？", ("1300余",), "开展宣讲1300余场次"),
        Question("q2", "全区开展宣讲多少场次？", ("1300余",), "宣讲1300余场次", doc="seed.txt"),
        Question("q3", "别处的问题？", ("5期",), "拍摄短视频5期"),  # evidence elsewhere: another document's
        Question("q4", "别的文档？", ("1300余",), "宣讲1300余场次", doc="other.txt"),
        Question("q5", "无法回答的问题？", ()),
    ]
    gap = best_f1("300余", ("1300余",)) - 1 if read_as != "1300余" else 0.0
    mine = bench.seed_questions(questions, seed)
    assert [q.id for q in mine] == ["q1", "q2"]
    c = bench.compare_questions(mine, [tmp_path / "seed_p1.png"], tmp_path / "work", seed, reader=fake_reader,
                                embedder=fake_embedder)
    assert c["questions"] == 2 and c["text"]["f1"] == 1.0 and c["text"]["em"] == 1.0
    assert c["difference"]["f1"] == pytest.approx(gap, abs=0.01)
    assert c["within_target"] == (abs(gap) <= bench.MAX_F1_GAP)
    assert [r["id"] for r in c["differ"]] == ([] if gap == 0.0 else ["q1", "q2"])
    if gap:
        assert c["differ"][0]["text"] == "1300余" and c["differ"][0]["scanned"] == "300余"
    assert "scanned − text" in bench.format_comparison(c)
    # The work folder holds the two indexes; a second run reads nothing through OCR again.
    assert (tmp_path / "work" / "text" / "index").is_dir() and (tmp_path / "work" / "scanned" / "index").is_dir()
    monkeypatch.setattr(ocr, "recognise", lambda image: pytest.fail("read twice"))
    again = bench.compare_questions(mine, [tmp_path / "seed_p1.png"], tmp_path / "work", seed, reader=fake_reader,
                                    embedder=fake_embedder)
    assert again["difference"] == c["difference"]
