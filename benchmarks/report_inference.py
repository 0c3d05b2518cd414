"""What the inference section of the report derives from inference.json: one row per runtime,
output and precision with a column per input size, and the speed targets as ratios measured in
one run (also the README summary's speed lines)."""

from __future__ import annotations

from benchmarks.report_template import SPEC, bullets, fill, megabytes, size_text, table


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


def inference(result: dict, spec: dict) -> dict:
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
        "table": table(spec["header"] + [size_text(s) for s in sizes], cells),
        "targets": bullets(target_lines(result)),
        "pytorch_note": fill(spec["pytorch_note"], result) if pytorch else "",
        "onnxruntime_note": fill(spec["onnxruntime_note"], result) if onnxruntime else "",
    }


def serving(result: dict, spec: dict) -> dict:
    """Each row's speed against ONNX Runtime in the same precision (its median over the row's),
    and the targets of the serving path as ratios measured in that one interleaved run."""
    peer = {r["precision"]: r["median_ms"] for r in result["rows"] if r["runtime"] == "onnxruntime"}
    rows = [{**r, "vs_peer": peer[r["precision"]] / r["median_ms"]} for r in result["rows"]]
    ours = {(r["runtime"], r["precision"]): r for r in rows if r["graph"] == "served"}
    lines = []
    for what, runtime, precision, target in spec["targets"]:
        ratio = ours[runtime, precision]["vs_peer"]
        verdict = "met" if ratio >= target else "missed"
        values = {"what": what, "precision": precision, "target": target, "ratio": ratio}
        lines.append(fill(spec["target"], {**values, "verdict": verdict}))
    alone = result["onnxruntime_float32_spinning_alone"]["median_ms"]
    saved = result.get("savedmodel_float32_served_alone")  # absent from older records
    note = ""
    if saved:
        ratio = alone / saved["median_ms"]
        note = fill(
            spec["alone"], {"saved_ms": saved["median_ms"], "ort_ms": alone, "ratio": ratio}
        )
    return {"rows": rows, "targets": bullets(lines), "alone_ms": alone, "alone_note": note}
