"""PyTorch -> Keras FFNet conversion: our PyTorch reference (official key layout, random weights
and BatchNorm statistics) and the converted Keras model give the same logits; bad state dicts
fail naming the key; the CLI writes a run folder that fast_scnn_tf.training.checkpoint finds.
Needs torch: pip install -r requirements-torch.txt."""

import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="conversion tests need torch: pip install -r requirements-torch.txt"
)
import ffnet_torch_reference as ref  # noqa: E402  (tests/ is on sys.path under pytest)
from fast_scnn_tf import convert  # noqa: E402
from fast_scnn_tf.config import Config  # noqa: E402
from fast_scnn_tf.model.ffnet.torch_weights import convert_ffnet_state_dict  # noqa: E402
from fast_scnn_tf.model.head import low_res_logits  # noqa: E402
from fast_scnn_tf.training.checkpoint import find_checkpoint, load_run  # noqa: E402
from paths import ROOT  # noqa: E402
from test_ffnet_model import OFFICIAL_PARAMETERS  # noqa: E402

TOLERANCE = 1e-4


def smooth_image(h, w, seed=0):
    """A street-scene-like RGB image 0..255: smooth colour regions plus a little noise."""
    rng = np.random.default_rng(seed)
    low = torch.from_numpy(rng.uniform(0, 255, (1, 3, h // 16 + 2, w // 16 + 2)).astype(np.float32))
    x = torch.nn.functional.interpolate(low, (h, w), mode="bilinear", align_corners=False)
    x = x.numpy().transpose(0, 2, 3, 1) + rng.normal(0, 6, (1, h, w, 3))
    return np.clip(x, 0, 255).astype(np.float32)


def reference_and_state_dict(variant, num_classes=19, seed=1):
    model = ref.randomize(ref.FFNetReference(variant, num_classes), seed)
    return model, {k: v.numpy() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def dAAC_state_dict():
    return reference_and_state_dict("ffnet18_dAAC")[1]


@pytest.mark.parametrize("variant", sorted(OFFICIAL_PARAMETERS))
def test_reference_has_the_official_parameter_count(variant):
    assert ref.trainable_parameters(ref.FFNetReference(variant)) == OFFICIAL_PARAMETERS[variant]


@pytest.mark.parametrize(
    "variant, size",
    [
        ("ffnet40S_dBBB_mobile", (128, 256)),  # nearest up-head, logits at 1/8
        # bilinear align_corners=True, stem A with max-pool
        pytest.param("ffnet18_dAAC", (128, 256), marks=pytest.mark.slow),  # slow: ~1.5 s each
        # odd size: nearest at non-integer ratios, 1/4
        pytest.param("ffnet46NS_CCC_mobile", (97, 131), marks=pytest.mark.slow),
        ("ffnet40S_BCC_mobile", (75, 203)),  # odd size, four-stage backbone at 1/4
    ],
)
def test_converted_logits_match_pytorch(variant, size):
    torch_model, state_dict = reference_and_state_dict(variant)
    image = smooth_image(*size)
    with torch.no_grad():
        expected = torch_model(ref.preprocess(image)).numpy().transpose(0, 2, 3, 1)
    model = convert_ffnet_state_dict(variant, state_dict, resize_to_input=False)
    logits = model(image, training=False).numpy()
    assert logits.shape == expected.shape
    assert expected.std() > 0.1  # not a degenerate (constant) output
    assert np.abs(logits - expected).max() <= TOLERANCE


def test_resized_logits_match_the_official_evaluation():
    """resize_to_input=True is F.interpolate(bilinear, align_corners=False) to the input size."""
    torch_model, state_dict = reference_and_state_dict("ffnet18_dAAC")
    image = smooth_image(75, 130).astype(np.uint8)  # what a decoded frame is
    with torch.no_grad():
        expected = torch.nn.functional.interpolate(
            torch_model(ref.preprocess(image)), (75, 130), mode="bilinear", align_corners=False
        )
    model = convert_ffnet_state_dict("ffnet18_dAAC", state_dict)
    logits = model(image, training=False).numpy()
    assert np.abs(logits - expected.numpy().transpose(0, 2, 3, 1)).max() <= TOLERANCE


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_class_count_comes_from_the_classifier():
    _, state_dict = reference_and_state_dict("ffnet46NS_CCC_mobile", num_classes=7)
    model = convert_ffnet_state_dict("ffnet46NS_CCC_mobile", state_dict)
    assert model.output.shape[-1] == 7
    with pytest.raises(ValueError, match=r"'head.layers.3.last_layer.3.weight' has 7 classes"):
        convert_ffnet_state_dict("ffnet46NS_CCC_mobile", state_dict, num_classes=19)


def test_pre_downsampling_kernel_is_accepted(dAAC_state_dict):
    """Released BCC/CCC weights carry the `_pre_down` models' fixed Gaussian buffer."""
    state_dict = {**dAAC_state_dict, "smoothing.weight": np.zeros((3, 1, 5, 5), np.float32)}
    convert_ffnet_state_dict("ffnet18_dAAC", state_dict)


KEY = "backbone_model.layer2.0.downsample.1.running_var"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda sd: sd.pop(KEY), f"missing key '{KEY}'"),
        (
            lambda sd: sd.update({"head.layers.4.weight": np.zeros(3)}),
            "unexpected key 'head.layers.4.weight'",
        ),
        (
            lambda sd: sd.update({KEY: np.ones(64)}),
            f"key '{KEY}' has shape \\(64,\\), .* expects \\(128,\\)",
        ),
        (
            lambda sd: sd.update({"backbone_model.conv1.weight": np.ones((64, 3, 3, 3))}),
            r"key 'backbone_model.conv1.weight' has shape \(64, 3, 3, 3\)",
        ),
        (
            lambda sd: sd.pop("head.layers.3.last_layer.3.weight"),
            "missing key 'head.layers.3.last_layer.3.weight'",
        ),
        (lambda sd: sd.update({"smoothing.weight": np.ones((3, 3, 5, 5))}), "smoothing.weight"),
    ],
)
def test_bad_state_dicts_fail_naming_the_key(dAAC_state_dict, change, message):
    state_dict = dict(dAAC_state_dict)
    change(state_dict)
    with pytest.raises(ValueError, match=message) as error:
        convert_ffnet_state_dict("ffnet18_dAAC", state_dict)
    assert "\n" not in str(error.value)


def test_wrong_variant_fails(dAAC_state_dict):
    with pytest.raises(ValueError, match="missing key 'backbone_model.conv0.weight'"):
        convert_ffnet_state_dict("ffnet40S_dBBB_mobile", dAAC_state_dict)


@pytest.mark.slow  # 2-4 s on 2 cores: make test runs it, make test-fast does not
def test_cli_writes_a_run_folder(tmp_path, capsys):
    variant = "ffnet18_dAAC"
    torch_model, state_dict = reference_and_state_dict(variant, num_classes=5)
    # A DataParallel-style checkpoint: wrapped in {"state_dict": ...}, keys prefixed "module.".
    weights = str(tmp_path / "weights.pth")
    torch.save(
        {"state_dict": {"module." + k: v for k, v in torch_model.state_dict().items()}}, weights
    )
    model_dir = str(tmp_path / "run")
    args = ["ffnet", "--variant", variant, "--weights", weights, "--model-dir", model_dir]
    assert convert.main(args) == 0

    assert find_checkpoint(model_dir) == os.path.join(model_dir, "best", "ckpt-0")
    config = Config.load(model_dir)
    assert (config.model.name, config.model.num_classes) == (variant, 5)
    # Loaded the way evaluate.py, export.py and predict.py load a run; compared before the resize.
    model = low_res_logits(load_run(model_dir).model)
    image = smooth_image(64, 96)
    with torch.no_grad():
        expected = torch_model(ref.preprocess(image)).numpy().transpose(0, 2, 3, 1)
    assert np.abs(model(image, training=False).numpy() - expected).max() <= TOLERANCE
    assert sorted(os.listdir(tmp_path)) == ["run", "weights.pth"]  # no temp folder left
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(model_dir).st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's 0700

    capsys.readouterr()
    assert convert.main(args) == 1  # a non-empty model dir is not overwritten by default
    err = capsys.readouterr().err
    assert "--overwrite" in err and err.count("\n") == 1
    assert convert.main(args + ["--overwrite"]) == 0


def test_cli_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.pth"
    torch.save({"backbone_model.conv1.weight": torch.zeros(1)}, str(bad))
    for weights in [str(tmp_path / "absent.pth"), str(bad)]:
        code = convert.main(
            [
                "ffnet",
                "--variant",
                "ffnet18_dAAC",
                "--weights",
                weights,
                "--model-dir",
                str(tmp_path / "run"),
            ]
        )
        err = capsys.readouterr().err
        assert code == 1 and err.startswith("convert: error:") and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        convert.main(["ffnet", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--variant" in out and "ffnet40S_dBBB_mobile" in out and "--overwrite" in out


def _tiny_model():
    import keras

    inputs = keras.Input((None, None, 3))
    return keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))


def test_overwrite_never_deletes_a_folder_this_project_did_not_write(tmp_path):
    """`--model-dir . --overwrite` emptied the current folder (then failed): any non-empty folder
    was deleted on --overwrite."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("keep me")
    with pytest.raises(FileExistsError, match="--model-dir"):
        convert.write_run_folder(_tiny_model(), "ffnet18_dAAC", str(mine), overwrite=True)
    assert os.listdir(mine) == ["thesis.tex"] and (mine / "thesis.tex").read_text() == "keep me"
    assert sorted(os.listdir(tmp_path)) == ["mine"]  # no temporary folder left


def test_current_folder_is_refused_before_the_weights_are_read(tmp_path, monkeypatch, capsys):
    (tmp_path / "notes.txt").write_text("keep me")
    monkeypatch.chdir(tmp_path)
    code = convert.main(
        [
            "ffnet",
            "--variant",
            "ffnet18_dAAC",
            "--weights",
            "absent.pth",
            "--model-dir",
            ".",
            "--overwrite",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "--model-dir '.'" in err and "current folder" in err
    assert err.count("\n") == 1 and os.listdir(tmp_path) == ["notes.txt"]


def test_weights_inside_the_model_dir_are_refused(tmp_path, capsys):
    """Replacing the run folder would delete the weights it was converted from."""
    run = tmp_path / "run"
    (run / "best").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "weights.pth").write_bytes(b"not read")
    code = convert.main(
        [
            "ffnet",
            "--variant",
            "ffnet18_dAAC",
            "--weights",
            str(run / "weights.pth"),
            "--model-dir",
            str(run),
            "--overwrite",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "--weights" in err and "inside" in err and err.count("\n") == 1
    assert (run / "weights.pth").read_bytes() == b"not read"


@pytest.mark.parametrize("content", [b"hello world, not torch\n", bytes(range(256)) * 12])
def test_a_file_that_is_no_state_dict_is_one_clear_line(tmp_path, capsys, content):
    # Torch's own messages were ": 101" (a text file) or advice to load with weights_only=False
    # (arbitrary code execution) for random bytes.
    weights = tmp_path / "model.pth"
    weights.write_bytes(content)
    code = convert.main(
        [
            "ffnet",
            "--variant",
            "ffnet40S_dBBB_mobile",
            "--weights",
            str(weights),
            "--model-dir",
            str(tmp_path / "run"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert str(weights) in err and "expected" in err
    assert "weights_only" not in err and not err.endswith("101")


@pytest.mark.slow
def test_the_converter_hides_tensorflows_start_up_lines(tmp_path):
    # Like every other tool: no "I0000 ... oneDNN", no "E0000 ... cuInit" before our own line.
    weights = tmp_path / "model.pth"
    weights.write_bytes(b"not torch")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "fast_scnn_tf.convert",
            "ffnet",
            "--variant",
            "ffnet40S_dBBB_mobile",
            "--weights",
            str(weights),
            "--model-dir",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        line for line in run.stderr.strip().splitlines() if line.startswith("convert: error:")
    ], run.stderr
