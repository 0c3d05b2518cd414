"""What the command-line tools share (fast_scnn_tf.cli): one-line errors, output-folder checks and
TensorFlow's start-up noise hidden unless --verbose."""

import os
import subprocess
import sys

import pytest

import children
from fast_scnn_tf import cli, files
from paths import ROOT


class _OpError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


# Messages as TensorFlow 2.21 raises them from a tf.data iterator.
ASSERTION = (
    "{{function_node __wrapped__IteratorGetNext_output_types_2_device_/job:localhost/"
    "replica:0/task:0/device:CPU:0}} Error in user-defined function passed to "
    "ParallelMapDatasetV2:6 transformation with iterator: Iterator::Root::Prefetch::"
    "ParallelMapV2: assertion failed: [image and label sizes differ:] [/d/a.png] "
    "[64 128] [/d/a_gt.png] [32 128]\n\t [[{{node Assert_6/Assert}}]] "
    "[Op:IteratorGetNext] name: "
)
DECODE = (
    "{{function_node __wrapped__IteratorGetNext_output_types_2_device_/job:localhost/"
    "replica:0/task:0/device:CPU:0}} Error in user-defined function passed to "
    "ParallelMapDatasetV2:6 transformation with iterator: Iterator::Root::Prefetch::"
    "ParallelMapV2: Invalid PNG data, size 18858\n\t [[{{node decode_image/DecodeImage}}]]"
    " [Op:IteratorGetNext] name: "
)


EAGER = (
    "Expected 'tf.Tensor(False, shape=(), dtype=bool)' to be true. Summarized data: "
    "b'label values outside the class table in'\nb'/d/a_gt.png'\nb'values found:'\n200"
)


def test_error_line_keeps_the_assertion_and_its_file():
    assert cli.error_line(_OpError(ASSERTION)) == (
        "image and label sizes differ: /d/a.png 64 128 /d/a_gt.png 32 128"
    )
    assert cli.error_line(_OpError(EAGER)) == (
        "label values outside the class table in /d/a_gt.png values found: 200"
    )
    assert cli.error_line(_OpError(DECODE)) == "Invalid PNG data, size 18858"


def test_output_dir_checks(tmp_path):
    files.check_output_dir(str(tmp_path / "new" / "deeper"), "--output")  # creatable: fine
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="--output .* is a file"):
        files.check_output_dir(str(tmp_path / "file"), "--output")
    with pytest.raises(ValueError, match="inside the file"):
        files.check_output_dir(str(tmp_path / "file" / "sub"), "--output")


def _predict_with_missing_model(tmp_path, *extra):
    import cv2
    import numpy as np

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((40, 40, 3), np.uint8))
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "predict.py"),
            str(tmp_path / "a.png"),
            "--model",
            str(tmp_path / "nope"),
            "--output",
            str(tmp_path / "out"),
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.slow  # a child process importing TensorFlow, ~3 s on 2 cores
def test_tools_hide_tensorflows_start_up_lines(tmp_path):
    """Only the tool's own error line: no absl/oneDNN/cuInit lines (the run imports TensorFlow
    and initialises its devices before it loads the model)."""
    result = _predict_with_missing_model(tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1
    assert len(lines) == 1 and lines[0].startswith("predict.py: error: model"), result.stderr


@pytest.mark.slow
def test_verbose_shows_them(tmp_path):
    result = _predict_with_missing_model(tmp_path, "--verbose")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) > 1, result.stderr


@pytest.mark.slow  # a child process importing TensorFlow, ~4 s on 2 cores
def test_synthetic_generator_is_quiet_too(tmp_path):
    """`make demo`'s first step: its own progress, none of TensorFlow's start-up lines (it needs
    no TensorFlow: fast_scnn_tf.data imports the tf.data pipeline only when asked for)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fast_scnn_tf.synthetic",
            "--out",
            str(tmp_path / "data"),
            "--num-train",
            "1",
            "--num-val",
            "1",
            "--size",
            "64",
            "128",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "wrote 2 frames" in result.stdout
    progress = result.stderr.replace("\r", "\n").split()  # "train: 1/1", "val: 1/1"
    assert set(progress) <= {"train:", "val:", "1/1"}, result.stderr


def test_the_synthetic_writer_does_not_import_tensorflow():
    code = (
        "import sys, fast_scnn_tf.synthetic; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


TFLITE_NOISE = """
import numpy as np
from fast_scnn_tf import cli
cli.import_tensorflow({verbose})
from fast_scnn_tf.export import tflite
from fast_scnn_tf.export.sample_frames import synthetic_frames
from fast_scnn_tf.model import build_fast_scnn
from fast_scnn_tf.model.head import build_head
frames = synthetic_frames((64, 96), 2)
content = tflite.convert(build_head(build_fast_scnn(num_classes=5), "cls", (64, 96)), "int8",
                         lambda: frames)
print("labels", tflite.run(tflite.interpreter(content), frames[0])["labels"].shape)
"""


@pytest.mark.slow  # two child processes converting a network at once, ~15 s on 2 cores
def test_tflite_conversion_and_interpreter_lines_hidden_unless_verbose(tmp_path):
    """The converter's "fully_quantize: 0, ..." and TFLite's "Created TensorFlow Lite XNNPACK
    delegate" lines are native prints: hidden like TensorFlow's start-up, shown with --verbose."""
    running = {
        verbose: children.start(
            ["-c", TFLITE_NOISE.format(verbose=verbose)], tmp_path / f"{verbose}.log"
        )
        for verbose in (False, True)
    }
    for verbose, (code, output) in children.wait_all(running, timeout=300).items():
        assert code == 0, output
        assert "labels (1, 64, 96)" in output
        for line in ("fully_quantize", "XNNPACK delegate"):
            assert (line in output) == verbose, f"verbose={verbose}: {output}"


def _run_folder(path):
    os.makedirs(os.path.join(path, "best"))
    with open(os.path.join(path, "config.json"), "w") as f:
        f.write("{}")
    return str(path)


def _saved_model(path):
    os.makedirs(os.path.join(path, "assets.extra"))
    for name in ("saved_model.pb", os.path.join("assets.extra", "config.json")):
        with open(os.path.join(path, name), "w") as f:
            f.write("x")
    return str(path)


def test_overwrite_replaces_only_folders_this_project_wrote(tmp_path):
    """`--model-dir . --overwrite` emptied the current folder: --overwrite replaced any folder."""
    files.check_replaceable(str(tmp_path / "absent"), "--model-dir", overwrite=False)
    (tmp_path / "empty").mkdir()
    files.check_replaceable(str(tmp_path / "empty"), "--model-dir", overwrite=False)
    files.check_replaceable(_run_folder(tmp_path / "run"), "--model-dir", overwrite=True)
    files.check_replaceable(_saved_model(tmp_path / "export"), "--version", overwrite=True)
    with pytest.raises(FileExistsError, match="pass --overwrite"):
        files.check_replaceable(str(tmp_path / "run"), "--model-dir", overwrite=False)

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("keep me")
    (mine / "config.json").write_text("{}")  # a config.json alone does not make a run folder
    with pytest.raises(FileExistsError) as error:
        files.check_replaceable(str(mine), "--model-dir", overwrite=True)
    assert "--model-dir" in str(error.value) and "mine" in str(error.value)
    assert "\n" not in str(error.value)
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="is a file"):
        files.check_replaceable(str(tmp_path / "file"), "--model-dir", overwrite=True)


def test_overwrite_never_replaces_the_current_folder(tmp_path, monkeypatch):
    run = _run_folder(tmp_path / "run")
    monkeypatch.chdir(os.path.join(run, "best"))
    for path in (".", "..", run):  # a run folder, but the one the user stands in or above it
        with pytest.raises(FileExistsError, match="current folder"):
            files.check_replaceable(path, "--model-dir", overwrite=True)


def test_the_marks_of_a_run_folder_are_the_ones_the_tools_write():
    from fast_scnn_tf.config import CONFIG_FILE
    from fast_scnn_tf.export.saved_model import EXTRA_DIR
    from fast_scnn_tf.training.checkpoint import BEST_DIR, LATEST_DIR

    assert files.RUN_FOLDER_MARKS == (CONFIG_FILE, (BEST_DIR, LATEST_DIR))
    assert files.SAVED_MODEL_MARKS == ("saved_model.pb", os.path.join(EXTRA_DIR, CONFIG_FILE))
