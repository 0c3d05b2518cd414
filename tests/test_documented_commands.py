"""Every command the README, the export guide and `make demo` show exists, and its flags parse.

Each documented `python SCRIPT ...` line is fed to that script's own argument parser (stopped
right after parsing, so nothing runs); `make` targets must exist in the Makefile.
"""

import argparse
import importlib.util
import os
import re
import shlex
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ("README.md", os.path.join("fast_scnn_tf", "export", "README.md"))


def _code_block_commands(text):
    """Shell lines from ``` blocks, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```(?:bash|sh)?\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("#") or not line:
                continue
            commands.append(line)
    return commands


def _documented():
    commands = []
    for doc in DOCS:
        with open(os.path.join(ROOT, doc)) as f:
            commands += [(doc, c) for c in _code_block_commands(f.read())]
    return commands


def _demo_commands():
    out = subprocess.run(["make", "-n", "-B", "demo"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    joined = re.sub(r"\\\n\s*", " ", out)
    return [("make demo", line.split(".venv/bin/", 1)[1].replace("python ", "python ", 1))
            for line in joined.splitlines() if ".venv/bin/python" in line
            and "-m pip" not in line and "-m pytest" not in line]


PYTHON_COMMANDS = [(where, c) for where, c in _documented() + _demo_commands()
                   if c.startswith("python ") and "..." not in c]
MAKE_COMMANDS = sorted({c for _, c in _documented() if c.startswith("make ")})


class _Parsed(Exception):
    pass


def _parse_only(self, args=None, namespace=None):
    namespace, unknown = self.parse_known_args(args, namespace)
    if unknown:
        self.error(f"unrecognized arguments: {' '.join(unknown)}")
    raise _Parsed(namespace)


def _load_main(target):
    if target == "-m":
        raise AssertionError("module form handled by the caller")
    path = os.path.join(ROOT, target)
    assert os.path.isfile(path), f"documented script {target} does not exist"
    spec = importlib.util.spec_from_file_location(
        "doc_" + re.sub(r"\W", "_", target), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_docs_show_the_two_quick_start_commands():
    assert {"make demo", "make test"} <= set(MAKE_COMMANDS)


def test_documented_commands_were_found():
    scripts = {shlex.split(c)[1] for _, c in PYTHON_COMMANDS}
    assert {"train.py", "evaluate.py", "export.py", "predict.py", "-m"} <= scripts


@pytest.mark.parametrize("where,command", PYTHON_COMMANDS,
                         ids=[f"{w}: {c[:60]}" for w, c in PYTHON_COMMANDS])
def test_documented_command_parses(where, command, monkeypatch):
    argv = shlex.split(command)[1:]
    if argv[0] == "-m":
        module = importlib.import_module(argv[1])
        main, args = module.main, argv[2:]
    else:
        main, args = _load_main(argv[0]), argv[1:]
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", _parse_only)
    with pytest.raises(_Parsed):
        main(args)


@pytest.mark.parametrize("command", MAKE_COMMANDS)
def test_documented_make_target_exists(command):
    target = command.split()[1]
    result = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
