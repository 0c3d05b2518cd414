"""What every benchmark or experiment run stores beside its numbers: device, versions, date, thread
counts and the command that produced it, written atomically to `benchmarks/results/<name>.json`
or `experiments/results/<name>.json`. `report.py` renders the README and docs tables from these
files."""

from __future__ import annotations

import json
import os
import shlex
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_output(name: str, package: str = "benchmarks") -> str:
    """`<package>/results/<name>.json` in the repository (`benchmarks` or `experiments`)."""
    return os.path.join(ROOT, package, "results", f"{name}.json")


def command_line(script: str, argv: list[str] | None) -> str:
    """The command as a reader would retype it from the repository root:
    `python -m <package>.<module> <args>` for the script file `script`."""
    args = sys.argv[1:] if argv is None else argv
    package = os.path.basename(os.path.dirname(os.path.abspath(script)))
    module = os.path.splitext(os.path.basename(script))[0]
    return shlex.join(["python", "-m", f"{package}.{module}", *args])


def save(result: dict, path: str, script: str, argv: list[str] | None) -> dict:
    """Add `environment` (device, versions incl. PyTorch's when it was timed, date, threads) and
    `command` to `result`, write it to `path` via a temporary file; returns the completed
    result."""
    from benchmarks import speed
    from fast_scnn_tf.files import write_json

    environment = speed.environment()
    for package in ("torch", "onnxruntime"):  # a PyTorch / ONNX Runtime reference was timed
        if package in sys.modules:
            environment[package] = sys.modules[package].__version__
    result = {"environment": environment, "command": command_line(script, argv), **result}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_json(path, result)
    print(json.dumps(result["environment"]))
    print(f"wrote {path}")
    return result
