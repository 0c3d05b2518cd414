"""Render the benchmark and experiment JSON files (`benchmarks/results/*.json`,
`experiments/results/*.json`) into the pages they belong to, between the lines
`<!-- NAME:begin -->` and `<!-- NAME:end -->`: `benchmarks` (every benchmark) into
docs/benchmarks.md, `camvid` (the CamVid results) into docs/camvid.md, `model_card` (the shipped
model's scores) into models/camvid/README.md and `summary` (the shipped model's score beside its
anchors, the speed ratios) into README.md, so the pages' numbers always come from a recorded run,
never from typing.

One renderer for every section: its paragraphs, tables and targets are templates in
`benchmarks/report.toml` (report_template.py), filled from the section's JSON and from the few
values its derivation adds (a pivot, a ratio, the rows a table shows: report_inference.py,
report_profiles.py, report_camvid.py), each JSON's device, versions, date and command last.
report_blocks.py renders each block; this file splices them into the pages.

    python -m benchmarks.report            # rewrite the generated blocks
    python -m benchmarks.report --check    # exit 1 if a generated block differs from the JSON
    python -m benchmarks.report --print    # print the markdown, write nothing
"""

from __future__ import annotations

import argparse
import os
import sys

from benchmarks.report_blocks import (
    EXPERIMENTS_DIR,
    RESULTS_DIR,
    ROOT,
    render_benchmarks,
    render_camvid,
    render_model_card,
    render_summary,
)


def markers(name: str) -> tuple[str, str]:
    """The lines a page holds generated block `name` between."""
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


BEGIN, END = markers("benchmarks")
# Each generated block: the page it renders into (relative to the repository) and its renderer.
BLOCKS = {
    "summary": ("README.md", render_summary),
    "camvid": (os.path.join("docs", "camvid.md"), render_camvid),
    "model_card": (os.path.join("models", "camvid", "README.md"), render_model_card),
    "benchmarks": (os.path.join("docs", "benchmarks.md"), render_benchmarks),
}
PAGES = tuple(dict.fromkeys(page for page, _ in BLOCKS.values()))


def replace_block(
    text: str, block: str, where: str = "README.md", begin: str = BEGIN, end: str = END
) -> str:
    """`text` with everything between the marker lines replaced by `block`."""
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"{where} has no '{begin}' line followed by an '{end}' line")
    return text[: start + len(begin)] + "\n" + block + "\n" + text[stop:]


def replace_blocks(
    text: str,
    results_dir: str,
    experiments_dir: str,
    where: str = "README.md",
    names: tuple[str, ...] | None = None,
) -> str:
    """`text` with its generated blocks rendered: the blocks `names` (each must be there), or
    without `names` every block whose begin marker it holds (at least one)."""
    if names is None:
        names = tuple(name for name in BLOCKS if markers(name)[0] in text) or ("benchmarks",)
    for name in names:
        text = replace_block(
            text, BLOCKS[name][1](results_dir, experiments_dir), where, *markers(name)
        )
    return text


def page_blocks(root: str = ROOT) -> dict[str, tuple[str, ...]]:
    """Each page's path under `root` and the names of the blocks it must hold."""
    pages: dict[str, tuple[str, ...]] = {}
    for name, (page, _) in BLOCKS.items():
        path = os.path.join(root, page)
        pages[path] = pages.get(path, ()) + (name,)
    return pages


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--results",
        default=RESULTS_DIR,
        help="folder of benchmark JSON files (default %(default)s)",
    )
    parser.add_argument(
        "--experiments",
        default=EXPERIMENTS_DIR,
        help="folder of experiment JSON files (default %(default)s)",
    )
    parser.add_argument(
        "--page",
        action="append",
        metavar="FILE",
        help="render the blocks whose marker lines FILE holds (repeatable; "
        f"default: {', '.join(PAGES)}, each with its own blocks)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a generated block differs from the JSON",
    )
    mode.add_argument("--print", action="store_true", help="print the markdown, write nothing")
    args = parser.parse_args(argv)

    if args.print:
        print(
            "\n\n".join(
                render_block(args.results, args.experiments) for _, render_block in BLOCKS.values()
            )
        )
        return 0
    pages = {path: None for path in args.page} if args.page else page_blocks()
    updates = {}
    try:
        for path, names in pages.items():
            with open(path) as f:
                text = f.read()
            updates[path] = (
                text,
                replace_blocks(text, args.results, args.experiments, path, names),
            )
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    stale = [path for path, (text, updated) in updates.items() if updated != text]
    if args.check:
        for path in stale:
            print(
                f"{path}: a generated block differs from the JSON in {args.results} and "
                f"{args.experiments}; run "
                "`python -m benchmarks.report` to regenerate it",
                file=sys.stderr,
            )
        if stale:
            return 1
        print(f"generated blocks up to date: {', '.join(updates)}")
        return 0
    for path in stale:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(updates[path][1])
        os.replace(tmp, path)
    print(f"wrote the generated blocks of {', '.join(updates)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
