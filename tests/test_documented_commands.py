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
import sys

import pytest

from paths import ROOT

DOCS = ("README.md", os.path.join("fast_scnn_tf", "export", "README.md"))


def _code_block_commands(text):
    """Shell lines from ```bash, ```sh and untagged blocks, continuation lines joined, comments
    dropped. Every fence is matched (whatever its tag) so that a ```json block cannot throw the
    pairing off and hide the blocks after it."""
    commands = []
    for tag, block in re.findall(r"```(\w*)\n(.*?)```", text, flags=re.S):
        if tag not in ("", "bash", "sh"):
            continue
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


def test_train_without_data_says_where_to_put_cityscapes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # a project folder without data/cityscapes
    with pytest.raises(SystemExit) as exit_info:
        _load_main("train.py")(["--epochs", "1000"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert os.path.join("data", "cityscapes") in err and "cityscapes-dataset.com" in err


@pytest.mark.slow
def test_the_two_commands_people_are_told_to_run_work_as_written(tmp_path):
    """`python train.py --epochs 1000`, then `python export.py --mode cls --tflite`, with nothing
    but those flags, in a folder holding data/cityscapes (a tiny generated set).

    The paper's first step (12 crops of 1024x2048) took more than 17 GB on the 2-core CPU
    machine, too much for a test: train.py is killed once its loop starts, after its log showed
    a run in runs/fast_scnn from data/cityscapes at the paper's crop and batch. The export command
    then runs on a checkpoint the test saves into that run folder. Neither command may show
    TensorFlow's start-up noise."""
    from fast_scnn_tf.checkpoint import write_run
    from fast_scnn_tf.config import Config
    from fast_scnn_tf.model import build_fast_scnn
    from fast_scnn_tf.synthetic import generate
    generate(str(tmp_path / "data" / "cityscapes"), num_train=12, num_val=1, size=(64, 128),
             seed=0)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    train = subprocess.Popen([sys.executable, os.path.join(ROOT, "train.py"), "--epochs", "1000"],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    output = []
    for line in train.stdout:
        output.append(line)
        if "epoch 1/1000" in line:
            train.kill()
    train.wait(timeout=60)
    train_output = "".join(output)
    assert "epoch 1/1000" in train_output, train_output[-3000:]
    for default in (os.path.join("data", "cityscapes"), "12 train", "1024x2048", "batch 12"):
        assert default in train_output, train_output[-3000:]
    run_dir = tmp_path / "runs" / "fast_scnn"
    assert run_dir.is_dir()

    write_run(str(run_dir), Config(), build_fast_scnn(aux=True))
    export = subprocess.run([sys.executable, os.path.join(ROOT, "export.py"), "--mode", "cls",
                             "--tflite"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=1200)
    assert export.returncode == 0, export.stderr[-3000:]
    assert os.path.isfile(tmp_path / "exports" / "fast_scnn_cls_float32_1024x2048.tflite")
    for text in (train_output, export.stdout + export.stderr):
        assert "cuInit" not in text and "absl::InitializeLog" not in text, text[-3000:]
