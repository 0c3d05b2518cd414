"""The templates of the generated blocks: `benchmarks/report.toml` (SPEC), the cell formats its
format specs name, and filling a section's paragraphs and tables from its values.

A template is a Python format string: `fill` formats it over a dict, with the formats of FORMATS
as extra format specs, and writes "–" for a field the values lack or hold as None.
"""

from __future__ import annotations

import datetime
import os
import re
import string
import tomllib

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "report.toml"), "rb") as _f:
    SPEC = tomllib.load(_f)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def number(value: float) -> str:
    """Three significant digits or so: 1234 -> '1234', 62.67 -> '62.7', 4.123 -> '4.12'."""
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def megabytes(size: int | None) -> str:
    if not size:
        return "–"
    return f"{size / 1e6:.2f} MB" if size >= 10_000 else f"{size / 1e3:.1f} kB"


def size_text(size) -> str:
    """'1024x2048' or [1024, 2048] -> '1024×2048'."""
    return size.replace("x", "×") if isinstance(size, str) else "×".join(map(str, size))


FORMATS = {
    "num": number,
    "pct": lambda share: f"{100 * share:.1f}",
    "pct2": lambda share: f"{100 * share:.2f}",  # the model card: int8 within a point of float
    "x": size_text,
    "mb": megabytes,
    "M": lambda count: f"{count / 1e6:.2f}M",
    "yes": lambda flag: "yes" if flag else "no",
    "min": lambda s: f"{s / 60:.0f}",
}


class _Formatter(string.Formatter):
    """str.format with FORMATS; a field the values lack, or None, is '–'."""

    def get_field(self, field_name, args, kwargs):
        try:
            return super().get_field(field_name, args, kwargs)
        except (KeyError, IndexError, TypeError):
            return None, field_name

    def format_field(self, value, format_spec):
        if value is None:
            return "–"
        if format_spec in FORMATS:
            return FORMATS[format_spec](value)
        return super().format_field(value, format_spec)


def fill(template: str, values: dict) -> str:
    """`template` (a report.toml template) formatted over `values`."""
    return _Formatter().vformat(template, (), values)


def table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table; "" without rows."""
    if not rows:
        return ""
    return "\n".join(
        [
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows),
        ]
    )


def bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def fill_section(name: str, values: dict) -> str:
    """Section `name`: the paragraphs of report.toml's [sections.NAME] and its tables filled from
    `values`; empty paragraphs left out."""
    spec = SPEC["sections"][name]
    values = dict(values)
    for key, layout in spec.get("tables", {}).items():
        values[key] = table(
            [header for header, _ in layout["columns"]],
            [[fill(cell, row) for _, cell in layout["columns"]] for row in values[layout["rows"]]],
        )
    paragraphs = (fill(paragraph, values).strip() for paragraph in spec["text"])
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph)


_SCRIPT = re.compile(r"\bpython (benchmarks|experiments)/(\w+)\.py\b")


def runnable(command: str) -> str:
    """`command` as it runs today: a script recorded as `python benchmarks/NAME.py` runs as
    `python -m benchmarks.NAME`, or `python -m experiments.NAME` where it has moved there."""

    def module(match):
        for package in ("benchmarks", "experiments"):
            if os.path.isfile(os.path.join(ROOT, package, match[2] + ".py")):
                return f"python -m {package}.{match[2]}"
        return match[0]

    return _SCRIPT.sub(module, command)


def recorded(result: dict) -> datetime.datetime:
    """When `result` was recorded (its environment's date), in UTC."""
    date = datetime.datetime.fromisoformat(result["environment"]["date"])
    return date.astimezone(datetime.timezone.utc)


def common_values(result: dict) -> dict:
    """`provenance` (date, device, cores, versions, TensorFlow threads and the command of the
    run), and `weights_text` for a run that says which weights it timed."""
    env = result["environment"]
    date = recorded(result)
    versions = ", ".join(f"{name} {env[key]}" for name, key in SPEC["versions"] if env.get(key))
    threads = env.get("intra_op_threads", 0) or SPEC["default_threads"]
    malloc = SPEC["malloc"] if env.get("malloc", "default").startswith("glibc") else ""
    values = {
        "provenance": fill(
            SPEC["provenance"],
            {
                **result,
                "command": runnable(result.get("command", "")),
                "date": date,
                "malloc": malloc,
                "versions": versions,
                "threads": threads,
            },
        )
    }
    if "weights" in result:
        weights = "random_weights" if result["weights"] == "random" else "trained_weights"
        values["weights_text"] = fill(SPEC[weights], result)
    return values
