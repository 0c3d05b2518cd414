"""The FFNet converter treats a .pth as untrusted data: its inflated size is bounded before anything
is inflated, and each tensor's dtype, shape and values (finite, BatchNorm variances >= 0) are
checked before anything is converted, errors naming the key. Needs torch: pip install -r
requirements-torch.txt."""

import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="conversion tests need torch: pip install -r requirements-torch.txt"
)
import ffnet_torch_reference as ref  # noqa: E402  (tests/ is on sys.path under pytest)
from fast_scnn_tf.convert import pth  # noqa: E402
from fast_scnn_tf.model.families import FAMILIES  # noqa: E402
from paths import ROOT  # noqa: E402

FFNET_WEIGHTS = FAMILIES["ffnet"].foreign_weights
MAX_INFLATED_BYTES = pth.max_inflated_bytes(FFNET_WEIGHTS)


def load_torch_state_dict(path):
    return pth.load_torch_state_dict(path, FFNET_WEIGHTS, "ffnet")


def _deflated_copy(source, target, extra=None):
    """`source` (a torch.save zip) rewritten with every entry deflate-compressed; `extra` is
    (name, size): one more entry of that many zero bytes, written in 1 MiB pieces."""
    with (
        zipfile.ZipFile(source) as src,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out,
    ):
        for info in src.infolist():
            out.writestr(info.filename, src.read(info.filename))
        if extra:
            name, size = extra
            with out.open(name, "w", force_zip64=True) as f:
                piece = bytes(1 << 20)
                for start in range(0, size, len(piece)):
                    f.write(piece[: size - start])
    return str(target)


@pytest.fixture
def no_torch_load(monkeypatch):
    """Fail the test if torch.load is reached: the checks must come before it inflates."""

    def refuse(*args, **kwargs):
        raise AssertionError("torch.load was called")

    monkeypatch.setattr(torch, "load", refuse)


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_the_inflation_cap_is_the_largest_variants_weights_as_float64():
    values = {
        v: sum(t.numel() for t in ref.FFNetReference(v).state_dict().values())
        for v in ref.REFERENCE_VARIANTS
    }
    largest = max(values, key=values.get)
    assert (FFNET_WEIGHTS.largest_variant, FFNET_WEIGHTS.largest_values) == (
        largest,
        values[largest],
    )
    values = values[largest]
    assert MAX_INFLATED_BYTES == 8 * values + pth.INFLATED_MARGIN


def test_a_deflated_pth_that_inflates_past_the_cap_is_refused_before_inflating(
    tmp_path, no_torch_load
):
    # 1.9 MB on disk took 2.8 GB of memory: the archive's declared sizes are checked first.
    torch.save({"a": torch.zeros(3)}, str(tmp_path / "small.pth"))
    bomb = _deflated_copy(
        tmp_path / "small.pth",
        tmp_path / "bomb.pth",
        ("small/data/1", MAX_INFLATED_BYTES + 1),
    )
    assert (tmp_path / "bomb.pth").stat().st_size < 2 * 2**20
    with pytest.raises(ValueError) as error:
        load_torch_state_dict(bomb)
    message = str(error.value)
    assert bomb in message and "inflate" in message and "\n" not in message
    assert f"{MAX_INFLATED_BYTES / 1e6:.0f} MB" in message
    assert "ffnet122NS_CCC_mobile" in message


def test_an_entry_that_inflates_past_its_declared_size_is_refused(tmp_path, no_torch_load):
    # The declared sizes are checked against what the entries inflate to, read in pieces.
    torch.save({"a": torch.zeros(3)}, str(tmp_path / "small.pth"))
    path = _deflated_copy(tmp_path / "small.pth", tmp_path / "lying.pth")
    size = 4_000_003
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("small/data/1", bytes(size))
    # Declare 1000 bytes in the local and the central header.
    data = open(path, "rb").read()
    real = size.to_bytes(4, "little")
    assert data.count(real) == 2
    open(path, "wb").write(data.replace(real, (1000).to_bytes(4, "little")))
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("small/data/1").file_size == 1000
    with pytest.raises(ValueError, match=f"'{path}'.*small/data/1") as error:
        load_torch_state_dict(path)
    assert "\n" not in str(error.value)


def test_a_deflated_pth_within_the_cap_loads(tmp_path):
    torch.save({"w": torch.arange(6.0).reshape(2, 3)}, str(tmp_path / "plain.pth"))
    path = _deflated_copy(tmp_path / "plain.pth", tmp_path / "deflated.pth")
    state_dict = load_torch_state_dict(path)
    np.testing.assert_array_equal(state_dict["w"], np.arange(6.0).reshape(2, 3))


KEY = "backbone_model.layer2.0.downsample.1.running_var"  # a BatchNorm statistic of 128 values
CONV_KEY = "backbone_model.layer1.0.conv1.weight"


@pytest.fixture(scope="module")
def state_dict():
    model = ref.randomize(ref.FFNetReference("ffnet18_dAAC"), seed=1)
    return {k: v.numpy() for k, v in model.state_dict().items()}


def _convert(state_dict, **changes):
    from fast_scnn_tf.model.ffnet.torch_weights import convert_ffnet_state_dict

    return convert_ffnet_state_dict("ffnet18_dAAC", {**state_dict, **changes})


def test_bfloat16_and_float16_tensors_are_read_as_float32(tmp_path):
    # bfloat16 was a TypeError traceback (numpy has no bfloat16).
    values = torch.tensor([0.5, -1.25, 3.0])
    torch.save({"b": values.to(torch.bfloat16), "h": values.half()}, str(tmp_path / "w.pth"))
    state_dict = load_torch_state_dict(str(tmp_path / "w.pth"))
    for key in "bh":
        assert state_dict[key].dtype == np.float32
        np.testing.assert_array_equal(state_dict[key], values.numpy())


def test_integer_and_complex_tensors_keep_their_dtype_for_the_checks(tmp_path):
    torch.save(
        {"i": torch.arange(3), "c": torch.ones(2, dtype=torch.complex64)}, str(tmp_path / "w.pth")
    )
    state_dict = load_torch_state_dict(str(tmp_path / "w.pth"))
    assert (state_dict["i"].dtype, state_dict["c"].dtype) == (np.int64, np.complex64)


def test_a_tensor_numpy_cannot_hold_is_refused_naming_the_key(tmp_path):
    torch.save({"w": torch.zeros(3).to(torch.float8_e4m3fn)}, str(tmp_path / "w.pth"))
    with pytest.raises(ValueError, match=r"key 'w' in '.*w\.pth' .*float8_e4m3fn") as error:
        load_torch_state_dict(str(tmp_path / "w.pth"))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("dtype", [np.int64, np.complex64, np.bool_])
def test_weights_that_are_not_real_floats_are_refused_naming_the_key(state_dict, dtype):
    # int64 was truncated and complex lost its imaginary part, silently.
    value = state_dict[CONV_KEY].astype(dtype)
    with pytest.raises(ValueError, match=f"key '{CONV_KEY}' .*{np.dtype(dtype).name}") as error:
        _convert(state_dict, **{CONV_KEY: value})
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("shape", [(), (19,), (19, 128)])
def test_a_classifier_of_the_wrong_rank_is_refused_naming_it(state_dict, shape):
    key = "head.layers.3.last_layer.3.weight"
    with pytest.raises(ValueError, match=f"key '{key}' has shape {re_shape(shape)}"):
        _convert(state_dict, **{key: np.zeros(shape, np.float32)})


def re_shape(shape) -> str:
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def _with(state_dict, key, index, value):
    array = np.array(state_dict[key])
    array.flat[index] = value
    return {key: array}


@pytest.mark.parametrize(
    "key, value",
    [
        (CONV_KEY, np.nan),
        (KEY, np.inf),
        ("head.layers.3.last_layer.3.bias", -np.inf),
    ],
)
def test_non_finite_weights_are_refused_naming_the_key(state_dict, key, value):
    # A NaN converted with rc 0, and the run then predicted class 0 everywhere.
    with pytest.raises(ValueError, match=f"key '{key}' .*not finite") as error:
        _convert(state_dict, **_with(state_dict, key, 5, value))
    assert "\n" not in str(error.value)


def test_a_float64_weight_beyond_float32_is_refused_naming_the_key(state_dict):
    changed = {CONV_KEY: state_dict[CONV_KEY].astype(np.float64)}
    changed[CONV_KEY].flat[0] = 1e300  # finite as float64, infinite as float32
    with (
        warnings.catch_warnings(),
        pytest.raises(ValueError, match=f"key '{CONV_KEY}' .*not finite"),
    ):
        warnings.simplefilter("error")  # numpy's overflow warning would be a second line
        _convert(state_dict, **changed)


def test_a_negative_running_var_is_refused_naming_the_key(state_dict):
    with pytest.raises(ValueError, match=f"key '{KEY}' .*negative") as error:
        _convert(state_dict, **_with(state_dict, KEY, 3, -0.5))
    assert "\n" not in str(error.value)
    _convert(state_dict, **_with(state_dict, KEY, 3, 0.0))  # a zero variance is a variance


@pytest.mark.slow  # a process importing TensorFlow and torch, ~15 s on 2 cores
def test_a_conversion_prints_only_its_own_line(tmp_path):
    # TensorFlow's checkpoint writer logged "Sharding callback duration: ..." through absl.
    model = ref.randomize(ref.FFNetReference("ffnet18_dAAC", 5), seed=1)
    torch.save(model.state_dict(), str(tmp_path / "w.pth"))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "fast_scnn_tf.convert",
            "ffnet",
            "--variant",
            "ffnet18_dAAC",
            "--weights",
            str(tmp_path / "w.pth"),
            "--model-dir",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    lines = (run.stdout + run.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"wrote {tmp_path / 'run'}: "), lines
