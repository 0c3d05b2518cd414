"""Every command README.md, the pages in docs/, the model card and `make demo` show exists, and
its flags parse.

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

import children
import fabricate
from paths import ROOT

DOCS = (
    "README.md",
    os.path.join("models", "camvid", "README.md"),
    *sorted(
        os.path.join("docs", name)
        for name in os.listdir(os.path.join(ROOT, "docs"))
        if name.endswith(".md")
    ),
)


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
    out = subprocess.run(
        ["make", "-n", "-B", "demo"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    joined = re.sub(r"\\\n\s*", " ", out)
    return [
        ("make demo", line.split(".venv/bin/", 1)[1].replace("python ", "python ", 1))
        for line in joined.splitlines()
        if ".venv/bin/python" in line and "-m pip" not in line and "-m pytest" not in line
    ]


PYTHON_COMMANDS = [
    (where, c)
    for where, c in _documented() + _demo_commands()
    if c.startswith("python ") and "..." not in c
]
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
    spec = importlib.util.spec_from_file_location("doc_" + re.sub(r"\W", "_", target), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_docs_show_the_two_quick_start_commands():
    assert {"make demo", "make test"} <= set(MAKE_COMMANDS)


def test_every_page_is_read():
    assert {
        "README.md",
        os.path.join("docs", "training.md"),
        os.path.join("docs", "deployment.md"),
    } <= set(DOCS)


def test_documented_commands_were_found():
    scripts = {shlex.split(c)[1] for _, c in PYTHON_COMMANDS}
    assert {"train.py", "evaluate.py", "export.py", "predict.py", "-m"} <= scripts


@pytest.mark.parametrize(
    "where,command", PYTHON_COMMANDS, ids=[f"{w}: {c[:60]}" for w, c in PYTHON_COMMANDS]
)
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


def test_train_as_documented_is_the_papers_run(tmp_path, monkeypatch, synthetic_cityscapes):
    """`python train.py --epochs 1000`, nothing but that flag, in a folder holding data/cityscapes
    (a tiny generated set): the run it starts is runs/fast_scnn from data/cityscapes with the
    paper's 1024x2048 crops in batches of 12, as train.py hands it to the trainer. (The paper's
    first step took more than 17 GB on the 2-core CPU machine: too much for a test.)"""
    import fast_scnn_tf.training
    from fast_scnn_tf.data import num_frames

    (tmp_path / "data").mkdir()
    os.symlink(synthetic_cityscapes(num_train=12, num_val=1), tmp_path / "data" / "cityscapes")
    monkeypatch.chdir(tmp_path)
    started = {}

    def trainer(config, model_dir, **options):
        started.update(config=config, model_dir=model_dir)
        return {
            "step": 0,
            "total_steps": 0,
            "best_miou": None,
            "latest_checkpoint": None,
            "best_checkpoint": None,
            "weights_sha256": "",
        }

    monkeypatch.setattr(fast_scnn_tf.training, "train", trainer)
    assert _load_main("train.py")(["--epochs", "1000"]) == 0
    config = started["config"]
    assert started["model_dir"] == os.path.join("runs", "fast_scnn")
    assert config.data.data_dir == os.path.join("data", "cityscapes")
    assert num_frames(config.data, "train") == 12
    assert (config.model.name, config.train.preset, config.train.epochs) == (
        "fast_scnn",
        "paper",
        1000,
    )
    assert config.data.crop_size == (1024, 2048) and config.train.batch_size == 12


@pytest.mark.slow
def test_the_tools_run_quietly_and_export_as_documented(tmp_path, synthetic_cityscapes):
    """`python export.py --mode cls --tflite`, nothing but those flags, on a run saved in
    runs/fast_scnn, writes the documented file; train.py (the documented command at a tiny crop,
    one step) and export.py show none of TensorFlow's start-up noise."""
    (tmp_path / "data").mkdir()
    os.symlink(synthetic_cityscapes(num_train=12, num_val=1), tmp_path / "data" / "cityscapes")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    # The two tools run at once: most of each is TensorFlow's start-up, on one thread.
    tiny_run = ["--epochs", "1000", "--crop-size", "64", "128", "--batch-size", "4"]
    tiny_run += ["--stop-at-step", "1", "--model-dir", str(tmp_path / "tiny"), "--no-progress"]
    fabricate.run_folder(tmp_path / "runs" / "fast_scnn")
    commands = {
        "train": [os.path.join(ROOT, "train.py"), *tiny_run],
        "export": [os.path.join(ROOT, "export.py"), "--mode", "cls", "--tflite"],
    }
    running = {
        name: children.start(command, tmp_path / f"{name}.log", cwd=tmp_path, env=env)
        for name, command in commands.items()
    }
    ended = children.wait_all(running, timeout=1200)
    for name, (code, output) in ended.items():
        assert code == 0, f"{name}: {output[-3000:]}"
    assert os.path.isfile(tmp_path / "exports" / "fast_scnn_cls_float32_1024x2048.tflite")
    for _, text in ended.values():
        assert not children.start_up_lines(text), text[-3000:]
