"""What the profile and training sections of the report derive from their JSON: the TFLite and
SavedModel op-by-op profiles, the CamVid epoch, the train-step profile and the input pipeline."""

from __future__ import annotations

from benchmarks.report_template import bullets, fill, number, size_text, table


def _matching(rows: list[dict], key: dict) -> dict | None:
    return next((row for row in rows if all(row.get(k) == v for k, v in key.items())), None)


def tflite_profile(result: dict, spec: dict) -> dict:
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


def saved_model_profile(result: dict, spec: dict) -> dict:
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


def camvid_epoch(result: dict, spec: dict) -> dict:
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


def train_profile(result: dict, spec: dict) -> dict:
    return {"top": spec["top"], "top_ops": result["ops"][: spec["top"]]}


def input_pipeline(result: dict, spec: dict) -> dict:
    parts = result["results"]
    step = parts.get("train_step")
    return {
        "pipeline_rows": [
            {**r, "label": fill(spec["pipelines"][name], result)}
            for name, r in parts.items()
            if name in spec["pipelines"]
        ],
        "frame_size_text": (
            " " + size_text(result["frame_size"]) if result.get("frame_size") else ""
        ),
        "train_step_line": fill(spec["train_step"], step) if step else "",
    }
