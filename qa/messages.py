"""The words a user is shown, in one language per reply: the question's.

A question written in English (:func:`language`) gets its reply in English; every other question, and everything that is not a reply to a question (uploads,
the documents tab, the login), is in Chinese.  A :class:`Message` holds both forms so a
reply never mixes them in one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Lang = Literal["zh", "en"]


def language(question: object) -> Lang:
    """``"en"`` for an English question: mostly Latin letters, two words or more (what
    :func:`qa.query.clean_question` takes for a Latin question); else ``"zh"``, also for no question."""
    from .query import is_latin  # qa.query words its own notes with these messages

    if not isinstance(question, str) or len(re.findall(r"[A-Za-z]{2,}", question)) < 2:
        return "zh"
    return "en" if is_latin(question) else "zh"


@dataclass(frozen=True)
class Message:
    """One message in Chinese and English; :meth:`__call__` gives it in one of them, formatted."""

    zh: str
    en: str

    def __call__(self, lang: Lang, **values: object) -> str:
        return (self.en if lang == "en" else self.zh).format(**values)


# answer() and read()
NO_PASSAGES = Message("文档中没有找到相关内容。", "Nothing in the documents is related to this question.")
NOT_A_QUESTION = Message("这不像一个完整的问题，以下是相关段落。", "This is not a question: here are the passages that mention it.")
NOT_ANSWERED = Message("文档中没有找到能回答这个问题的内容，以下是最接近的段落。",
                       "The documents don't answer this question; the closest passages are listed.")
OTHER_LITERAL = Message("文档中提到的是别的内容（没有“{literal}”），以下是最接近的段落。",
                        "The documents speak of something else (“{literal}” is not in them); the closest passages are listed.")
CANNOT_ANSWER = Message("无法回答：{error}", "Cannot answer: {error}")
INTERNAL_ERROR = Message("内部错误（{error}），请重试或换个问法。", "Internal error ({error}): please try again or rephrase.")
NO_TEXT = Message("请提供要阅读的文字。", "Please give the text to read.")
TEXT_TOO_LONG = Message("文字过长（{chars} 字），read() 最多读 {limit} 字；请建立索引后用 answer()。",
                        "The text is {chars} characters long; read() reads at most {limit}: index it and use answer().")
TEXT_NOT_ANSWERED = Message("这段文字没有回答这个问题。", "The text does not answer this question.")
LOW_OCR = Message("答案所在的行是从扫描页面识别出来的，识别把握不高，请对照原页核实。",
                  "The answer stands on a line of a scanned page that OCR read with low confidence: check it on the page.")
# the question itself
QUESTION_CUT = Message("问题过长，只使用了前 {limit} 个字。", "The question was cut to its first {limit} characters.")
ASK_IN_CHINESE_OR_ENGLISH = Message("请用中文或英文提问（文档是中文的）。",
                                    "Please ask in Chinese or English (the documents are in Chinese).")
