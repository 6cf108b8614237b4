"""Index of the benchmarks and evaluations; runs one by name.

    .venv/bin/python -m bench                      # list them
    .venv/bin/python -m bench room --repeats 3     # = python -m bench.bench_room --repeats 3
    make bench BENCH="tryon --frames 30"
"""

from __future__ import annotations

import ast
import runpy
import sys
from pathlib import Path

HERE = Path(__file__).parent


def _scripts() -> dict[str, Path]:
    """{short name: file}: bench_room.py -> "room", eval_room.py -> "eval_room"."""
    out = {}
    for p in sorted(HERE.glob("*.py")):
        if p.stem.startswith("bench_"):
            out[p.stem.removeprefix("bench_")] = p
        elif p.stem.startswith("eval_"):
            out[p.stem] = p
    return out


def main(argv: list[str]) -> int:
    scripts = _scripts()
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        width = max(map(len, scripts))
        for name, path in scripts.items():
            doc = (ast.get_docstring(ast.parse(path.read_text())) or "").splitlines()
            print(f"  {name:<{width}}  {doc[0] if doc else ''}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in scripts:
        print(f"unknown benchmark {name!r}; one of: {', '.join(scripts)}", file=sys.stderr)
        return 2
    sys.argv = [f"bench.{scripts[name].stem}", *rest]
    runpy.run_module(f"bench.{scripts[name].stem}", run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
