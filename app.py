"""Web chat: ``python app.py [--host H] [--port P] [--index DIR] [--seeds DIR] [--users FILE] [--read-only]``.

Only wiring lives here: the documents and the index are :class:`qa.library.Library`,
the HTML of replies is :mod:`qa.render`, of the documents' panels :mod:`qa.library_html`,
the ``ask`` API's data :mod:`qa.api`.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import gradio as gr  # noqa: E402

from qa import api, config, library_html, messages, precision, render  # noqa: E402
from qa.documents import MAX_DOCUMENT_BYTES, SUPPORTED_SUFFIXES  # noqa: E402
from qa.index import IndexError_  # noqa: E402
from qa.library import Library, UpdateResult  # noqa: E402
from qa.messages import ReasonedError  # noqa: E402
from qa.records import Answer  # noqa: E402
from qa.uploads import too_large  # noqa: E402

TITLE = "文档问答"
# Gradio's login page follows the browser's language (用户名 / 密码 in a Chinese browser); this is ours.
AUTH_MESSAGE = "请登录（用户名和密码由管理员提供）。"
HISTORY_TURNS = 5  # previous (question, answer) pairs given to follow-ups
INDEX_WAIT_S = 90.0  # a question waits this long for new documents to be indexed, then uses the old index
TICK_S = 0.5  # how often a running build's progress is shown
FONTS = ["system-ui", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", "sans-serif"]
INTRO = (
    '<p class="qa-intro">向文档提问：答案直接摘自原文，并注明出处（文档、日期、段落）；'
    "把握中等时标为“可能的答案”，请核对原文；没有把握或文档里没有时直说，并列出最接近的段落。"
    '<br><small>也可以用英文提问，回答用英文。</small></p>'
)
UPLOAD_TYPES = "、".join(SUPPORTED_SUFFIXES)
# Gradio's own size check (launch's max_file_size) shows an English toast, so it is set well above
# the limit per document: a file over MAX_DOCUMENT_BYTES reaches the app, which refuses it in
# Chinese (refused_upload); Gradio stops only what is far too large to be a document.
MAX_UPLOAD_BYTES = 10 * MAX_DOCUMENT_BYTES
log = logging.getLogger("qa.app")


def unsupported_upload(name: str) -> str:
    """The reason an upload's file type is refused, in Chinese and naming the allowed types; "" if allowed.

    Gradio's own check would show an English message, so the upload button accepts any file
    and this one decides (the library checks the name again when it saves the file)."""
    suffix = Path(name).suffix.lower()
    if suffix in SUPPORTED_SUFFIXES:
        return ""
    kind = f"“{suffix}”文件" if suffix else "没有扩展名的文件"
    return f"不能上传 {name}：不支持{kind}。可以上传的类型：{UPLOAD_TYPES}。"


def refused_upload(path: str | Path, name: str) -> str:
    """Why an upload is refused before it is saved (its type, or its size over the limit per
    document), in Chinese; "" if it may be saved (the library checks it again, and its content)."""
    why = unsupported_upload(name)
    if why:
        return why
    try:
        size = os.stat(path).st_size
    except OSError:
        return ""  # the library says why it cannot read it
    return too_large(name, size) if size > MAX_DOCUMENT_BYTES else ""


def error_text(exc: BaseException) -> str:
    """An error of a build, upload or removal as the documents tab shows it: its reason in Chinese
    when it has one (a folder that is gone or emptied), else its type (the details are logged)."""
    if isinstance(exc, ReasonedError):
        return exc.reason.text("zh")
    return f"出错了（{type(exc).__name__}），详情见服务器日志。"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    p = argparse.ArgumentParser(description="Web chat over the documents in the seeds folder.")
    p.add_argument("--host", default=env.get("QA_HOST", "127.0.0.1"), help="address to listen on (env QA_HOST)")
    p.add_argument("--port", type=int, default=int(env.get("QA_PORT", "7860")), help="port (env QA_PORT)")
    p.add_argument("--index", type=Path, default=config.index_dir(), help="index folder (env QA_INDEX)")
    p.add_argument(
        "--seeds", type=Path, default=config.given_seeds_dir(),
        help="documents folder (env QA_SEEDS; default: the one the index was built from, else seeds/)",
    )
    p.add_argument(
        "--users", type=Path, default=Path(env["QA_USERS_FILE"]) if env.get("QA_USERS_FILE") else None,
        help="file of user:password lines for the login (env QA_USERS_FILE; or QA_USERS='alice:pw,bob:pw')",
    )
    p.add_argument(
        "--no-auth", "--allow-remote", dest="no_auth", action="store_true",
        help="listen on a non-loopback --host without a login: anyone who can reach it can use the app",
    )
    p.add_argument(
        "--read-only", action="store_true", default=env.get("QA_READ_ONLY", "") not in ("", "0"),
        help="no uploads and no removal of documents (env QA_READ_ONLY=1)",
    )
    return p.parse_args(argv)


def parse_users(text: str, where: str = "QA_USERS") -> list[tuple[str, str]]:
    """``user:password`` entries separated by commas or lines (``#`` comments) as login pairs."""
    users: dict[str, str] = {}
    for n, item in enumerate(text.replace(",", "\n").splitlines(), 1):
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        name, sep, password = item.partition(":")
        if not sep or not name.strip() or not password:
            raise SystemExit(f"error: {where} entry {n} is not user:password")
        if name.strip() in users:
            raise SystemExit(f"error: {where}: user {name.strip()!r} is given twice")
        users[name.strip()] = password
    return list(users.items())


def load_users(path: Path | None, env: str = "") -> list[tuple[str, str]]:
    """The login users: from ``--users FILE`` when given, else from ``QA_USERS``; [] for none."""
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SystemExit(f"error: cannot read --users {path}: {exc.strerror or exc}") from exc
        users = parse_users(text, str(path))
        if not users:
            raise SystemExit(f"error: --users {path} has no user:password lines")
        return users
    return parse_users(env)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_warning(host: str, no_auth: bool, users: list[tuple[str, str]] | None = None) -> str:
    """"" when the host is loopback or has a login; a warning when the login is waived; exits otherwise."""
    if is_loopback(host) or users:
        return ""
    if not no_auth:
        raise SystemExit(
            f"error: --host {host} is not a loopback address: give a login (QA_USERS='alice:pw' or "
            "--users FILE), or add --no-auth to let anyone who can reach it ask, upload and remove documents"
        )
    return (
        f"WARNING: listening on {host} without a login: anyone who can reach this machine can ask questions "
        "and upload or remove documents."
    )


def _follow(lib: Library, work: Callable[[], UpdateResult]) -> Iterator[str]:
    """Run ``work`` in a thread, yielding the library's progress as HTML; returns its result."""
    box: dict = {}

    def run() -> None:
        try:
            box["result"] = work()
        except Exception as exc:  # shown in the log panel, not lost in a thread
            log.error("%s", exc, exc_info=not isinstance(exc, ReasonedError))
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    while t.is_alive():
        yield library_html.progress_html(lib.progress()) or render.notice_html("正在处理…")
        t.join(TICK_S)
    if "error" in box:
        return UpdateResult(errors=[error_text(box["error"])])
    return box["result"]


def _padded(steps: Iterator[str], n: int):
    """``(html, skip × n)`` for each step of ``steps``; returns what ``steps`` returns."""
    while True:
        try:
            html = next(steps)
        except StopIteration as stop:
            return stop.value
        yield (html, *[gr.skip()] * n)


def build_ui(lib: Library, *, read_only: bool = False) -> gr.Blocks:
    """The Blocks app: a chat tab and a documents tab, plus the ``ask`` API endpoint."""

    def panels():
        return (
            library_html.status_html(lib.status(), lib.progress()),
            library_html.documents_html(lib.documents()),
            gr.Dropdown(choices=lib.document_names(), value=None),
        )

    def example_questions():
        return gr.Dataset(samples=[[q] for q in lib.examples()])

    def take_question(question: str, chat: list):
        q = (question or "").strip()
        if not q:
            return gr.skip(), gr.skip(), "", gr.skip()
        return "", [*chat, {"role": "user", "content": render.question_html(q)}], q, gr.Dataset(visible=False)

    def wait_for_documents(chat: list) -> Iterator[list]:
        """Index changed documents before answering, showing progress in the chat."""
        names = lib.refresh()
        if not names:
            return
        existing = sum((lib.seeds / n).is_file() for n in names)
        t0 = time.perf_counter()
        while not lib.wait(TICK_S) and time.perf_counter() - t0 < INDEX_WAIT_S:
            yield [*chat, {"role": "assistant", "content": library_html.indexing_notice(names, existing, lib.progress())}]
        done = lib.wait(0)
        note = f"已索引 {len(names)} 个有变动的文档。" if done else "索引还在进行，这次先用现有文档回答。"
        chat.append({"role": "assistant", "content": render.notice_html(note)})
        yield chat

    def reply(q: str, chat: list, history: list):
        if not q:
            yield gr.skip(), gr.skip()
            return
        for shown in wait_for_documents(chat):
            yield shown, gr.skip()
        index = lib.index  # the same index for the answer and its articles, even if a build swaps it
        a = lib.ask(q, history, index=index)
        html = render.answer_html(a, render.paragraphs_for(index))
        yield [*chat, {"role": "assistant", "content": html}], [*history, (q, a)][-HISTORY_TURNS:]

    def after_build(result: UpdateResult):
        """The result and the panels at once, then the example questions (checked: slower)."""
        yield library_html.update_html(result), *panels(), gr.skip()
        # The final output repeats the result, so a caller that reads only the last message sees it.
        yield library_html.update_html(result), gr.skip(), gr.skip(), gr.skip(), example_questions()

    def upload(files: list[str] | None, replace: bool):
        pairs = [(f, Path(f).name) for f in files or []]
        if not pairs:
            yield render.notice_html("请选择要上传的文件。"), *panels(), gr.skip()
            return
        whys = [refused_upload(f, name) for f, name in pairs]
        refused = [why for why in whys if why]
        pairs = [pair for pair, why in zip(pairs, whys) if not why]
        if not pairs:
            yield library_html.update_html(UpdateResult(errors=refused)), *panels(), gr.skip()
            return
        result = yield from _padded(_follow(lib, lambda: lib.add(pairs, replace=replace)), 4)
        result.errors[:0] = refused
        yield from after_build(result)

    def remove(name: str | None):
        if not name:
            yield render.notice_html("请先选择一个文档。"), *panels(), gr.skip()
            return
        result = yield from _padded(_follow(lib, lambda: lib.remove(name)), 4)
        yield from after_build(result)

    def rebuild():
        result = yield from _padded(_follow(lib, lib.rebuild), 4)
        yield from after_build(result)

    def ask(question: str, history: list | None = None) -> dict:
        """Answer a question from the documents.

        ``history``: optional list of previous ``[question, answer]`` pairs, oldest first, where
        ``answer`` is the answer text or the dict an earlier call returned. Returns found, level,
        text, display, sentence, text_start, confidence, answer_type, message, citations, related.
        """
        try:
            turns = api.history_from_api(history, messages.language(question))
        except api.HistoryError as exc:
            return api.answer_to_dict(Answer(question=str(question), found=False, message=str(exc))) | {"indexed": []}
        indexing = lib.refresh()
        if indexing:
            lib.wait(INDEX_WAIT_S)
        return api.answer_to_dict(lib.ask(question, turns[-HISTORY_TURNS:])) | {"indexed": indexing}

    with gr.Blocks(title=TITLE) as demo:
        gr.HTML(f"<h2>{TITLE}</h2>{INTRO}", elem_id="intro")
        history = gr.State([])
        pending = gr.State("")
        with gr.Tabs():
            with gr.Tab("对话", id="chat"):
                question = gr.Textbox(
                    show_label=False, placeholder="输入问题，按回车发送", scale=5, min_width=180,
                    elem_id="question", max_lines=4, render=False,
                )
                examples = gr.Dataset(
                    components=[question], samples=[], label="可以这样问（点击即提问）",
                    elem_id="examples", samples_per_page=6,
                )
                chat = gr.Chatbot(
                    label="对话", show_label=False, height="60vh", elem_id="chat",
                    latex_delimiters=[], feedback_options=None, buttons=[],
                    placeholder="请提问，答案会引用文档中的原句。",
                )
                with gr.Row(equal_height=True):
                    question.render()
                    send = gr.Button("提问", variant="primary", scale=1, min_width=80, elem_id="send")
                clear = gr.Button("清空对话", size="sm", elem_id="clear")
            with gr.Tab("文档", id="documents"):
                status = gr.HTML(elem_id="status")
                docs = gr.HTML(elem_id="documents")
                log = gr.HTML(elem_id="log")
                if read_only:
                    gr.HTML('<div class="qa-notice">只读模式：不能上传或删除文档。</div>', elem_id="read-only")
                else:
                    with gr.Group():
                        # No file_types: any file is accepted here and checked by refused_upload, so a
                        # wrong type (or size: see MAX_UPLOAD_BYTES) gets a Chinese message, not
                        # Gradio's English toast.
                        upload_btn = gr.UploadButton(
                            f"选择文件上传（{' '.join(SUPPORTED_SUFFIXES)}，每个不超过 {MAX_DOCUMENT_BYTES // 2**20} MB）",
                            file_count="multiple", elem_id="upload", variant="primary",
                        )
                        replace = gr.Checkbox(label="替换同名文档", elem_id="replace")
                    with gr.Row():
                        doc_choice = gr.Dropdown(label="选择文档", choices=[], scale=3, elem_id="doc-choice")
                        remove_btn = gr.Button("删除文档", variant="stop", scale=1, elem_id="remove-btn")
                rebuild_btn = gr.Button("重建索引", elem_id="rebuild-btn")

        private = {"api_visibility": "private"}
        ask_q = {"fn": reply, "inputs": [pending, chat, history], "outputs": [chat, history], **private}
        take = {"fn": take_question, "outputs": [question, chat, pending, examples], "queue": False, **private}
        question.submit(inputs=[question, chat], **take).then(**ask_q)
        send.click(inputs=[question, chat], **take).then(**ask_q)
        examples.click(lambda s: s[0], inputs=examples, outputs=question, queue=False, **private).then(
            inputs=[question, chat], **take
        ).then(**ask_q)
        reset = {"fn": lambda: ([], [], gr.Dataset(visible=True)), "outputs": [chat, history, examples]}
        clear.click(queue=False, **reset, **private)
        chat.clear(queue=False, **reset, **private)  # the chat's own trash icon
        doc_outputs = [status, docs] if read_only else [status, docs, doc_choice]
        build = {"concurrency_id": "build", "concurrency_limit": 1, "show_progress": "hidden", **private}
        if read_only:
            def read_only_panels():
                return panels()[:2]

            def rebuild_read_only():
                result = yield from _padded(_follow(lib, lib.rebuild), 3)
                yield library_html.update_html(result), *panels()[:2], gr.skip()
                yield gr.skip(), gr.skip(), gr.skip(), example_questions()

            rebuild_btn.click(rebuild_read_only, None, [log, *doc_outputs, examples], **build)
            demo.load(read_only_panels, None, doc_outputs, **private)
        else:
            upload_btn.upload(upload, [upload_btn, replace], [log, *doc_outputs, examples], **build)
            remove_btn.click(remove, [doc_choice], [log, *doc_outputs, examples], **build)
            rebuild_btn.click(rebuild, None, [log, *doc_outputs, examples], **build)
            demo.load(panels, None, doc_outputs, **private)
        demo.load(example_questions, None, examples, **private)
        gr.api(ask, api_name="ask")
    return demo


def main(argv: list[str] | None = None) -> int:
    t0 = time.perf_counter()
    args = parse_args(argv)
    users = load_users(args.users, os.environ.get("QA_USERS", ""))
    try:
        precision.resolve()  # QA_PRECISION: refused here, not on the first question
    except precision.PrecisionError as exc:
        raise SystemExit(f"error: {exc}") from exc
    warning = host_warning(args.host, args.no_auth, users)
    if warning:
        print(warning, file=sys.stderr)
    try:  # a folder that is not the index's own, missing or empty: refused here, nothing rebuilt
        lib = Library(args.seeds, args.index)
        demo = build_ui(lib, read_only=args.read_only)
        print(f"loading the index {lib.index_dir} (documents: {lib.seeds}) …", flush=True)
        lib.open(progress=lambda fraction, message: print(message, flush=True))
    except IndexError_ as exc:
        raise SystemExit(f"error: {exc}") from exc
    lib.warm_up()
    threading.Thread(target=lib.examples, daemon=True).start()  # example questions, checked, in the background
    print(f"ready in {time.perf_counter() - t0:.1f} s: {len(lib.index.passages)} passages", flush=True)
    theme = gr.themes.Soft(font=FONTS, font_mono=["ui-monospace", "monospace"])
    host = f"[{args.host}]" if ":" in args.host else args.host
    login = f", login: {len(users)} user(s)" if users else ""
    print(f"serving on http://{host}:{args.port}/{login}{', read-only' if args.read_only else ''}", flush=True)
    demo.queue(default_concurrency_limit=1).launch(
        server_name=args.host, server_port=args.port, max_file_size=MAX_UPLOAD_BYTES, theme=theme,
        css=render.CSS, head=render.HEAD_JS, footer_links=["api"], ssr_mode=False, quiet=True,
        auth=users or None, auth_message=AUTH_MESSAGE if users else None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
