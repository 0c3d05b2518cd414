"""The FFNet converter treats a .pth as untrusted data: its inflated size is bounded before anything
is inflated. Needs torch: pip install -r requirements-torch.txt."""

import zipfile

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="conversion tests need torch: "
                                            "pip install -r requirements-torch.txt")
import ffnet_torch_reference as ref  # noqa: E402  (tests/ is on sys.path under pytest)
from fast_scnn_tf import convert  # noqa: E402


def _deflated_copy(source, target, extra=None):
    """`source` (a torch.save zip) rewritten with every entry deflate-compressed; `extra` is
    (name, size): one more entry of that many zero bytes, written in 1 MiB pieces."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED,
                                                         compresslevel=1) as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info.filename))
        if extra:
            name, size = extra
            with out.open(name, "w", force_zip64=True) as f:
                piece = bytes(1 << 20)
                for start in range(0, size, len(piece)):
                    f.write(piece[:size - start])
    return str(target)


@pytest.fixture
def no_torch_load(monkeypatch):
    """Fail the test if torch.load is reached: the checks must come before it inflates."""
    def refuse(*args, **kwargs):
        raise AssertionError("torch.load was called")
    monkeypatch.setattr(torch, "load", refuse)


def test_the_inflation_cap_is_the_largest_variants_weights_as_float64():
    values = max(sum(t.numel() for t in ref.FFNetReference(v).state_dict().values())
                 for v in ref.REFERENCE_VARIANTS)
    assert convert.LARGEST_STATE_DICT_VALUES == values
    assert convert.MAX_INFLATED_BYTES == 8 * values + convert.INFLATED_MARGIN


def test_a_deflated_pth_that_inflates_past_the_cap_is_refused_before_inflating(
        tmp_path, no_torch_load):
    # 1.9 MB on disk took 2.8 GB of memory: the archive's declared sizes are checked first.
    torch.save({"a": torch.zeros(3)}, str(tmp_path / "small.pth"))
    bomb = _deflated_copy(tmp_path / "small.pth", tmp_path / "bomb.pth",
                          ("small/data/1", convert.MAX_INFLATED_BYTES + 1))
    assert (tmp_path / "bomb.pth").stat().st_size < 2 * 2**20
    with pytest.raises(ValueError) as error:
        convert.load_torch_state_dict(bomb)
    message = str(error.value)
    assert bomb in message and "inflate" in message and "\n" not in message
    assert f"{convert.MAX_INFLATED_BYTES / 1e6:.0f} MB" in message
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
        convert.load_torch_state_dict(path)
    assert "\n" not in str(error.value)


def test_a_deflated_pth_within_the_cap_loads(tmp_path):
    torch.save({"w": torch.arange(6.0).reshape(2, 3)}, str(tmp_path / "plain.pth"))
    path = _deflated_copy(tmp_path / "plain.pth", tmp_path / "deflated.pth")
    state_dict = convert.load_torch_state_dict(path)
    np.testing.assert_array_equal(state_dict["w"], np.arange(6.0).reshape(2, 3))
