"""The tree is clean under ruff, with the rules and line length of pyproject.toml's [tool.ruff],
and formatted as `ruff format` formats it (`make test` runs this, so CI lints)."""

import subprocess
import sys

from paths import ROOT


def test_ruff_finds_nothing():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"{result.stdout}{result.stderr}\n.venv/bin/ruff check --fix . sorts the imports; fix "
        "the rest by hand"
    )


def test_ruff_format_changes_nothing():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"{result.stdout}{result.stderr}\n.venv/bin/ruff format . fixes it"
    )
