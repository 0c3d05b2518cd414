"""The generated blocks, each rendered from the results folders: `benchmarks` (every benchmark,
from benchmarks/results/), `camvid` (the CamVid experiments, from experiments/results/),
`model_card` (the shipped CamVid model's scores, from the same) and `summary` (the shipped
model's score beside its anchors, the speed ratios, from both).

A section is report.toml's [sections.NAME] filled from NAME.json, its provenance and the values
its derivation (DERIVED, in report_inference.py, report_profiles.py and report_camvid.py) adds.
"""

from __future__ import annotations

import json
import os

from benchmarks import report_camvid, report_inference, report_profiles
from benchmarks.report_template import ROOT, SPEC, bullets, common_values, fill, fill_section

RESULTS_DIR = os.path.join(ROOT, "benchmarks", "results")
EXPERIMENTS_DIR = os.path.join(ROOT, "experiments", "results")
# JSON file stems of the benchmarks block, in page order
SECTIONS = (
    "inference",
    "serving",
    "tflite_profile",
    "saved_model_profile",
    "models",
    "train_step",
    "camvid_epoch",
    "train_profile",
    "input_pipeline",
)
# The CamVid block: the shipped model, its recipe ablation, and full-length runs recorded by
# experiments/camvid.py like the shipped one that do not ship (a model replaced by a better one
# keeps its record under its own name, e.g. camvid_sgd300; a name without a file is skipped).
CAMVID, ABLATION = "camvid", "camvid_ablation"
CANDIDATES = (
    "camvid_sgd145",
    "camvid_sgd300",
    "camvid_adam80",
    "camvid_trainval80",
    "camvid_trainval300",
)
# What each section derives from its JSON beyond the JSON's own fields
DERIVED = {
    "inference": report_inference.inference,
    "serving": report_inference.serving,
    "tflite_profile": report_profiles.tflite_profile,
    "saved_model_profile": report_profiles.saved_model_profile,
    "camvid_epoch": report_profiles.camvid_epoch,
    "train_profile": report_profiles.train_profile,
    "input_pipeline": report_profiles.input_pipeline,
    "camvid": report_camvid.camvid,
    "camvid_ablation": report_camvid.camvid_ablation,
}


def section(name: str, result: dict, **options) -> str:
    """One section: the paragraphs of report.toml's [sections.NAME] filled from `result`, the
    values DERIVED[name] adds, the provenance and the section's tables; empty paragraphs left
    out."""
    values = {**result, **common_values(result)}
    if name in DERIVED:
        values.update(DERIVED[name](result, SPEC["sections"][name], **options))
    return fill_section(name, values)


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


# Every block renderer takes both folders (the benchmarks' results, the experiments' results).
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
    found = load(experiments_dir, report_camvid.DIAGNOSTICS)
    parts = [
        SPEC["notice"],
        section(CAMVID, results[CAMVID], candidates=candidates, found_diagnostics=found),
    ]
    if ABLATION in results:
        parts.append(section(ABLATION, results[ABLATION]))
    return "\n\n".join(
        parts + [report_camvid.candidate_line(result, name) for name, result in candidates.items()]
    )


def render_model_card(results_dir: str = RESULTS_DIR, experiments_dir: str = EXPERIMENTS_DIR):
    """The scores block of the shipped model's card (models/camvid/README.md)."""
    results = load(experiments_dir, (CAMVID,))
    if CAMVID not in results:
        return SPEC["notice"] + "\n\n" + SPEC["camvid_missing"]
    found = load(experiments_dir, report_camvid.DIAGNOSTICS)
    return SPEC["notice"] + "\n\n" + report_camvid.model_card(results[CAMVID], found)


def render_summary(results_dir: str = RESULTS_DIR, experiments_dir: str = EXPERIMENTS_DIR) -> str:
    """README.md's results block: the shipped CamVid model and its int8 file beside the peers
    report.toml's [summary] names, then the speed targets as ratios of one inference run."""
    spec = SPEC["summary"]
    results = {**load(experiments_dir, (CAMVID,)), **load(results_dir, ("inference", "serving"))}
    parts = [SPEC["notice"]]
    if CAMVID in results:
        parts.append(report_camvid.summary_table(results[CAMVID]))
    else:
        parts.append(SPEC["camvid_missing"])
    if "inference" in results:
        lines = [
            line
            for line in report_inference.target_lines(results["inference"])
            if line.startswith(tuple(spec["speed_lines"]))
            and not ("serving" in results and "ONNX Runtime" in line)
        ]
        parts.append(fill(spec["speed"], results["inference"]) + "\n\n" + bullets(lines))
    else:
        parts.append(fill(SPEC["missing"], {"name": "inference"}))
    if "serving" in results:
        serving = results["serving"]
        targets = report_inference.serving(serving, SPEC["sections"]["serving"])["targets"]
        parts.append(fill(spec["serving"], serving) + "\n\n" + targets)
    return "\n\n".join(parts)
