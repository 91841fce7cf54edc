"""English questions over Chinese text: their words in Chinese for the keyword side (qa.glossary)."""

from __future__ import annotations

from qa.glossary import chinese_words, reverse_entries

LINES = [
    "# CC-CEDICT",
    "果園 果园 [guo3 yuan2] /orchard/",
    "圃 圃 [pu3] /garden/orchard/",
    "縣 县 [xian4] /county/",
    "郡 郡 [jun4] /canton/county/region/",
    "機械 机械 [ji1 xie4] /machine/machinery/",
    "熱表 热表 [re4 biao3] /heat meter/",
    "組織 组织 [zu3 zhi1] /to organize/organization/",
    "一石二鳥 一石二鸟 [yi1 shi2 er4 niao3] /to kill two birds with one stone/",  # an idiom: left out
    "不 不 [bu4] /(negative prefix)/not/no/",
    "美國 美国 [Mei3 guo2] /United States/US/",
    "用 用 [yong4] /to use/",
    "希望 希望 [xi1 wang4] /to hope/",
    "跳 跳 [tiao4] /to hop/to jump/",
    "注意 注意 [zhu4 yi4] /to note/",
    "飛機 飞机 [fei1 ji1] /airplane/plane/",
    "計劃 计划 [ji4 hua4] /plan/",
]
FREQ = {"果园": 900, "圃": 20, "县": 5000, "郡": 300, "机械": 800, "组织": 7000}


def _index(tmp_path, embedder, **docs: str):
    """An index of the given documents (file name without ".txt" → text), with ``embedder``."""
    from qa.index import build_index, load_index

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name, text in docs.items():
        (seeds / f"{name}.txt").write_text(text + "\n", encoding="utf-8")
    build_index(seeds, tmp_path / "index", embedder=embedder, progress=False)
    return load_index(tmp_path / "index", embedder=embedder)


def test_the_dictionary_turned_around_keeps_short_glosses_of_words():
    g = reverse_entries(LINES)
    assert g["orchard"] == ("圃", "果园") and g["county"] == ("县", "郡")
    assert g["organize"] == ("组织",)  # "to organize"
    assert g["heat meter"] == ("热表",)
    assert "kill two birds with one stone" not in g and "negative prefix" not in g  # notes in brackets go


def test_english_words_get_their_most_frequent_chinese_words():
    g = reverse_entries(LINES)
    words = chinese_words(["old", "orchards", "county", "organized", "machines", "2025"], FREQ.get, g, per_word=1)
    assert words == ["果园", "县", "组织", "机械"]  # plurals and -ed found; unknown words and numbers add nothing
    assert chinese_words(["orchard"], lambda w: FREQ.get(w, 0), g) == ["果园", "圃"]
    assert chinese_words(["heat", "meter"], lambda w: 0, g) == ["热表"]  # two neighbours glossed together
    assert chinese_words(["orchard"], FREQ.get, {}) == []
    # The shortest cut of an ending first: not "us", "hop", "not" or "plan".
    assert chinese_words(["uses", "hoped", "noting", "planes"], lambda w: 0, g, per_word=1) == ["用", "希望", "注意", "飞机"]


def test_an_english_question_finds_a_chinese_passage_by_keyword(tmp_path, fake_embedder):
    from qa.query import analyse
    from qa.retrieval import retrieve

    index = _index(tmp_path, fake_embedder, a="桐川镇今年改造老果园8000亩，新栽柑橘苗12万株。",
                   b="县图书馆每周开放时间不少于40个小时，节假日照常开放。", c="全市共有中小学156所，在校学生9.8万人。")

    q = analyse("How many mu of old orchards were renovated this year?", "", index)
    assert "果园" in q.tokens
    hits = retrieve(index, q, k=3, mode="keyword")
    assert hits and hits[0].passage.doc == "a.txt"
    hits = retrieve(index, analyse("How many hours a week must the library open?", "", index), k=3, mode="keyword")
    assert hits and hits[0].passage.doc == "b.txt"
    # A Chinese question is tokenised as it is.
    assert analyse("老果园改造了多少亩？", "", index).tokens == index.tokenizer.words("老果园改造了多少亩？")


def test_without_the_dictionary_an_english_question_keeps_its_own_words(tmp_path, fake_embedder, monkeypatch):
    import qa.glossary as glossary
    from qa.query import analyse

    monkeypatch.setattr(glossary, "CEDICT", ("no_such_package_here", "cedict.txt"))
    glossary._dictionary.cache_clear()
    index = _index(tmp_path, fake_embedder, a="桐川镇今年改造老果园8000亩。")
    question = "How many mu of old orchards were renovated?"
    try:
        assert analyse(question, "", index).tokens == index.tokenizer.words(question)
    finally:
        glossary._dictionary.cache_clear()


def test_english_words_the_documents_hold_are_not_glossed(tmp_path, fake_embedder):
    from qa.glossary import chinese_words as glossed
    from qa.query import analyse
    from qa.text import word_frequency

    index = _index(tmp_path, fake_embedder, a="县图书馆每周开放时间不少于40个小时。",
                   b="The library opened a reading room for children.")

    tokens = analyse("How many hours a week is the library open?", "", index).tokens
    assert "小时" in tokens and "library" in tokens
    library = glossed(["library"], word_frequency)
    assert library and not set(library) & set(tokens)  # "library" is in the documents as it is


def test_a_chinese_follow_up_to_an_english_question_keeps_its_glossed_words(tmp_path, fake_embedder):
    from qa.glossary import chinese_words as glossed
    from qa.query import analyse
    from qa.text import word_frequency

    index = _index(tmp_path, fake_embedder, a="县图书馆每周开放时间不少于40个小时，周末上午九点开门。")

    first = "How many hours a week is the library open?"
    library = glossed(["library"], word_frequency)
    assert library and set(library) <= set(analyse(first, "", index).tokens)
    follow = analyse("那周末呢？", "", index, history=[(first, None)])
    assert first in follow.retrieval_text  # a follow-up: the English question is searched with it
    assert set(library) <= set(follow.tokens)
    alone = analyse("那周末呢？", "", index)
    assert not set(library) & set(alone.tokens)
