"""Reading a PyTorch `.pth` state dict as untrusted data: the archive's inflated size is bounded
by the family's largest variant before anything is inflated, and only tensors are loaded
(`weights_only`). Needs torch (`pip install -r requirements-torch.txt`); only the convert command
imports this module.
"""

from __future__ import annotations

import os
import zipfile
import zlib

import numpy as np

from fast_scnn_tf.model.contract import ForeignWeights

# Room beyond the largest variant's numbers as float64: the pickle, the record names and a
# classifier for thousands of classes.
INFLATED_MARGIN = 16 * 2**20
_PIECE = 2**20  # archive entries are read in pieces of this many bytes


def max_inflated_bytes(weights: ForeignWeights) -> int:
    """The most a .pth of the family's weights may inflate to: its largest variant's numbers as
    float64, the widest dtype accepted, and INFLATED_MARGIN."""
    return 8 * weights.largest_values + INFLATED_MARGIN


def check_archive(path: str, weights: ForeignWeights, family: str) -> None:
    """Refuse (one-line ValueError) a .pth that is not a zip archive (torch.save's format since
    PyTorch 1.6; the older format declares storage sizes that torch allocates before reading
    them), or whose entries inflate to more than `max_inflated_bytes(weights)`. torch.load
    inflates a deflate-compressed entry whole, so the sizes the archive declares are checked
    before anything is inflated, then each entry is inflated in pieces and must give its declared
    size and CRC."""

    def refuse(reason: str):
        return ValueError(
            f"'{path}' is not a readable PyTorch state dict ({reason}): expected a "
            ".pth file of tensors written by torch.save (PyTorch 1.6 or later)"
        )

    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise refuse(f"not a zip archive: {e}") from None
    with archive:
        entries = archive.infolist()
        declared = sum(entry.file_size for entry in entries)
        cap = max_inflated_bytes(weights)
        if declared > cap:
            raise ValueError(
                f"'{path}' would inflate to {declared / 1e6:.0f} MB, more than the "
                f"{cap / 1e6:.0f} MB the largest model of family '{family}' takes "
                f"({weights.largest_variant}: {weights.largest_values / 1e6:.1f} M numbers as "
                f"float64, and room for the rest): not one of its state dicts"
            )
        for entry in entries:
            inflated = 0
            try:
                with archive.open(entry) as f:
                    while piece := f.read(_PIECE):
                        inflated += len(piece)
            except (
                zipfile.BadZipFile,
                RuntimeError,
                NotImplementedError,
                EOFError,
                zlib.error,
            ) as e:  # damaged data, a bad CRC, encryption, another method
                raise refuse(f"entry '{entry.filename}': {e}") from None
            if inflated != entry.file_size:
                raise refuse(
                    f"entry '{entry.filename}' inflates to {inflated} bytes, "
                    f"not the {entry.file_size} it declares"
                )


def load_torch_state_dict(path: str, weights: ForeignWeights, family: str) -> dict[str, np.ndarray]:
    """Read a .pth state dict of `family`'s weights as numpy arrays: a plain state dict or
    {"state_dict": ...}, with any DataParallel `module.` prefix removed. Needs torch; loads
    tensors only (weights_only), from an archive whose inflated size is bounded first
    (`check_archive`)."""
    try:
        import torch
    except ImportError as e:
        raise ValueError(
            "reading .pth files needs PyTorch: pip install -r requirements-torch.txt"
        ) from e
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file '{path}' does not exist")
    check_archive(path, weights, family)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a file that is not a tensor pickle
        # Not torch's message: for a text file it is ": 101"; for other bytes, advice to load
        # with weights_only=False, which would run code from the file.
        raise ValueError(
            f"'{path}' is not a readable PyTorch state dict ({type(e).__name__}): "
            "expected a .pth file of tensors written by torch.save"
        ) from e
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise ValueError(f"'{path}' holds a {type(data).__name__}, not a state dict")
    floats = (torch.float32, torch.float16, torch.bfloat16, torch.float64)
    state_dict = {}
    for key, value in data.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"key '{key}' in '{path}' is a {type(value).__name__}, not a tensor")
        value = value.detach().cpu()
        try:
            # Floating-point weights become float32 here (numpy has no bfloat16); other dtypes
            # (integers, complex) stay as they are, for the converter to refuse by key.
            state_dict[key.removeprefix("module.")] = (
                value.to(torch.float32) if value.dtype in floats else value
            ).numpy()
        except (TypeError, RuntimeError):  # float8, quantised or sparse tensors
            raise ValueError(
                f"key '{key}' in '{path}' is a {value.dtype} tensor ({value.layout}),"
                " which numpy cannot hold: expected float32, float16, bfloat16 or "
                "float64 weights"
            ) from None
    return state_dict
