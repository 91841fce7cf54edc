"""Web chat (placeholder): loads the index; the Gradio UI comes with the web-chat issue."""

from qa.answer import default_index

if __name__ == "__main__":
    idx = default_index()
    print(f"index loaded: {len(idx.passages)} passages")
