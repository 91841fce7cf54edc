"""The subprocesses of ``python -m qa bench``: ``python -m qa.bench _child MODE PARAMS_JSON`` prints
one JSON line; ``python -m qa.bench keyword SIZES`` compares qa.keyword with bm25s.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from .. import config
from .common import parse_sizes
from .incremental import _child_inc_build, _child_inc_compare, _child_inc_update
from .keyword import _child_keyword, compare_keyword
from .scale import _child_build, _child_serve


def _child_main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "keyword":  # python -m qa.bench keyword 100k,1m
        with tempfile.TemporaryDirectory(prefix="qa-kw-") as tmp:
            print(json.dumps(compare_keyword(parse_sizes(argv[1]), config.seeds_dir(), Path(tmp)), indent=1))
        return 0
    modes = {"build": _child_build, "serve": _child_serve, "keyword": _child_keyword,
             "inc_build": _child_inc_build, "inc_update": _child_inc_update, "inc_compare": _child_inc_compare}
    if len(argv) != 3 or argv[0] != "_child" or argv[1] not in modes:
        print(f"usage: python -m qa.bench _child {'|'.join(modes)} PARAMS_JSON (run by `python -m qa bench`), "
              "or python -m qa.bench keyword SIZES", file=sys.stderr)
        return 2
    print(json.dumps(modes[argv[1]](json.loads(argv[2]))))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
