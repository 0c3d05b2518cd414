"""TF Serving SavedModel: signatures, reload equality, PNG-bytes endpoint, atomic versioning.

The tests that need the export are marked slow: it and the model it exports (tests/conftest.py)
take ~30 s on 2 cores, too much for `make test-fast`."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from fast_scnn_tf import files
from fast_scnn_tf.config import Config
from fast_scnn_tf.data.images import MAX_PIXELS
from fast_scnn_tf.export import memory, saved_model
from fast_scnn_tf.export.exporter import export_saved_model, saved_model_dir
from fast_scnn_tf.export.sample_frames import synthetic_frames
from fast_scnn_tf.export.validate import ValidationError
from fast_scnn_tf.model import build_fast_scnn
from fast_scnn_tf.model.head import LABELS, PROBABILITIES, build_head
from image_headers import png_chunk, png_claiming  # tests/ is on sys.path under pytest

CONFIG = Config()


@pytest.fixture(scope="module")
def model(trained_model):
    """Trained (tests/conftest.py): its labels are confident and vary across a frame."""
    return trained_model


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    """A prob-mode export (its signature returns both outputs)."""
    output = str(tmp_path_factory.mktemp("export"))
    report = export_saved_model(model, CONFIG, output, "prob", synthetic_frames((65, 97), 2))
    return report["path"]


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(exported)


@pytest.mark.slow
def test_export_goes_to_versioned_directory_with_metadata(exported):
    assert exported.endswith(os.path.join("fast_scnn", "1"))
    assert os.path.isfile(os.path.join(exported, "saved_model.pb"))
    assert files.not_an_export(exported) == ""  # what --overwrite may replace is all there is
    extra = os.path.join(exported, saved_model.EXTRA_DIR)
    assert Config.load(extra).model.num_classes == 19
    with open(os.path.join(extra, "metadata.json")) as f:
        metadata = json.load(f)
    # what a model card says of the training data, where the metadata can hold it
    assert metadata["trained_on"] == {"dataset": "cityscapes", "split": "train"}
    size_limits = metadata["input"]
    # the default limit is what serving a frame of this head can afford in the memory budget
    assert (size_limits["min_size"], size_limits["max_pixels"]) == (
        32,
        memory.serving_max_pixels("prob", 19),
    )


@pytest.mark.slow
def test_default_signature_takes_dynamic_uint8_images(loaded):
    fn = loaded.signatures[saved_model.DEFAULT_SIGNATURE]
    ((name, spec),) = fn.structured_input_signature[1].items()
    assert name == saved_model.IMAGES_INPUT
    assert spec.dtype == tf.uint8 and spec.shape.as_list() == [None, None, None, 3]
    outputs = fn.structured_outputs
    assert outputs[LABELS].dtype == tf.uint8 and outputs[LABELS].shape.as_list() == [None] * 3
    assert outputs[PROBABILITIES].dtype == tf.float32


@pytest.mark.slow
@pytest.mark.parametrize("size", [(65, 97), (64, 128)])
def test_reloaded_model_equals_keras(model, loaded, size):
    frames = np.random.default_rng(1).integers(0, 256, (2, *size, 3)).astype(np.uint8)
    fn = loaded.signatures[saved_model.DEFAULT_SIGNATURE]
    got = fn(images=tf.constant(frames))
    want = build_head(model, "prob")(frames)
    np.testing.assert_array_equal(got[LABELS].numpy(), want[LABELS].numpy())
    np.testing.assert_allclose(got[PROBABILITIES].numpy(), want[PROBABILITIES].numpy(), atol=1e-6)


# Shapes a client may send by mistake, rank 3 last: it used to abort the whole process in oneDNN
# (so one bad request could take a TF Serving process down); rank 5 returned wrong shapes.
BAD_SHAPES = [
    (1, 1, 64, 64, 3),
    (1, 64, 64, 4),
    (64, 64),
    (0, 64, 64, 3),
    (1, 16, 64, 3),
    (64, 64, 3),
]
CALL_EACH_SHAPE = """
import sys
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
for shape in %r:
    try:
        out = serve(images=tf.zeros(shape, tf.uint8))
        print("no error", shape, out["labels"].shape, flush=True)
    except tf.errors.InvalidArgumentError as e:
        print("error", shape, e.message.split("assertion failed: ")[-1].splitlines()[0],
              flush=True)
"""


@pytest.mark.slow
def test_default_signature_refuses_bad_shapes_by_name(exported):
    """In a child process, since a failure here can be an abort rather than an exception."""
    out = subprocess.run(
        [sys.executable, "-c", CALL_EACH_SHAPE % (BAD_SHAPES,), exported],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert len(lines) == len(BAD_SHAPES), out.stdout
    for line in lines:
        assert line.startswith("error") and "input images" in line, line
        assert "[batch >= 1, height >= 32, width >= 32, 3]" in line, line


@pytest.mark.slow
def test_bytes_signature_round_trips_png_and_jpeg(model, loaded):
    image = np.random.default_rng(2).integers(0, 256, (65, 97, 3)).astype(np.uint8)
    png, jpeg = tf.io.encode_png(image), tf.io.encode_jpeg(image)
    fn = loaded.signatures[saved_model.BYTES_SIGNATURE]
    out = fn(**{saved_model.BYTES_INPUT: tf.stack([png, jpeg])})[saved_model.PNG_OUTPUT]
    assert saved_model.PNG_OUTPUT.endswith("_bytes")  # TF Serving REST returns it as base64
    decoded_png = tf.io.decode_png(out[0]).numpy()[..., 0]
    np.testing.assert_array_equal(decoded_png, build_head(model, "cls")(image[None]).numpy()[0])
    decoded_jpeg = tf.io.decode_jpeg(jpeg).numpy()
    np.testing.assert_array_equal(
        tf.io.decode_png(out[1]).numpy()[..., 0],
        build_head(model, "cls")(decoded_jpeg[None]).numpy()[0],
    )


@pytest.mark.slow
def test_saved_model_cli_lists_both_signatures(exported):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    text = subprocess.run(
        [cli, "show", "--dir", exported, "--all"], capture_output=True, text=True, check=True
    ).stdout
    for name in (
        "serving_default",
        "serving_bytes",
        "images",
        "image_bytes",
        "labels",
        "probabilities",
        "label_png_bytes",
        "DT_UINT8",
        "(-1, -1, -1, 3)",
    ):
        assert name in text


def _served(loaded, request):
    """What TF Serving does with a PredictRequest: the signature it names, called with its input
    tensors decoded by name (after a trip through the wire format)."""
    request = type(request).FromString(request.SerializeToString())
    inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
    return loaded.signatures[request.model_spec.signature_name](**inputs)


@pytest.mark.slow
def test_predict_requests_return_the_keras_labels(model, loaded, scene_frames):
    """Requests built as a client would, from a street-scene frame (not square, and with several
    classes in its labels, so a transposed or swapped image cannot give the same answer)."""
    from tensorflow_serving.apis import predict_pb2

    image = scene_frames[0][0]
    want = build_head(model, "cls")(image[np.newaxis]).numpy()
    assert len(np.unique(want)) >= 3

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "fast_scnn"
    request.model_spec.signature_name = saved_model.DEFAULT_SIGNATURE
    request.inputs[saved_model.IMAGES_INPUT].CopyFrom(tf.make_tensor_proto(image[np.newaxis]))
    assert request.inputs[saved_model.IMAGES_INPUT].dtype == tf.uint8.as_datatype_enum
    np.testing.assert_array_equal(_served(loaded, request)[LABELS].numpy(), want)

    png = tf.io.encode_png(image).numpy()
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "fast_scnn"
    request.model_spec.signature_name = saved_model.BYTES_SIGNATURE
    request.inputs[saved_model.BYTES_INPUT].CopyFrom(tf.make_tensor_proto([png]))
    assert request.inputs[saved_model.BYTES_INPUT].dtype == tf.string.as_datatype_enum
    label_png = _served(loaded, request)[saved_model.PNG_OUTPUT].numpy()[0]
    np.testing.assert_array_equal(tf.io.decode_png(label_png).numpy()[..., 0], want[0])


def test_next_version_and_refusing_to_overwrite(tmp_path):
    os.makedirs(tmp_path / "fast_scnn" / "3")
    assert saved_model.next_version(str(tmp_path / "fast_scnn")) == 4
    assert saved_model_dir(str(tmp_path), "fast_scnn", None, False).endswith("4")
    with pytest.raises(FileExistsError, match="overwrite"):
        saved_model_dir(str(tmp_path), "fast_scnn", 3, overwrite=False)
    assert saved_model_dir(str(tmp_path), "fast_scnn", 3, overwrite=True).endswith("3")


def _version_folder(path):
    """What export.py writes into a SavedModel version folder (contents fabricated)."""
    for name in (
        "saved_model.pb",
        "fingerprint.pb",
        "variables/variables.index",
        "variables/variables.data-00000-of-00001",
        "assets.extra/config.json",
        "assets.extra/metadata.json",
    ):
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text("x")
    (path / "assets").mkdir()
    return path


def test_overwrite_replaces_a_saved_model_version_but_not_a_users_folder(tmp_path):
    """--overwrite replaced any folder at <output>/<model_name>/<version>, a user's own too."""
    mine = tmp_path / "fast_scnn" / "2"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a SavedModel version export.py wrote"):
        saved_model_dir(str(tmp_path), "fast_scnn", 2, overwrite=True)
    _version_folder(tmp_path / "fast_scnn" / "3")
    assert saved_model_dir(str(tmp_path), "fast_scnn", 3, overwrite=True).endswith("3")


@pytest.mark.parametrize(
    "foreign",
    [
        "thesis.tex",
        "variables/notes.txt",
        "assets.extra/a.json",
        "assets/vocab.txt",
        "src/main.c",
        "link",
        "no metadata",
        "run folder",
    ],
)
def test_overwrite_refuses_a_version_folder_holding_anything_export_py_did_not_write(
    tmp_path, foreign
):
    """A version folder with saved_model.pb and assets.extra/config.json was replaced whatever
    else it held; now only what export.py writes may be there, and the first other file is
    named."""
    version = _version_folder(tmp_path / "fast_scnn" / "3")
    named = foreign
    if foreign == "link":
        os.symlink(tmp_path, version / "link")
    elif foreign == "no metadata":
        os.remove(version / "assets.extra" / "metadata.json")
        named = "assets.extra/metadata.json"
    elif foreign == "run folder":
        (version / "checkpoints").mkdir()
        named = "checkpoints"
    else:
        (version / foreign).parent.mkdir(exist_ok=True)
        (version / foreign).write_text("keep me")
        named = "src" if foreign == "src/main.c" else foreign  # a folder is named, not its files
    with pytest.raises(FileExistsError) as refused:
        saved_model_dir(str(tmp_path), "fast_scnn", 3, overwrite=True)
    message = str(refused.value)
    assert os.path.join(str(version), named) in message and "\n" not in message
    assert (version / "saved_model.pb").exists()


@pytest.mark.slow
def test_failed_validation_leaves_no_files(model, tmp_path):
    with pytest.raises(ValidationError):
        export_saved_model(
            model, CONFIG, str(tmp_path), "cls", synthetic_frames((64, 64), 1), min_agreement=1.01
        )  # unreachable threshold forces the failure
    assert os.listdir(tmp_path / "fast_scnn") == []


# --- size limits: a request may not take the server down ----------------------------------------

LIMIT = 48 * 48  # the pixel limit of the `limited` export


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """An untrained cls export whose signatures take at most LIMIT pixels (~15 s on 2 cores)."""
    directory = str(tmp_path_factory.mktemp("limited"))
    saved_model.write_saved_model(
        build_head(build_fast_scnn(num_classes=3), "cls"), directory, max_pixels=LIMIT
    )
    return tf.saved_model.load(directory).signatures


def _png(height, width):
    return tf.io.encode_png(tf.zeros([height, width, 3], tf.uint8)).numpy()


def jpeg_claiming(height, width):
    """A small JPEG whose frame header (SOF0) is changed to declare `height` x `width`."""
    data = bytearray(tf.io.encode_jpeg(tf.zeros([32, 32, 3], tf.uint8)).numpy())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def _serve_bytes(signatures, *encoded):
    return signatures[saved_model.BYTES_SIGNATURE](
        **{saved_model.BYTES_INPUT: tf.constant(list(encoded))}
    )[saved_model.PNG_OUTPUT]


@pytest.mark.slow
@pytest.mark.parametrize(
    "encoded", [png_claiming(20000, 20000), jpeg_claiming(20000, 20000)], ids=["png", "jpeg"]
)
def test_bytes_signature_refuses_a_declared_size_over_the_limit_before_decoding(limited, encoded):
    """A 1 kB PNG declaring 20000x20000 RGB was decoded (1.2 GB, then the model's activations):
    one request could take the serving process down. The header is read in the graph first."""
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=rf"height \* width <= {LIMIT}.*20000.*20000"
    ):
        _serve_bytes(limited, encoded)


@pytest.mark.slow
def test_bytes_signature_takes_up_to_the_limit(limited):
    assert _serve_bytes(limited, _png(48, 48), _png(32, 72)).shape == (2,)
    with pytest.raises(tf.errors.InvalidArgumentError, match=rf"height \* width <= {LIMIT}"):
        _serve_bytes(limited, _png(48, 49))


@pytest.mark.slow
@pytest.mark.parametrize("size", [(1, 1), (31, 64), (64, 31)])
def test_bytes_signature_refuses_what_the_default_signature_refuses(limited, size):
    """serving_bytes took a 1x1 PNG while serving_default refuses frames under 32x32."""
    with pytest.raises(tf.errors.InvalidArgumentError, match="height and width >= 32"):
        _serve_bytes(limited, _png(*size))


@pytest.mark.slow
@pytest.mark.parametrize(
    "encoded",
    [
        b"",
        b"GIF89a" + bytes(40),
        b"\x89PNG",
        # libpng skips an unknown chunk before the IHDR: its bytes are no size (they said 40x40 here
        # while the IHDR declares 20000x20000)
        png_claiming(20000, 20000, before_ihdr=png_chunk(b"prIv", (40).to_bytes(4, "big") * 2)),
    ],
    ids=["empty", "gif", "cut", "png-chunk-before-ihdr"],
)
def test_bytes_signature_takes_png_and_jpeg_only(limited, encoded):
    with pytest.raises(tf.errors.InvalidArgumentError, match="PNG or JPEG"):
        _serve_bytes(limited, encoded)


@pytest.mark.slow
def test_default_signature_refuses_more_pixels_than_the_limit(limited):
    serve = limited[saved_model.DEFAULT_SIGNATURE]
    assert serve(images=tf.zeros([1, 48, 48, 3], tf.uint8))[LABELS].shape == (1, 48, 48)
    with pytest.raises(tf.errors.InvalidArgumentError, match=rf"height \* width <= {LIMIT}"):
        serve(images=tf.zeros([1, 48, 49, 3], tf.uint8))


@pytest.mark.slow
def test_default_signature_counts_the_pixels_of_every_frame_in_a_batch(limited):
    """The limit held per frame, so a batch of frames each at the limit needed the memory of all
    of them: the pixels of the whole request are counted."""
    serve = limited[saved_model.DEFAULT_SIGNATURE]
    assert serve(images=tf.zeros([2, 32, 36, 3], tf.uint8))[LABELS].shape == (2, 32, 36)
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=rf"batch \* height \* width <= {LIMIT}"
    ):
        serve(images=tf.zeros([2, 48, 48, 3], tf.uint8))


# Peak RSS of a process that loaded an export.py SavedModel (untrained Fast-SCNN) and served one
# frame through serving_default on 2 CPU cores: (mode, classes, pixels, bytes).
MEASURED_PEAKS = [
    ("cls", 19, 1024 * 1024, 879_714_304),
    ("cls", 19, 1024 * 2048, 1_025_658_880),
    ("cls", 19, 2048 * 2048, 1_309_831_168),
    ("prob", 19, 1024 * 1024, 982_196_224),
    ("prob", 19, 1024 * 2048, 1_194_106_880),
    ("prob", 19, 2048 * 2048, 1_646_460_928),
    ("cls", 59, 1024 * 2048, 1_368_649_728),
    ("cls", 59, 2048 * 2048, 1_998_168_064),
    ("prob", 59, 1024 * 2048, 1_882_148_864),
    ("prob", 59, 2048 * 2048, 3_022_049_280),
]


@pytest.mark.parametrize("mode,classes,pixels,measured", MEASURED_PEAKS)
def test_the_serving_memory_model_covers_the_measured_peaks(mode, classes, pixels, measured):
    assert measured <= memory.serving_peak(mode, classes, pixels) <= measured * 1.1


@pytest.mark.parametrize("mode", ["cls", "prob"])
@pytest.mark.parametrize("classes", [11, 19, 59])
def test_the_default_pixel_limit_is_what_the_memory_budget_affords(mode, classes):
    """The default --max-pixels (64 MP) admitted an 8000x8000 frame to serving_default, which
    needs more than 6 GB: the default is now the largest frame whose predicted peak fits the
    budget."""
    limit = memory.serving_max_pixels(mode, classes)
    assert memory.serving_peak(mode, classes, limit) <= memory.MEMORY_BUDGET
    assert memory.serving_peak(mode, classes, limit + 1) > memory.MEMORY_BUDGET
    assert 1024 * 2048 < limit < 8000 * 8000
    assert memory.serving_max_pixels("cls", 2) == MAX_PIXELS  # never more than is decoded


def test_an_explicit_limit_over_the_budget_is_stated():
    assert memory.over_budget("cls", 19, memory.serving_max_pixels("cls", 19)) == ""
    note = memory.over_budget("cls", 19, 8000 * 8000)
    assert "64000000" in note and "GB" in note and "6 GB" in note
