"""Web chat: ``python app.py [--host H] [--port P] [--index DIR] [--seeds DIR]``.

Only wiring lives here: the documents and the index are :class:`qa.library.Library`,
the HTML of replies and panels is :mod:`qa.render`.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import gradio as gr  # noqa: E402

from qa import config, render  # noqa: E402
from qa.documents import MAX_DOCUMENT_BYTES, SUPPORTED_SUFFIXES  # noqa: E402
from qa.library import Library  # noqa: E402

TITLE = "文档问答 · Document Q&A"
HISTORY_TURNS = 5  # previous (question, answer) pairs given to follow-ups
# Mirrors the index build's tqdm bar in the page (Gradio patches tqdm when this is created).
TRACK_PROGRESS = gr.Progress(track_tqdm=True)
FONTS = ["system-ui", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", "sans-serif"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    p = argparse.ArgumentParser(description="Web chat over the documents in the seeds folder.")
    p.add_argument("--host", default=env.get("QA_HOST", "127.0.0.1"), help="address to listen on (env QA_HOST)")
    p.add_argument("--port", type=int, default=int(env.get("QA_PORT", "7860")), help="port (env QA_PORT)")
    p.add_argument("--index", type=Path, default=config.index_dir(), help="index folder (env QA_INDEX)")
    p.add_argument("--seeds", type=Path, default=config.seeds_dir(), help="documents folder (env QA_SEEDS)")
    p.add_argument(
        "--allow-remote", action="store_true",
        help="allow a non-loopback --host: anyone who can reach it can ask, upload and remove documents",
    )
    return p.parse_args(argv)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_warning(host: str, allow_remote: bool) -> str:
    """"" for a loopback host, a warning for an allowed other one; exits for one not allowed."""
    if is_loopback(host):
        return ""
    if not allow_remote:
        raise SystemExit(
            f"error: --host {host} is not a loopback address; add --allow-remote to listen on it "
            "(anyone who can reach it can ask, upload and remove documents)"
        )
    return (
        f"WARNING: listening on {host}: anyone who can reach this machine can ask questions "
        "and upload or remove documents."
    )


def build_ui(lib: Library) -> gr.Blocks:
    """The Blocks app: a chat tab and a documents tab, plus the ``ask`` API endpoint."""

    def panels():
        return (
            render.status_html(lib.status()),
            render.documents_html(lib.documents()),
            gr.Dropdown(choices=lib.document_names(), value=None),
        )

    def example_questions():
        return gr.Dataset(samples=[[q] for q in lib.examples()])

    def take_question(question: str, chat: list):
        q = (question or "").strip()
        if not q:
            return gr.skip(), gr.skip(), ""
        return "", [*chat, {"role": "user", "content": render.question_html(q)}], q

    def reply(q: str, chat: list, history: list):
        if not q:
            return gr.skip(), gr.skip()
        index = lib.index  # the same index for the answer and its paragraphs, even if a build swaps it
        a = lib.ask(q, history, index=index)
        html = render.answer_html(a, render.paragraphs_for(index))
        return [*chat, {"role": "assistant", "content": html}], [*history, (q, a)][-HISTORY_TURNS:]

    def progress_fn(progress: gr.Progress):
        return lambda fraction, message: progress(fraction, desc=message)

    def upload(files: list[str] | None, replace: bool, progress=TRACK_PROGRESS):
        pairs = [(f, Path(f).name) for f in files or []]
        result = lib.add(pairs, replace=replace, progress=progress_fn(progress))
        return render.update_html(result), None, *panels(), example_questions()

    def remove(name: str | None, progress=TRACK_PROGRESS):
        if not name:
            return "<div>请先选择一个文档。Choose a document first.</div>", *panels(), gr.skip()
        return render.update_html(lib.remove(name, progress=progress_fn(progress))), *panels(), example_questions()

    def rebuild(progress=TRACK_PROGRESS):
        return render.update_html(lib.rebuild(progress=progress_fn(progress))), *panels(), example_questions()

    def ask(question: str) -> dict:
        """Answer a question from the documents: found, text, sentence, confidence, citations, message."""
        return render.answer_to_dict(lib.ask(question))

    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"## {TITLE}\n答案直接摘自文档原文，并注明出处。Answers are quoted from the documents, with sources.")
        history = gr.State([])
        pending = gr.State("")
        with gr.Tabs():
            with gr.Tab("对话 Chat", id="chat"):
                chat = gr.Chatbot(
                    label="对话 Chat", show_label=False, height="60vh", elem_id="chat",
                    latex_delimiters=[], feedback_options=None, buttons=[],
                    placeholder="请提问，答案会引用文档中的原句。Ask a question about the documents.",
                )
                with gr.Row(equal_height=True):
                    question = gr.Textbox(
                        show_label=False, placeholder="输入问题，回车发送 Type a question and press Enter",
                        scale=5, min_width=180, elem_id="question", max_lines=4,
                    )
                    send = gr.Button("提问 Ask", variant="primary", scale=1, min_width=80, elem_id="send")
                examples = gr.Dataset(
                    components=[question], samples=[], label="示例问题 Example questions（点击提问 click to ask）",
                    elem_id="examples", samples_per_page=6,
                )
                clear = gr.Button("清空对话 Clear conversation", size="sm", elem_id="clear")
            with gr.Tab("文档 Documents", id="documents"):
                status = gr.HTML(elem_id="status")
                docs = gr.HTML(elem_id="documents")
                with gr.Group():
                    files = gr.File(
                        label=f"上传文档 Upload ({' '.join(SUPPORTED_SUFFIXES)}；每个 ≤ {MAX_DOCUMENT_BYTES // 2**20} MB)",
                        file_count="multiple", file_types=list(SUPPORTED_SUFFIXES), elem_id="upload", height=180,
                    )
                    replace = gr.Checkbox(label="替换同名文档 Replace a document with the same name", elem_id="replace")
                    upload_btn = gr.Button("上传并建立索引 Upload and index", variant="primary", elem_id="upload-btn")
                log = gr.HTML(elem_id="log")
                with gr.Row():
                    doc_choice = gr.Dropdown(label="选择文档 Document", choices=[], scale=3, elem_id="doc-choice")
                    remove_btn = gr.Button("删除文档 Remove", variant="stop", scale=1, elem_id="remove-btn")
                rebuild_btn = gr.Button("重建索引 Rebuild index", elem_id="rebuild-btn")

        private = {"api_visibility": "private"}
        ask_q = {"fn": reply, "inputs": [pending, chat, history], "outputs": [chat, history], **private}
        take = {"fn": take_question, "outputs": [question, chat, pending], "queue": False, **private}
        question.submit(inputs=[question, chat], **take).then(**ask_q)
        send.click(inputs=[question, chat], **take).then(**ask_q)
        examples.click(lambda s: s[0], inputs=examples, outputs=question, queue=False, **private).then(
            inputs=[question, chat], **take
        ).then(**ask_q)
        clear.click(lambda: ([], []), outputs=[chat, history], queue=False, **private)
        chat.clear(lambda: [], outputs=history, queue=False, **private)  # the chat's own trash icon
        panel_outputs = [status, docs, doc_choice]
        build = {"concurrency_id": "build", "concurrency_limit": 1, "show_progress_on": log, **private}
        upload_btn.click(upload, [files, replace], [log, files, *panel_outputs, examples], **build)
        remove_btn.click(remove, [doc_choice], [log, *panel_outputs, examples], **build)
        rebuild_btn.click(rebuild, None, [log, *panel_outputs, examples], **build)
        demo.load(panels, None, panel_outputs, **private)
        demo.load(example_questions, None, examples, **private)
        gr.api(ask, api_name="ask")
    return demo


def main(argv: list[str] | None = None) -> int:
    t0 = time.perf_counter()
    args = parse_args(argv)
    warning = host_warning(args.host, args.allow_remote)
    if warning:
        print(warning, file=sys.stderr)
    lib = Library(args.seeds, args.index)
    demo = build_ui(lib)
    print(f"loading the index {lib.index_dir} (documents: {lib.seeds}) …", flush=True)
    lib.open(progress=lambda fraction, message: print(message, flush=True))
    lib.warm_up()
    threading.Thread(target=lib.examples, daemon=True).start()  # example questions, checked, in the background
    print(f"ready in {time.perf_counter() - t0:.1f} s: {len(lib.index.passages)} passages", flush=True)
    theme = gr.themes.Soft(font=FONTS, font_mono=["ui-monospace", "monospace"])
    demo.queue(default_concurrency_limit=1).launch(
        server_name=args.host, server_port=args.port, max_file_size=MAX_DOCUMENT_BYTES, theme=theme,
        css=render.CSS, footer_links=["api"], ssr_mode=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
