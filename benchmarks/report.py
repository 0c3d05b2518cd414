"""Render the benchmark and experiment JSON files (`benchmarks/results/*.json`,
`experiments/results/*.json`) into the pages they belong to,
between the lines `<!-- NAME:begin -->` and `<!-- NAME:end -->`: `benchmarks` (every benchmark)
into docs/benchmarks.md, `camvid` (the CamVid results) into docs/camvid.md and `summary` (the
shipped model's score beside its anchors, the speed ratios) into README.md, so the pages' numbers
always come from a recorded run, never from typing.

One renderer for every section: its paragraphs, tables and targets are templates in
`benchmarks/report.toml`, filled from the section's JSON and from the few values derived here
(a pivot, a ratio, the rows a table shows), each JSON's device, versions, date and command last.

    python -m benchmarks.report            # rewrite the generated blocks
    python -m benchmarks.report --check    # exit 1 if a generated block differs from the JSON
    python -m benchmarks.report --print    # print the markdown, write nothing
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import string
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS_DIR = os.path.join(ROOT, "benchmarks", "results")
EXPERIMENTS_DIR = os.path.join(ROOT, "experiments", "results")
with open(os.path.join(ROOT, "benchmarks", "report.toml"), "rb") as _f:
    SPEC = tomllib.load(_f)


def markers(name: str) -> tuple[str, str]:
    """The lines a page holds generated block `name` between."""
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


BEGIN, END = markers("benchmarks")
CAMVID_BEGIN, CAMVID_END = markers("camvid")
SUMMARY_BEGIN, SUMMARY_END = markers("summary")
# JSON file stems of the benchmarks block, in page order
SECTIONS = (
    "inference",
    "tflite_profile",
    "saved_model_profile",
    "models",
    "train_step",
    "camvid_epoch",
    "train_profile",
    "input_pipeline",
)
# The CamVid block: the shipped model, its recipe ablation, and full-length runs of the
# ablation's winner recorded by experiments/camvid.py like the shipped one (they do not ship).
CAMVID, ABLATION = "camvid", "camvid_ablation"
CANDIDATES = ("camvid_sgd145", "camvid_adam80", "camvid_trainval80", "camvid_trainval300")


# --- cells and tables ---------------------------------------------------------------------------
def number(value: float) -> str:
    """Three significant digits or so: 1234 -> '1234', 62.67 -> '62.7', 4.123 -> '4.12'."""
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def megabytes(size: int | None) -> str:
    if not size:
        return "–"
    return f"{size / 1e6:.2f} MB" if size >= 10_000 else f"{size / 1e3:.1f} kB"


def _times(size) -> str:
    """'1024x2048' or [1024, 2048] -> '1024×2048'."""
    return size.replace("x", "×") if isinstance(size, str) else "×".join(map(str, size))


FORMATS = {
    "num": number,
    "pct": lambda share: f"{100 * share:.1f}",
    "x": _times,
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


def section(name: str, result: dict, **options) -> str:
    """One section: the paragraphs of report.toml's [sections.NAME] filled from `result`, the
    values DERIVED[name] adds, the provenance and the section's tables; empty paragraphs left
    out."""
    spec = SPEC["sections"][name]
    values = {**result, **common_values(result)}
    if name in DERIVED:
        values.update(DERIVED[name](result, spec, **options))
    for key, layout in spec.get("tables", {}).items():
        values[key] = table(
            [header for header, _ in layout["columns"]],
            [[fill(cell, row) for _, cell in layout["columns"]] for row in values[layout["rows"]]],
        )
    paragraphs = (fill(paragraph, values).strip() for paragraph in spec["text"])
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph)


def common_values(result: dict) -> dict:
    """`provenance` (date, device, cores, versions, TensorFlow threads and the command of the
    run), and `weights_text` for a run that says which weights it timed."""
    env = result["environment"]
    date = datetime.datetime.fromisoformat(env["date"]).astimezone(datetime.timezone.utc)
    versions = ", ".join(f"{name} {env[key]}" for name, key in SPEC["versions"] if env.get(key))
    threads = env.get("intra_op_threads", 0) or SPEC["default_threads"]
    malloc = SPEC["malloc"] if env.get("malloc", "default").startswith("glibc") else ""
    values = {
        "provenance": fill(
            SPEC["provenance"],
            {**result, "date": date, "malloc": malloc, "versions": versions, "threads": threads},
        )
    }
    if "weights" in result:
        weights = "random_weights" if result["weights"] == "random" else "trained_weights"
        values["weights_text"] = fill(SPEC[weights], result)
    return values


# --- what each section derives from its JSON ----------------------------------------------------
def _find(rows: list[dict], runtime: str, head: str, precision: str, resolution: str):
    for row in rows:
        if (row["runtime"], row["head"], row["precision"], row["resolution"]) == (
            runtime,
            head,
            precision,
            resolution,
        ):
            return row
    return None


def target_lines(result: dict) -> list[str]:
    """The speed targets (report.toml [targets]) as ratios of numbers measured in one
    inference run."""
    targets, rows = SPEC["targets"], result["results"]
    size, device = targets["size"], result["environment"]["device"]
    lines = []
    for precision, target in targets["cpu_ms"].items():
        row = _find(rows, "tflite", "cls", precision, size)
        if row is None:
            lines.append(fill(targets["cpu_missing"], {"precision": precision, "size": size}))
            continue
        ratio = row["median_ms"] / target
        lines.append(
            fill(
                targets["cpu"],
                {
                    **row,
                    "precision": precision,
                    "size": size,
                    "ratio": ratio,
                    "target": target,
                    "device": device,
                    "verdict": "met" if ratio <= 1 else "missed",
                },
            )
        )
    if device.startswith("GPU"):
        gpu_rows = [
            row
            for row in (
                _find(rows, runtime, "cls", "float32", size) for runtime in ("keras", "savedmodel")
            )
            if row is not None
        ]
        if gpu_rows:
            best = max(gpu_rows, key=lambda row: row["fps"])
            ratio = best["fps"] / targets["gpu_fps"]
            lines.append(
                fill(
                    targets["gpu"],
                    {
                        **best,
                        "runtime": SPEC["runtimes"][best["runtime"]],
                        "size": size,
                        "ratio": ratio,
                        "target": targets["gpu_fps"],
                        "device": device,
                        "verdict": "met" if ratio >= 1 else "missed",
                    },
                )
            )
    else:
        lines.append(fill(targets["gpu_missing"], {"target": targets["gpu_fps"], "size": size}))
    lines += onnxruntime_lines(rows, size)
    # Against PyTorch in its fastest CPU form measured: what a user choosing would run.
    forms = SPEC["pytorch_forms"]
    int8 = _find(rows, "tflite", "cls", "int8", size)
    torch_rows = [
        row
        for row in (_find(rows, runtime, "cls", "float32", size) for runtime in forms)
        if row is not None
    ]
    target = targets["pytorch_speedup"]
    if int8 is None or not torch_rows:
        return lines + [fill(targets["pytorch_missing"], {"target": target})]
    torch = min(torch_rows, key=lambda row: row["median_ms"])
    speedup = torch["median_ms"] / int8["median_ms"]
    form = (
        fill(targets["pytorch_form"], {"form": forms[torch["runtime"]]})
        if len(torch_rows) > 1
        else ""
    )
    return lines + [
        fill(
            targets["pytorch"],
            {
                "size": size,
                "speedup": speedup,
                "form": form,
                "ratio": speedup / target,
                "target": target,
            },
        )
    ]


def onnxruntime_lines(rows: list[dict], size: str) -> list[str]:
    """Each export's speed-up over ONNX Runtime running the PyTorch model, against its target."""
    targets = SPEC["targets"]
    lines = []
    for line in targets["onnxruntime"]:
        ours = _find(rows, **line["ours"], resolution=size)
        theirs = _find(rows, "onnxruntime", "cls", line["theirs"], size)
        if ours is None or theirs is None:
            continue
        speedup = theirs["median_ms"] / ours["median_ms"]
        lines.append(
            fill(
                targets["onnxruntime_line"],
                {
                    **line,
                    "size": size,
                    "speedup": speedup,
                    "ours_ms": ours["median_ms"],
                    "theirs_ms": theirs["median_ms"],
                    "ratio": speedup / line["target"],
                    "verdict": "met" if speedup >= line["target"] else "missed",
                },
            )
        )
    return lines or [targets["onnxruntime_missing"]]


def _inference(result: dict, spec: dict) -> dict:
    """One row per (runtime, output, precision), one column per input size; the targets."""
    rows = result["results"]
    sizes = list(dict.fromkeys(row["resolution"] for row in rows))
    cells = []
    for runtime, head, precision in dict.fromkeys(
        (row["runtime"], row["head"], row["precision"]) for row in rows
    ):
        found = [_find(rows, runtime, head, precision, size) for size in sizes]
        first = next(row for row in found if row is not None)
        cells.append(
            [
                SPEC["runtimes"].get(runtime, runtime),
                head,
                precision,
                megabytes(first.get("bytes")),
                *("–" if row is None else fill(spec["cell"], row) for row in found),
            ]
        )
    pytorch = any(row["runtime"] in SPEC["pytorch_forms"] for row in rows)
    onnxruntime = any(row["runtime"] == "onnxruntime" for row in rows)
    return {
        "sizes": sizes,
        "table": table(spec["header"] + [_times(s) for s in sizes], cells),
        "targets": bullets(target_lines(result)),
        "pytorch_note": fill(spec["pytorch_note"], result) if pytorch else "",
        "onnxruntime_note": fill(spec["onnxruntime_note"], result) if onnxruntime else "",
    }


def _matching(rows: list[dict], key: dict) -> dict | None:
    return next((row for row in rows if all(row.get(k) == v for k, v in key.items())), None)


def _tflite_profile(result: dict, spec: dict) -> dict:
    """Whole-frame ratios of one interleaved run, every export against its floor, and the op
    types, the slowest ops and the head of the full-size fast cls exports."""
    exports, comparison, floor = result["exports"], result.get("comparison", []), result["floor"]
    size = exports[0]["size"]
    values = {
        "exports": [
            {
                **e,
                "plain": spec["plain_graph"] if e.get("graph", "fast") != "fast" else "",
                "outside_ops": ", ".join(e["outside_xnnpack"]["ops"]),
                "floors": f"{e['ms'] / e['floor_ms']:.1f}×" if e.get("floor_ms") else "–",
            }
            for e in exports
        ]
    }
    values["load"] = (
        fill(
            spec["load"],
            {**result, "load_average_text": " → ".join(map(str, result["load_average"]))},
        )
        if result.get("note")
        else ""
    )
    ratios = []
    for line in spec["ratio_lines"]:
        fast, slow = _matching(comparison, line["fast"]), _matching(comparison, line["slow"])
        if fast and slow:
            ratios.append(
                fill(
                    spec["ratio"],
                    {
                        "label": line["label"],
                        "fast": fast["ms"],
                        "slow": slow["ms"],
                        "ratio": slow["ms"] / fast["ms"],
                    },
                )
            )
    values["ratios"] = (
        fill(spec["ratios"], {**result, "size": size}) + "\n\n" + bullets(ratios)
        if comparison
        else ""
    )
    cls = {
        e["precision"]: e
        for e in exports
        if e["mode"] == "cls" and e["size"] == size and e.get("graph", "fast") == "fast"
    }
    precisions = [p for p in floor if p in cls]  # float32, int8
    if not precisions:
        return {**values, "slowest_ops": [], "op_types": "", "slowest": "", "heads": ""}
    by_op = {p: {t["op"]: t for t in cls[p]["op_types"]} for p in precisions}
    type_rows = []
    for op in list(dict.fromkeys(t["op"] for p in precisions for t in cls[p]["op_types"])):
        t = next(by_op[p][op] for p in precisions if op in by_op[p])
        coverage = (
            "all"
            if t["xnnpack"] == t["count"]
            else "none"
            if t["xnnpack"] == 0
            else f"{t['xnnpack']} of {t['count']}"
        )
        type_rows.append(
            [
                f"`{op}`",
                str(t["count"]),
                coverage,
                *(
                    fill(spec["op_type_cell"], by_op[p][op]) if op in by_op[p] else "–"
                    for p in precisions
                ),
            ]
        )
    last, top = cls[precisions[-1]], spec["top_ops"]
    values["op_types"] = (
        fill(spec["op_types"], {"size": size})
        + "\n\n"
        + table(
            spec["op_types_header"] + [f"{p} ms" for p in precisions],
            type_rows[: spec["op_type_rows"]],
        )
    )
    values["slowest_ops"] = [
        {**op, "percent": 100 * op["ms"] / last["ops_sum_ms"]}
        for op in sorted(last["ops"], key=lambda op: -op["ms"])[:top]
    ]
    values["slowest"] = fill(
        spec["slowest"], {"top": top, "precision": precisions[-1], "size": size}
    )
    heads = []
    for p in precisions:
        head = cls[p]["head"]
        heads.append(
            fill(
                spec["head"],
                {
                    "precision": p,
                    "names": " + ".join(f"`{op}`" for op in head["ops"]),
                    "ms": head["ms"],
                    "percent": 100 * head["ms"] / cls[p]["ops_sum_ms"],
                    "network_ms": head["network_ms"],
                    "floor_ms": cls[p]["floor_ms"],
                    "network_floors": head["network_ms"] / cls[p]["floor_ms"],
                    "gmacs_per_s": floor[p]["gmacs_per_s"],
                },
            )
        )
    return {**values, "heads": bullets(heads)}


def _saved_model_profile(result: dict, spec: dict) -> dict:
    """The served and plain graphs' op types side by side, the largest first, and their ratio."""
    graphs = {g["graph"]: g for g in result["graphs"]}
    ms = {name: {op["op"]: op["ms"] for op in g["op_types"]} for name, g in graphs.items()}
    ops = sorted(
        set(ms["served"]) | set(ms["plain"]),
        key=lambda op: (-max(ms["served"].get(op, 0), ms["plain"].get(op, 0)), op),
    )
    rows = [
        {
            "op": op,
            **{
                name: number(ms[name][op]) if op in ms[name] else "–"
                for name in ("served", "plain")
            },
        }
        for op in ops[: spec["top"]]
    ]
    served, plain = graphs["served"]["median_ms"], graphs["plain"]["median_ms"]
    return {"op_rows": rows, "served_ms": served, "plain_ms": plain, "speedup": plain / served}


def _camvid_epoch(result: dict, spec: dict) -> dict:
    trees = [
        {
            **result[key],
            "label": fill(label, result[key]),
            "per_round": " / ".join(number(r["epoch_seconds"]) for r in result[key]["rounds"]),
        }
        for key, label in spec["trees"].items()
        if key in result
    ]
    return {
        "trees": trees,
        "speedup_line": fill(spec["speedup"], result) if "speedup" in result else "",
    }


def _train_profile(result: dict, spec: dict) -> dict:
    return {"top": spec["top"], "top_ops": result["ops"][: spec["top"]]}


def _input_pipeline(result: dict, spec: dict) -> dict:
    parts = result["results"]
    step = parts.get("train_step")
    return {
        "pipeline_rows": [
            {**r, "label": fill(spec["pipelines"][name], result)}
            for name, r in parts.items()
            if name in spec["pipelines"]
        ],
        "frame_size_text": (" " + _times(result["frame_size"]) if result.get("frame_size") else ""),
        "train_step_line": fill(spec["train_step"], step) if step else "",
    }


def _held_out(result: dict) -> bool:
    """Whether the run's val frames were held out (not so on train + val)."""
    spec = SPEC["sections"]["camvid"]
    return result.get("protocol", spec["protocol"]) != spec["trained_on_val"]


def _camvid(result: dict, spec: dict, candidates: dict[str, dict] | None = None) -> dict:
    """The test table (the shipped model, its exported files, the `candidates` that do not ship,
    the published peers), per-class IoU, about ten points of the validation curve."""
    protocol = result.get("protocol", spec["protocol"])
    rows = [[fill(cell, {**result, "protocol": protocol}) for cell in spec["shipped_row"]]]
    rows += [
        [fill(cell, {**e, "name": name, "protocol": protocol}) for cell in spec["export_row"]]
        for name, e in result.get("exports", {}).items()
    ]
    rows += [
        [
            fill(
                cell,
                {
                    **r,
                    "name": name,
                    "protocol": r.get("protocol", spec["protocol"]),
                    "preset": r["config"]["train"].get("preset") or spec["default_preset"],
                },
            )
            for cell in spec["candidate_row"]
        ]
        for name, r in (candidates or {}).items()
    ]
    rows += [
        [fill(cell, {"protocol": spec["protocol"], **peer}) for cell in spec["peer_row"]]
        for peer in result["peers"]
    ]
    classes = result["config"]["model"]["classes"]["names"]  # JSON keys are sorted: use the table
    curve = result["val_curve"]
    every = max(1, len(curve) // spec["curve_points"])
    shown = curve[every - 1 :: every]
    if curve[-1] not in shown:
        shown.append(curve[-1])
    pct = FORMATS["pct"]
    return {
        "table": table(spec["header"], rows),
        "class_table": table(classes, [[pct(result["test"]["class_iou"][c]) for c in classes]]),
        "curve_title": fill(
            spec["curve_held_out" if _held_out(result) else "curve_trained_on"], result
        ),
        "curve_table": table(
            ["epoch"] + [f"{e['epoch']:g}" for e in shown],
            [["val mIoU %"] + [pct(e["miou"]) for e in shown]],
        ),
        "hours": result["wall_seconds"] / 3600,
        "stages_list": bullets([fill(spec["stage"], s) for s in result["stages"]]),
        "notes_text": result.get("notes", ""),
    }


def candidate_line(result: dict, name: str = "") -> str:
    """A full-length run of a recipe: its best val (when val was held out), its test score, its
    cost, then its train.py stages, one command a line."""
    spec = SPEC["sections"]["camvid"]
    val = spec["candidate_held_out" if _held_out(result) else "candidate_trained_on"]
    text = fill(
        spec["candidate"],
        {
            **result,
            "name": name,
            "val_text": fill(val, result),
            "notes_text": result.get("notes", ""),
        },
    ).strip()
    return text + "\n\n" + bullets([fill(spec["candidate_stage"], s) for s in result["stages"]])


def _flag_groups(command: str) -> list[tuple[str, ...]]:
    """`python train.py --a 1 2 --b` -> [("--a", "1", "2"), ("--b",)]: each flag with its
    values."""
    groups: list[tuple[str, ...]] = []
    for token in shlex.split(command)[2:]:
        if token.startswith("--") or not groups:
            groups.append((token,))
        else:
            groups[-1] += (token,)
    return groups


def _effective(groups: list[tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """What each flag ends up as (the last time it is given wins)."""
    return {group[0]: group[1:] for group in groups}


def shared_flags(commands: list[str]) -> tuple[list[tuple[str, ...]], list[list[tuple[str, ...]]]]:
    """The flags every command gives alike, and what each command adds to them: `python train.py
    SHARED ADDED` means what the command does (when it would not, nothing is shared)."""
    groups = [_flag_groups(c) for c in commands]
    shared = (
        [g for g in groups[0] if all(g in other for other in groups[1:])] if len(groups) > 1 else []
    )
    added = [[g for g in own if g not in shared] for own in groups]
    if any(_effective(shared + extra) != _effective(own) for own, extra in zip(groups, added)):
        return [], groups
    return shared, added


def _camvid_ablation(result: dict, spec: dict) -> dict:
    """One table per epoch budget; each row's command as the flags it adds to its table's
    shared command."""
    budgets = []
    for epochs in sorted({row["epochs"] for row in result["rows"]}):
        rows = [row for row in result["rows"] if row["epochs"] == epochs]
        shared, added = shared_flags([row["command"] for row in rows])
        program = " ".join(shlex.split(rows[0]["command"])[:2])
        rows = [
            {**row, "flags": " ".join(shlex.join(g) for g in extra)}
            for row, extra in zip(rows, added)
        ]
        columns = spec["columns"]
        budgets.append(
            fill(
                spec["budget"],
                {
                    "epochs": epochs,
                    "command": " ".join([program, *(shlex.join(g) for g in shared)]),
                },
            )
            + "\n\n"
            + table(
                [header for header, _ in columns],
                [[fill(cell, row) for _, cell in columns] for row in rows],
            )
        )
    return {"budgets": "\n\n".join(budgets)}


DERIVED = {
    "inference": _inference,
    "tflite_profile": _tflite_profile,
    "saved_model_profile": _saved_model_profile,
    "camvid_epoch": _camvid_epoch,
    "train_profile": _train_profile,
    "input_pipeline": _input_pipeline,
    "camvid": _camvid,
    "camvid_ablation": _camvid_ablation,
}


# --- the generated blocks -----------------------------------------------------------------------
def load(results_dir: str = RESULTS_DIR, names=SECTIONS) -> dict[str, dict]:
    """The JSON result of each of `names` (file stems) that has one, by name."""
    results = {}
    for name in names:
        path = os.path.join(results_dir, f"{name}.json")
        if os.path.exists(path):
            with open(path) as f:
                results[name] = json.load(f)
    return results


def render(results: dict[str, dict]) -> str:
    """The benchmarks block (without the marker lines) for the loaded results."""
    return "\n\n".join(
        [
            SPEC["notice"],
            *(
                section(name, results[name])
                if name in results
                else fill(SPEC["missing"], {"name": name})
                for name in SECTIONS
            ),
        ]
    )


def render_benchmarks(results_dir: str = RESULTS_DIR, experiments_dir: str = EXPERIMENTS_DIR):
    """The benchmarks block of docs/benchmarks.md: the benchmarks' results only."""
    return render(load(results_dir))


def render_camvid(results_dir: str = RESULTS_DIR, experiments_dir: str = EXPERIMENTS_DIR) -> str:
    """The CamVid block of docs/camvid.md (without the marker lines): the experiments' results
    only."""
    results = load(experiments_dir, (CAMVID, ABLATION))
    if CAMVID not in results:
        return SPEC["notice"] + "\n\n" + SPEC["camvid_missing"]
    candidates = load(experiments_dir, CANDIDATES)
    parts = [SPEC["notice"], section(CAMVID, results[CAMVID], candidates=candidates)]
    if ABLATION in results:
        parts.append(section(ABLATION, results[ABLATION]))
    return "\n\n".join(
        parts + [candidate_line(result, name) for name, result in candidates.items()]
    )


def render_summary(results_dir: str = RESULTS_DIR, experiments_dir: str = EXPERIMENTS_DIR) -> str:
    """README.md's results table: the shipped CamVid model and its int8 file beside the peers
    report.toml's [summary] names, then the speed targets as ratios of one inference run."""
    spec = SPEC["summary"]
    results = {**load(experiments_dir, (CAMVID,)), **load(results_dir, ("inference",))}
    parts = [SPEC["notice"]]
    if CAMVID in results:
        camvid = results[CAMVID]
        protocol = camvid.get("protocol", SPEC["sections"]["camvid"]["protocol"])
        rows = [[fill(cell, {**camvid, "protocol": protocol}) for cell in spec["shipped_row"]]]
        rows += [
            [fill(cell, {**e, "name": name, "protocol": protocol}) for cell in spec["export_row"]]
            for name, e in camvid.get("exports", {}).items()
            if name in spec["exports"]
        ]
        rows += [
            [
                fill(cell, {"protocol": SPEC["sections"]["camvid"]["protocol"], **peer})
                for cell in spec["peer_row"]
            ]
            for peer in camvid["peers"]
            if peer["model"] in spec["peers"]
        ]
        parts.append(table(spec["header"], rows))
    else:
        parts.append(SPEC["camvid_missing"])
    if "inference" in results:
        lines = [
            line
            for line in target_lines(results["inference"])
            if line.startswith(tuple(spec["speed_lines"]))
        ]
        parts.append(fill(spec["speed"], results["inference"]) + "\n\n" + bullets(lines))
    else:
        parts.append(fill(SPEC["missing"], {"name": "inference"}))
    return "\n\n".join(parts)


# Each generated block: the page it renders into (relative to the repository) and its renderer.
BLOCKS = {
    "summary": ("README.md", render_summary),
    "camvid": (os.path.join("docs", "camvid.md"), render_camvid),
    "benchmarks": (
        os.path.join("docs", "benchmarks.md"),
        render_benchmarks,
    ),
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
