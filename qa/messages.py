"""The words a user is shown, in one language per reply: the question's.

A question written in English (:func:`language`) gets its reply in English; every other question, and everything that is not a reply to a question (uploads,
the documents tab, the login), is in Chinese.  A :class:`Message` holds both forms so a
reply never mixes them in one line.

Why a file was skipped or refused, or why the documents folder can't be used, is a
:class:`Reason` (a kind from :data:`REASONS` and its values), carried by the error that the
readers and the build raise (:class:`ReasonedError`): the app shows it in Chinese, the CLI
and the log in English.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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
NOT_MONEY = Message("文档中没有找到问题所问的金额（最接近的答案“{span}”不是金额），以下是最接近的段落。",
                    "The documents give no sum of money for this question (the closest answer, “{span}”, is not one); "
                    "the closest passages are listed.")
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


# ------------------------------------------------------------------ why a file or folder can't be used
# A reader, a build or the folder check gives a kind and values (a :class:`Reason`); the app shows
# the Chinese words, the CLI and the log the English (what str() of the error gives).  The Chinese
# leaves out what only an administrator can read (a library's own exception text).

OTHER = "other"  # a reason given as free text (its English only)
REASONS: dict[str, Message] = {
    # which files are read (qa.documents.reading, qa.index)
    "unsupported_type": Message("不支持的文件类型 {suffix}（可以读取的类型：{supported}）",
                                "unsupported file type {suffix}; supported: {supported}"),
    "no_suffix": Message("文件没有扩展名，无法判断类型（可以读取的类型：{supported}）",
                         "unsupported file type (none); supported: {supported}"),
    "too_big": Message("文件有 {mb:.1f} MB，超过每个文档 {limit} MiB 的上限",
                       "{mb:.1f} MB is over the {limit} MiB limit per document"),
    "cannot_read": Message("文件读取失败（可能已被移走或正在写入，或没有读取权限）", "cannot read: {detail}"),
    "cannot_parse": Message("无法解析这个 {suffix} 文件（文件可能已损坏，或内容不是这种格式）",
                            "cannot parse {suffix} file: {detail}"),
    "duplicate": Message("与 {other} 内容相同，只索引一次", "same content as {other}, indexed once"),
    "empty": Message("没有可以索引的文字（空文档）", "no text to index (empty document)"),
    "no_folder": Message("找不到文档文件夹 {folder}", "seeds folder not found: {folder}"),
    "changed": Message("{doc} 在建立索引之后被修改过，请重建索引",
                       "{doc} has changed since the index was built: rebuild the index"),
    # text files (qa.documents.decoding)
    "no_encoding": Message("无法识别文字编码（可能是二进制文件，或不支持的编码）",
                           "cannot detect a text encoding (binary file, or an unsupported encoding)"),
    # images and scans (qa.documents.images, qa.documents.ocr)
    "not_an_image": Message("不是图片文件，或是无法读取的图片格式",
                            "not an image file, or an image format that cannot be read"),
    "image_corrupt": Message("图片已损坏或不完整", "the image is corrupt or truncated ({detail})"),
    "image_bomb": Message("图片太大，无法安全打开", "the image is too large to open safely ({detail})"),
    "too_many_pages": Message("图片有 {pages} 页，超过 {limit} 页的上限", "the image has {pages} pages, over the limit of {limit}"),
    "too_many_pixels": Message(
        "图片为 {w}×{h} 像素（约 {mp:.0f} 百万像素），超过每页 {limit:.0f} 百万像素的上限；请用较低的分辨率重新扫描",
        "the image is {w}×{h} pixels ({mp:.0f} MP), over the limit of {limit:.0f} MP per page; "
        "scan it at a lower resolution"),
    "no_pages": Message("图片中没有任何页面", "the image has no pages"),
    "ocr_no_text": Message("文字识别（OCR）在图片上没有找到文字", "OCR found no text on the image"),
    "ocr_cannot_start": Message("文字识别（OCR）无法启动（组件不完整）；请管理员检查安装后重建索引",
                                "OCR cannot start ({detail}); check the OCR extra's installation"),
    "ocr_failed": Message("文字识别（OCR）读这个文件时出错（详情见服务器日志）", "OCR failed on a page ({detail})"),
    "ocr_not_installed": Message("这台服务器没有安装文字识别（OCR）组件，读不了扫描件；请管理员安装后重建索引",
                                 "reading images needs the OCR extra ({hint}, which installs rapidocr-onnxruntime)"),
    "ocr_no_library": Message(
        "文字识别（OCR）无法启动：缺少系统库 libgl1、libglib2.0-0；请管理员安装后重建索引",
        "OCR cannot start: OpenCV needs a system library ({detail}); on Debian or Ubuntu: "
        "apt-get install libgl1 libglib2.0-0"),
    # PDF (qa.documents.pdf)
    "pdf_encrypted": Message("PDF 已加密，这台服务器缺少打开它所需的解密库",
                             "the PDF is encrypted and cannot be opened here ({detail}); it is skipped"),
    "pdf_password": Message("PDF 设有密码，无法打开；请换成没有密码的版本",
                            "the PDF is protected by a password; it is skipped"),
    "pdf_no_text": Message("PDF 没有文字层，也没有可以识别的页面图像",
                           "the PDF has no text layer and no page image to read (a scanned document?); it is skipped"),
    # the documents folder (qa.index.check_folder, qa.seeds.documents_folder)
    "folder_missing": Message(
        "文档文件夹 {folder} 不见了（被移动、改名，或所在的磁盘没有挂载？）。索引保留原有的 {documents} 个文档，"
        "没有重建，也不能上传。请把文件夹放回原处或重新挂载磁盘，然后点“重建索引”。",
        "the documents folder {folder} is missing (moved, renamed, or on a disk that is not mounted?): "
        "the index in {index} keeps its {documents} documents, nothing was rebuilt"),
    "folder_empty": Message(
        "文档文件夹 {folder} 里没有文档，而索引里有 {documents} 个，所以索引没有被清空，也不能上传。"
        "如果文档被移到了别处，请放回这个文件夹，然后点“重建索引”；如果是有意全部删除，"
        "请管理员删除索引文件夹 {index} 后重新建立。",
        "the documents folder {folder} holds no documents, but the index in {index} has {documents}: "
        "it was not emptied. If the documents were removed on purpose, delete {index} and build it again"),
    "folder_mismatch": Message(
        "索引 {index} 是用 {recorded} 里的文档建立的，不是 {given}，所以没有做任何改动。"
        "启动时不指定文档文件夹（--seeds 或 QA_SEEDS），即可使用索引自己的文档；"
        "要索引 {given}，请另外指定一个索引文件夹（--index）。",
        "the index in {index} was built from the documents in {recorded}, not from {given}: nothing was changed. "
        "Leave out --seeds/QA_SEEDS to use the index with its own documents, or give another --index folder "
        "to index {given}"),
    OTHER: Message("出错了（详情见服务器日志）", "{detail}"),
}


@dataclass(frozen=True)
class Reason:
    """Why a file was skipped or refused, or why the documents folder can't be used: its ``kind``
    (a key of :data:`REASONS`), the ``values`` its words are formatted with, and the file's
    ``name`` (shown first; "" for none).  ``str()`` is the English (the CLI, the log);
    :meth:`text` gives either language."""

    kind: str
    values: Mapping[str, object] = field(default_factory=dict)
    name: str = ""

    def text(self, lang: Lang = "en") -> str:
        message = REASONS.get(self.kind)
        words = message(lang, **self.values) if message else REASONS[OTHER](lang, detail=self.kind)
        if not self.name:
            return words
        return f"{self.name}：{words}" if lang == "zh" else f"{self.name}: {words}"

    def named(self, name: str) -> Reason:
        return replace(self, name=name)

    def __str__(self) -> str:
        return self.text("en")


class ReasonedError(Exception):
    """An error that carries its :class:`Reason`: ``str()`` is the English, ``reason.text("zh")``
    what the app shows.  Given free text instead, its kind is :data:`OTHER`."""

    def __init__(self, why: Reason | str) -> None:
        self.reason = why if isinstance(why, Reason) else Reason(OTHER, {"detail": why})
        super().__init__(str(self.reason))

    @classmethod
    def of(cls, kind: str, /, **values: object):
        """The error for a reason of ``kind`` (a key of :data:`REASONS`) with these values."""
        return cls(Reason(kind, values))
