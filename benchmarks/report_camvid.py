"""What the CamVid sections of the report derive from the experiments' JSON: the test table of
the shipped model beside its exports, the candidates that do not ship and the published peers;
each candidate's paragraph; the recipe ablation's tables, one per epoch budget."""

from __future__ import annotations

import shlex

from benchmarks.report_template import FORMATS, SPEC, bullets, fill, recorded, table

# The diagnostics' experiments/results/ file stems (report.toml [diagnostics]).
DIAGNOSTICS = ("camvid_tta", "camvid_logit_adjustment")


def diagnostics(result: dict, found: dict[str, dict]) -> tuple[list[dict], list[str]]:
    """The shipped model `result` seen through the diagnostics `found` ({file stem: JSON}):
    ([{"label", "name", "miou", "mean_accuracy", "pixel_accuracy"}, ...] of those recorded after
    it, [a line for each recorded before it, an earlier model's])."""
    spec = SPEC["diagnostics"]
    rows, stale = [], []
    for name, d in found.items():
        if recorded(d) < recorded(result):
            stale.append(fill(spec["stale"], {"name": name, "command": spec["commands"][name]}))
        elif name == "camvid_tta":
            val = next(v for v in d["val"] if v["views"] == d["chosen"])
            views = "scales " + ", ".join(f"{s:g}" for s in val["scales"])
            views += spec["mirror"] if val["flip"] else ""
            label = fill(spec["tta"], {"views": views, "val_miou": val["miou"]})
            rows.append({**d["test"], "label": label, "name": name})
        else:
            val = next(v for v in d["val"] if v["alpha"] == d["alpha"])
            test = next(t for t in d["test"] if t["alpha"] == d["alpha"])
            label = fill(spec["adjusted"], {"alpha": d["alpha"], "val_miou": val["miou"]})
            rows.append({**test, "label": label, "name": name})
            if "per_class" in d:
                fit = d["per_class"]
                label = fill(spec["per_class"], {"val_miou": fit["val_miou"]})
                rows.append({**fit["test"], "label": label, "name": name})
    return rows, stale


def own_rows(
    result: dict, spec: dict, values: dict, exports=None, seen: list[dict] = ()
) -> list[list[str]]:
    """The shipped model's rows of a table: its own (spec's shipped_row), one per exported file
    (export_row; those named in `exports`, or all) and one per diagnostic in `seen`
    (diagnostic_row); `values` fill what each row's own fields do not."""
    rows = [[fill(cell, {**result, **values}) for cell in spec["shipped_row"]]]
    rows += [
        [fill(cell, {**e, "name": name, **values}) for cell in spec["export_row"]]
        for name, e in result.get("exports", {}).items()
        if exports is None or name in exports
    ]
    rows += [[fill(cell, {**d, **values}) for cell in spec["diagnostic_row"]] for d in seen]
    return rows


def _held_out(result: dict) -> bool:
    """Whether the run's val frames were held out (not so on train + val)."""
    spec = SPEC["sections"]["camvid"]
    return result.get("protocol", spec["protocol"]) != spec["trained_on_val"]


def camvid(
    result: dict,
    spec: dict,
    candidates: dict[str, dict] | None = None,
    found_diagnostics: dict[str, dict] | None = None,
) -> dict:
    """The test table (the shipped model, its exported files, its diagnostic rows, the
    `candidates` that do not ship, the published peers), per-class IoU, about ten points of the
    validation curve."""
    protocol = result.get("protocol", spec["protocol"])
    seen, stale = diagnostics(result, found_diagnostics or {})
    rows = own_rows(result, spec, {"protocol": protocol}, seen=seen)
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
        "stale_diagnostics": "\n\n".join(stale),
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


def camvid_ablation(result: dict, spec: dict) -> dict:
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
            + curve_table(rows, spec)
        )
    return {"budgets": "\n\n".join(budgets)}


def curve_table(rows: list[dict], spec: dict) -> str:
    """The rows' val mIoU (%) at each validation epoch, when they were validated more than once
    at the same epochs; "" otherwise."""
    curves = [row.get("val_curve", []) for row in rows]
    epochs = [point["epoch"] for point in curves[0]]
    if len(epochs) < 2 or any([p["epoch"] for p in curve] != epochs for curve in curves):
        return ""
    body = [
        [f"`{row['row']}`", *(f"{100 * p['miou']:.1f}" for p in row["val_curve"])] for row in rows
    ]
    return "\n\n" + spec["curve"] + "\n\n" + table(["epoch", *(f"{e:g}" for e in epochs)], body)


def summary_table(result: dict) -> str:
    """README.md's results table: the shipped model and the exports report.toml's [summary]
    names, beside the peers it names."""
    spec, protocol = SPEC["summary"], SPEC["sections"]["camvid"]["protocol"]
    shipped = {"protocol": result.get("protocol", protocol)}
    rows = own_rows(result, spec, shipped, exports=spec["exports"])
    rows += [
        [fill(cell, {"protocol": protocol, **peer}) for cell in spec["peer_row"]]
        for peer in result["peers"]
        if peer["model"] in spec["peers"]
    ]
    return table(spec["header"], rows)


def model_card(result: dict, found_diagnostics: dict[str, dict] | None = None) -> str:
    """The model card's scores (models/camvid/README.md): the shipped checkpoint and each of its
    exported files on the test split, overall and per class, and its diagnostic rows."""
    spec = SPEC["model_card"]
    exports = result.get("exports", {})
    seen, stale = diagnostics(result, found_diagnostics or {})
    rows = own_rows(result, spec, {}, seen=seen)
    classes = result["config"]["model"]["classes"]["names"]  # JSON keys are sorted: use the table
    pct = FORMATS["pct2"]
    per_class = [[spec["shipped_label"]] + [pct(result["test"]["class_iou"][c]) for c in classes]]
    per_class += [[name] + [pct(e["class_iou"][c]) for c in classes] for name, e in exports.items()]
    return "\n\n".join(
        [
            fill(spec["text"], result),
            table(spec["header"], rows),
            *stale,
            spec["class_title"],
            table(["", *classes], per_class),
        ]
    )
