"""pyproject.toml declares what requirements.txt pins (one list: `make setup` installs the file,
`pip install .` the package), and builds the package alone."""

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile

import pytest

from paths import ROOT


def _name(requirement: str) -> str:
    """The normalised project name of a pinned requirement (`tf_keras==2` -> `tf-keras`)."""
    return re.split(r"[=<>!~;\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_pyproject_declares_exactly_the_pins_of_requirements_txt():
    with open(os.path.join(ROOT, "requirements.txt")) as f:
        pinned = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["test"]
    assert all("==" in requirement for requirement in pinned)
    assert sorted(declared, key=_name) == sorted(pinned, key=_name)


@pytest.mark.slow  # builds a wheel (a few seconds)
def test_wheel_holds_the_package_and_not_the_scripts(tmp_path):
    """Built from a copy of the tree: setuptools writes build/ and *.egg-info beside the source."""

    def left_out(directory, names):
        top = os.path.samefile(directory, ROOT)
        return [
            name
            for name in names
            if name.startswith(".")
            or name == "__pycache__"
            or top
            and name in ("data", "runs", "models", "web", "demo", "exports")
        ]

    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=left_out)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("fast_scnn_tf-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "fast_scnn_tf/__init__.py" in names and "fast_scnn_tf/data/pipeline.py" in names
    assert "fast_scnn_tf/model/ffnet/__init__.py" in names
    assert not [
        n
        for n in names
        if n.split("/")[0] in ("tests", "benchmarks")
        or n in ("train.py", "evaluate.py", "export.py", "predict.py")
    ]
