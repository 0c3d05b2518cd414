"""predict.py on user files: any size and pixel format, folders, videos, unreadable files.
Predictors of exported models are tested too; each export takes ~10 s on 2 cores, so those tests
are marked slow."""

import os

import cv2
import numpy as np
import pytest

import fabricate
import predict
from fast_scnn_tf import build_fast_scnn
from fast_scnn_tf.data import images
from fast_scnn_tf.data.images import read_image
from fast_scnn_tf.predict import annotate
from fast_scnn_tf.training.checkpoint import LATEST_DIR
from image_headers import gif, png_claiming, tiff_claiming, tiff_size_entries

NUM_CLASSES = 4


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return fabricate.run_folder(tmp_path_factory.mktemp("run"), num_classes=NUM_CLASSES)


def _rng_image(shape, dtype=np.uint8, seed=0):
    high = 65536 if dtype == np.uint16 else 256
    return np.random.default_rng(seed).integers(0, high, shape).astype(dtype)


@pytest.mark.parametrize(
    "shape,dtype",
    [
        ((37, 53), np.uint8),
        ((37, 53, 4), np.uint8),
        ((37, 53, 3), np.uint16),
        ((37, 53), np.uint16),
    ],
)
def test_read_image_gives_rgb_uint8(tmp_path, shape, dtype):
    path = str(tmp_path / "x.png")
    cv2.imwrite(path, _rng_image(shape, dtype))
    image = read_image(path)
    assert image.shape == (37, 53, 3) and image.dtype == np.uint8


def test_read_image_converts_bgr_to_rgb(tmp_path):
    path = str(tmp_path / "x.png")
    bgr = np.zeros((4, 4, 3), np.uint8)
    bgr[..., 0] = 200  # blue in OpenCV's order
    cv2.imwrite(path, bgr)
    assert tuple(read_image(path)[0, 0]) == (0, 0, 200)


def test_read_image_names_an_unreadable_file(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ValueError, match="broken.png"):
        read_image(str(path))


@pytest.mark.parametrize(
    "ext,params",
    [
        (".png", []),
        (".jpg", []),
        (".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
        (".bmp", []),
        (".tif", []),
        (".webp", []),
        (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]),
        (".ppm", []),
        (".pgm", []),
        (".gif", []),
    ],
)
def test_declared_size_is_read_from_the_header(tmp_path, ext, params):
    path = str(tmp_path / ("x" + ext))
    shape = (37, 53) if ext == ".pgm" else (37, 53, 3)
    assert cv2.imwrite(path, _rng_image(shape), params)
    assert images.declared_size(path) == (37, 53)


def test_a_size_over_the_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    path = str(tmp_path / "x.png")
    cv2.imwrite(path, _rng_image((40, 50, 3)))
    monkeypatch.setattr(cv2, "imread", lambda *args: pytest.fail("the image was decoded"))
    with pytest.raises(ValueError, match=r"x.png' is 50x40 pixels.*limit of 1999"):
        read_image(path, max_pixels=1999)


def _decodes_no_bomb(monkeypatch):
    """cv2.imread, except that decoding a file named bomb* fails the test (without allocating)."""
    real_imread = cv2.imread

    def imread(path, *args):
        assert "bomb" not in os.path.basename(path), f"'{path}' was decoded"
        return real_imread(path, *args)

    monkeypatch.setattr(cv2, "imread", imread)


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
@pytest.mark.parametrize(
    "name,data,size",
    [
        ("bomb.png", png_claiming(20000, 20000), "20000x20000"),
        ("bomb.jpg", gif(46000, 46000, pixels=False), "46000x46000"),
    ],
    ids=["png", "gif-named-jpg"],
)
def test_decompression_bomb_is_refused_and_the_other_inputs_are_predicted(
    tmp_path, model_dir, capsys, monkeypatch, name, data, size
):
    """A 1 kB PNG whose header says 20000x20000 RGB (1.2 GB decoded, more as floats in the
    model) used to be decoded and the process killed for memory; a GIF, whatever its name, is
    sized from its screen and every frame like the other formats."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / name).write_bytes(data)
    cv2.imwrite(str(inputs / "ok.png"), _rng_image((40, 40, 3)))
    _decodes_no_bomb(monkeypatch)
    out = tmp_path / "out"
    assert predict.main([str(inputs), "--model", model_dir, "--output", str(out)]) == 1
    captured = capsys.readouterr()
    refusal = [line for line in captured.err.splitlines() if name in line]
    assert len(refusal) == 1 and size in refusal[0] and "--max-pixels" in refusal[0]
    assert "1 written" in captured.out and "1 failed" in captured.out
    assert sorted(os.listdir(out)) == ["ok_labels.png", "ok_overlay.png"]


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_a_tiff_repeating_its_size_tags_is_refused_and_the_other_inputs_are_predicted(
    tmp_path, model_dir, capsys, monkeypatch
):
    """A TIFF declaring 20000x20000 and then 10x10 passed the check, which kept the last tags,
    while libtiff decodes with the first: predict.py ended in a ResourceExhaustedError."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "bomb.tif").write_bytes(
        tiff_claiming(tiff_size_entries(20000, 20000) + tiff_size_entries(10, 10))
    )
    cv2.imwrite(str(inputs / "ok.png"), _rng_image((40, 40, 3)))
    _decodes_no_bomb(monkeypatch)
    out = tmp_path / "out"
    assert predict.main([str(inputs), "--model", model_dir, "--output", str(out)]) == 1
    captured = capsys.readouterr()
    refusal = [line for line in captured.err.splitlines() if "bomb.tif" in line]
    assert len(refusal) == 1 and "gives ImageWidth more than once" in refusal[0]
    assert "1 written" in captured.out and "1 failed" in captured.out


@pytest.mark.slow  # a few seconds: make test runs it, test-fast stays under 2 min
def test_max_pixels_flag_sets_the_limit_for_images_and_videos(tmp_path, model_dir, capsys):
    cv2.imwrite(str(tmp_path / "a.png"), _rng_image((40, 40, 3)))  # 1600 pixels
    _write_video(tmp_path / "clip.mp4", 2)  # 48x32: 1536 pixels
    args = [
        str(tmp_path / "a.png"),
        str(tmp_path / "clip.mp4"),
        "--model",
        model_dir,
        "--output",
        str(tmp_path / "out"),
    ]
    assert predict.main(args + ["--max-pixels", "1000"]) == 1
    err = capsys.readouterr().err
    assert "a.png' is 40x40" in err and "clip.mp4' is 48x32" in err
    assert not os.path.exists(tmp_path / "out" / "clip_overlay.mp4")
    assert predict.main(args + ["--max-pixels", "1600"]) == 0
    with pytest.raises(SystemExit):
        predict.parse_args(["a.png", "--output", "o", "--max-pixels", "0"])


@pytest.mark.slow  # a few seconds: make test runs it, test-fast stays under 2 min
def test_predicts_a_folder_and_reports_failures(tmp_path, model_dir, capsys):
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    cv2.imwrite(str(inputs / "a.png"), _rng_image((45, 67, 3)))
    cv2.imwrite(str(inputs / "sub" / "b.jpg"), _rng_image((64, 33, 3)))
    cv2.imwrite(str(inputs / "gray16.png"), _rng_image((40, 40), np.uint16))
    (inputs / "corrupt.png").write_bytes(b"garbage")
    out = tmp_path / "out"
    code = predict.main([str(inputs), "--model", model_dir, "--output", str(out)])
    assert code == 1  # one file failed
    captured = capsys.readouterr()
    assert "corrupt.png" in captured.err + captured.out
    assert "3 written" in captured.out and "1 failed" in captured.out
    labels = cv2.imread(str(out / "b_labels.png"), cv2.IMREAD_UNCHANGED)
    assert labels.shape == (64, 33) and labels.max() < NUM_CLASSES
    assert cv2.imread(str(out / "a_overlay.png")).shape == (45, 67, 3)
    assert (out / "gray16_labels.png").exists()


@pytest.mark.slow  # 2-4 s on 2 cores: make test runs it, make test-fast does not
def test_refuses_to_overwrite_without_flag(tmp_path, model_dir):
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), _rng_image((40, 40, 3)))
    args = [str(image), "--model", model_dir, "--output", str(tmp_path / "out")]
    assert predict.main(args) == 0
    with pytest.raises(SystemExit, match="--overwrite"):
        predict.main(args)
    assert predict.main(args + ["--overwrite"]) == 0


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_annotates_a_video(tmp_path, model_dir):
    video = str(tmp_path / "clip.mp4")
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*"mp4v"), 5, (48, 32))
    for i in range(3):
        writer.write(_rng_image((32, 48, 3), seed=i))
    writer.release()
    out = tmp_path / "out"
    assert predict.main([video, "--model", model_dir, "--output", str(out)]) == 0
    capture = cv2.VideoCapture(str(out / "clip_overlay.mp4"))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, frame = capture.read()
    assert ok and frame.shape == (32, 48, 3) and frames == 3


def test_missing_model_is_a_clear_error(tmp_path):
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), _rng_image((40, 40, 3)))
    with pytest.raises(SystemExit, match="does not exist"):
        predict.main([str(image), "--model", str(tmp_path / "nope"), "--output", str(tmp_path)])


def test_clashing_names_get_their_folder_prefix():
    assert annotate.output_names(["x/a.png", "y/a.png", "y/b.png"]) == ["x_a", "y_a", "b"]


def test_clashing_names_in_one_folder_keep_their_extension():
    assert annotate.output_names(["d/a.png", "d/a.jpg", "d/ok.avi", "d/ok.mp4", "d/b.png"]) == [
        "a_png",
        "a_jpg",
        "ok_avi",
        "ok_mp4",
        "b",
    ]
    names = annotate.output_names(["d/a.png", "d/a.jpg", "d/a_png.bmp", "e/A.PNG", "d/A.png"])
    assert len({n.lower() for n in names}) == 5  # unique, also on case-insensitive disks


@pytest.mark.slow  # a few seconds: make test runs it, test-fast stays under 2 min
def test_same_name_different_extension_writes_both(tmp_path, model_dir, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    cv2.imwrite(str(inputs / "a.png"), _rng_image((40, 40, 3), seed=1))
    cv2.imwrite(str(inputs / "a.jpg"), _rng_image((48, 32, 3), seed=2))
    out = tmp_path / "out"
    assert predict.main([str(inputs), "--model", model_dir, "--output", str(out)]) == 0
    assert "2 written" in capsys.readouterr().out
    assert cv2.imread(str(out / "a_png_labels.png"), cv2.IMREAD_UNCHANGED).shape == (40, 40)
    assert cv2.imread(str(out / "a_jpg_labels.png"), cv2.IMREAD_UNCHANGED).shape == (48, 32)
    assert len(os.listdir(out)) == 4  # two label maps, two overlays


def _write_video(path, frames, fourcc="mp4v", size=(48, 32)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 5, size)
    for i in range(frames):
        writer.write(_rng_image((size[1], size[0], 3), seed=i))
    writer.release()


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_videos_with_the_same_name_write_both(tmp_path, model_dir, capsys):
    _write_video(tmp_path / "ok.mp4", 2)
    _write_video(tmp_path / "ok.avi", 3, fourcc="MJPG")
    out = tmp_path / "out"
    assert (
        predict.main(
            [
                str(tmp_path / "ok.mp4"),
                str(tmp_path / "ok.avi"),
                "--model",
                model_dir,
                "--output",
                str(out),
            ]
        )
        == 0
    )
    assert "2 written" in capsys.readouterr().out
    counts = {
        name: int(cv2.VideoCapture(str(out / name)).get(cv2.CAP_PROP_FRAME_COUNT))
        for name in os.listdir(out)
    }
    assert counts == {"ok_mp4_overlay.mp4": 2, "ok_avi_overlay.mp4": 3}


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_truncated_video_is_reported_as_partial(tmp_path, model_dir, capsys):
    video = tmp_path / "cut.avi"
    _write_video(video, 10, fourcc="MJPG")  # AVI: the frame count sits in the header
    data = video.read_bytes()
    video.write_bytes(data[: len(data) * 7 // 10])
    code = predict.main([str(video), "--model", model_dir, "--output", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 1
    assert "0 written" in out and "1 partial" in out and "cut.avi" in out and "of 10 frames" in out


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_checkpoint_prefix_is_accepted(tmp_path, model_dir, capsys):
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), _rng_image((40, 40, 3)))
    prefix = os.path.join(model_dir, LATEST_DIR, "ckpt-1")
    assert predict.main([str(image), "--model", prefix, "--output", str(tmp_path / "out")]) == 0
    assert "ckpt-1" in capsys.readouterr().out


@pytest.mark.parametrize("what", ["empty folder", "text file"])
def test_a_model_path_that_is_no_model_says_what_was_expected(tmp_path, what, capsys):
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), _rng_image((40, 40, 3)))
    model = tmp_path / "model"
    if what == "empty folder":
        model.mkdir()
    else:
        model.write_text("not a model")
    with pytest.raises(SystemExit) as exit_info:
        predict.main([str(image), "--model", str(model), "--output", str(tmp_path / "out")])
    message = str(exit_info.value.code)
    assert "model" in message and "expected" in message and "ckpt-" in message
    assert "\n" not in message


def test_output_that_is_a_file_is_one_line(tmp_path, model_dir):
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), _rng_image((40, 40, 3)))
    (tmp_path / "out").write_text("a file")
    with pytest.raises(SystemExit) as exit_info:
        predict.main([str(image), "--model", model_dir, "--output", str(tmp_path / "out")])
    message = str(exit_info.value.code)
    assert "--output" in message and "is a file" in message and "\n" not in message


def test_read_only_output_is_one_line(tmp_path, model_dir, monkeypatch):
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), _rng_image((40, 40, 3)))
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: let the permission check see what a user would
        real_access, blocked = os.access, os.path.realpath(out)
        monkeypatch.setattr(
            os, "access", lambda p, mode: os.path.realpath(p) != blocked and real_access(p, mode)
        )
    try:
        with pytest.raises(SystemExit) as exit_info:
            predict.main([str(image), "--model", model_dir, "--output", str(out)])
    finally:
        out.chmod(0o755)
    message = str(exit_info.value.code)
    assert "--output" in message and "read-only" in message and os.listdir(out) == []


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_runs_without_tqdm(tmp_path, model_dir, monkeypatch):
    """requirements.txt does not name tqdm: the progress bar is Keras'."""
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)  # `import tqdm` now fails
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), _rng_image((40, 40, 3)))
    assert predict.main([str(image), "--model", model_dir, "--output", str(tmp_path / "o")]) == 0


def test_model_defaults_to_the_default_run_folder():
    assert predict.parse_args(["x.png", "--output", "o"]).model == os.path.join("runs", "fast_scnn")


@pytest.fixture(scope="module")
def trained_like_model():
    model = build_fast_scnn(num_classes=NUM_CLASSES)
    # random weights give near-tied logits; a sharper classifier makes labels stable to compare
    kernel = model.get_layer("cls_logits").kernel
    kernel.assign(kernel * 50.0)
    return model


def _keras_labels(model, image):
    return np.argmax(model(image[None], training=False)[0].numpy(), axis=-1)


@pytest.fixture(scope="module")
def export_root(tmp_path_factory, trained_like_model):
    """An export.py output folder: <root>/fast_scnn/3/saved_model.pb."""
    from fast_scnn_tf.export.saved_model import write_saved_model
    from fast_scnn_tf.model.head import build_head

    root = tmp_path_factory.mktemp("exports")
    write_saved_model(build_head(trained_like_model, "cls"), str(root / "fast_scnn" / "3"))
    return root


@pytest.fixture(scope="module")
def limited_export(tmp_path_factory, trained_like_model):
    """A SavedModel (cls) whose signatures refuse frames over 2000 pixels."""
    from fast_scnn_tf.export.saved_model import write_saved_model
    from fast_scnn_tf.model.head import build_head

    export = tmp_path_factory.mktemp("limited") / "1"
    write_saved_model(build_head(trained_like_model, "cls"), str(export), max_pixels=2000)
    return export


@pytest.mark.slow
def test_saved_model_predictor_matches_keras(export_root, trained_like_model):
    from fast_scnn_tf.predict.predictor import load_predictor

    predict, description, _ = load_predictor(str(export_root / "fast_scnn"))  # highest version
    assert description.endswith(os.path.join("fast_scnn", "3"))
    image = _rng_image((45, 67, 3))
    labels = predict(image)
    assert labels.shape == (45, 67)
    assert (labels == _keras_labels(trained_like_model, image)).mean() > 0.999


@pytest.mark.slow
def test_export_root_is_accepted(export_root):
    """The --output folder of export.py, as evaluate.py's and export.py's defaults name it."""
    from fast_scnn_tf.predict.predictor import load_predictor

    _, description, _ = load_predictor(str(export_root))
    assert description.endswith(os.path.join("fast_scnn", "3"))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["cls", "prob"])
def test_tflite_predictor_resizes_to_model_and_back(tmp_path, trained_like_model, mode):
    from fast_scnn_tf.export import tflite
    from fast_scnn_tf.model.head import build_head
    from fast_scnn_tf.predict.predictor import load_predictor

    path = tmp_path / f"{mode}.tflite"
    path.write_bytes(tflite.convert(build_head(trained_like_model, mode, input_size=(64, 96))))
    predict, _, _ = load_predictor(str(path))
    image = _rng_image((64, 96, 3))
    assert (predict(image) == _keras_labels(trained_like_model, image)).mean() > 0.999
    assert predict(_rng_image((37, 53, 3))).shape == (37, 53)


@pytest.mark.slow
def test_checkpoint_predictor_is_the_exported_head(model_dir, tmp_path):
    """A run folder predicts exactly what its exported SavedModel serves."""
    from fast_scnn_tf.export.saved_model import write_saved_model
    from fast_scnn_tf.model.head import build_head
    from fast_scnn_tf.predict.predictor import load_predictor
    from fast_scnn_tf.training.checkpoint import load_run

    write_saved_model(build_head(load_run(model_dir).model, "cls"), str(tmp_path / "1"))
    image = _rng_image((45, 67, 3))
    from_checkpoint = load_predictor(model_dir)[0](image)
    from_export = load_predictor(str(tmp_path / "1"))[0](image)
    assert from_checkpoint.dtype == np.uint8
    np.testing.assert_array_equal(from_checkpoint, from_export)


@pytest.mark.parametrize("output", ["in", os.path.join("in", "predictions")])
def test_output_in_an_input_folder_is_refused(tmp_path, model_dir, output):
    """Predictions written among the inputs would be predicted on in the next run, and with
    --overwrite could replace a user's own files."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    cv2.imwrite(str(inputs / "a.png"), _rng_image((40, 40, 3)))
    with pytest.raises(SystemExit) as exit_info:
        predict.main(
            [str(inputs), "--model", model_dir, "--output", str(tmp_path / output), "--overwrite"]
        )
    message = str(exit_info.value.code)
    assert "--output" in message and "inside the input folder" in message
    assert "\n" not in message and os.listdir(inputs) == ["a.png"]


def test_an_input_that_would_be_replaced_by_an_output_is_refused(tmp_path, model_dir):
    """q/a.png's label map is <output>/a_labels.png: with --output p, the input p/a_labels.png."""
    (tmp_path / "p").mkdir()
    (tmp_path / "q").mkdir()
    mine = tmp_path / "p" / "a_labels.png"
    cv2.imwrite(str(mine), _rng_image((40, 40, 3), seed=3))
    before = mine.read_bytes()
    cv2.imwrite(str(tmp_path / "q" / "a.png"), _rng_image((40, 40, 3)))
    with pytest.raises(SystemExit) as exit_info:
        predict.main(
            [
                str(mine),
                str(tmp_path / "q" / "a.png"),
                "--model",
                model_dir,
                "--output",
                str(tmp_path / "p"),
                "--overwrite",
            ]
        )
    message = str(exit_info.value.code)
    assert "a_labels.png" in message and "input" in message and "\n" not in message
    assert mine.read_bytes() == before


@pytest.mark.parametrize("content", [b"", b"not a flatbuffer at all" * 4], ids=["empty", "garbage"])
def test_a_damaged_tflite_file_is_named_in_one_line(tmp_path, content, capsys):
    import predict

    bad = tmp_path / "model.tflite"
    bad.write_bytes(content)
    image = tmp_path / "in" / "a.png"
    image.parent.mkdir()
    cv2.imwrite(str(image), _rng_image((40, 60, 3)))
    with pytest.raises(SystemExit) as stop:
        predict.main(["--model", str(bad), str(image), "--output", str(tmp_path / "out")])
    message = str(stop.value.code)
    assert str(bad) in message and "TFLite" in message and len(message.splitlines()) == 1


@pytest.mark.slow
def test_an_image_under_the_models_minimum_is_enlarged_and_the_rest_goes_on(
    tmp_path, export_root, capsys
):
    # A 20x20 image through a SavedModel (which refuses sides under 32) ended in a traceback and
    # the folder was never finished; it is now predicted at 32x32 and its labels brought back.
    inputs = tmp_path / "in"
    inputs.mkdir()
    cv2.imwrite(str(inputs / "tiny.png"), _rng_image((20, 20, 3)))
    cv2.imwrite(str(inputs / "street.png"), _rng_image((45, 67, 3)))
    out = tmp_path / "out"
    code = predict.main(
        [
            str(inputs),
            "--model",
            str(export_root / "fast_scnn"),
            "--output",
            str(out),
            "--native-size",
        ]
    )
    assert code == 0, capsys.readouterr()
    assert cv2.imread(str(out / "tiny_labels.png"), cv2.IMREAD_UNCHANGED).shape == (20, 20)
    assert (out / "street_labels.png").exists()


@pytest.mark.slow
def test_a_frame_the_saved_model_refuses_is_one_line_naming_the_file(
    tmp_path, limited_export, capsys
):
    # --native-size (or a raised --max-pixels) can hand an export a frame over its own limit:
    # that was a graph-execution traceback that ended the run.
    inputs = tmp_path / "in"
    inputs.mkdir()
    cv2.imwrite(str(inputs / "big.png"), _rng_image((45, 67, 3)))  # 3015 pixels
    cv2.imwrite(str(inputs / "small.png"), _rng_image((40, 40, 3)))  # 1600
    args = [str(inputs), "--model", str(limited_export), "--output", str(tmp_path / "out")]
    code = predict.main([*args, "--native-size"])
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.err
    line = [x for x in captured.err.splitlines() if "big.png" in x]
    assert line and "45x67" in line[0] and "2000" in line[0]
    assert (tmp_path / "out" / "small_labels.png").exists()


def test_overwrite_never_replaces_a_file_predict_did_not_write(tmp_path, model_dir):
    """gt/street.png predicted into gt/: gt/street_labels.png is the user's own ground truth, not
    an output of predict.py, and --overwrite must leave it alone."""
    gt = tmp_path / "gt"
    gt.mkdir()
    cv2.imwrite(str(gt / "street.png"), _rng_image((40, 40, 3)))
    mine = gt / "street_labels.png"
    cv2.imwrite(str(mine), _rng_image((40, 40), seed=5))
    before = mine.read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        predict.main(
            [
                str(gt / "street.png"),
                "--model",
                model_dir,
                "--output",
                str(gt),
                "--overwrite",
                "--no-overlay",
            ]
        )
    message = str(exit_info.value.code)
    assert "street_labels.png" in message and "predict.py" in message and "\n" not in message
    assert mine.read_bytes() == before and sorted(os.listdir(gt)) == [
        "street.png",
        "street_labels.png",
    ]


def test_outputs_carry_a_marker_that_decoders_ignore(tmp_path):
    """What --overwrite recognises as predict.py's own: a PNG text chunk, an MP4 'free' box at
    the end; neither changes what the file decodes to."""
    labels = _rng_image((30, 20), seed=1) % NUM_CLASSES
    path = str(tmp_path / "a_labels.png")
    annotate.write_png(path, labels)
    assert annotate.written_by_predict(path)
    np.testing.assert_array_equal(cv2.imread(path, cv2.IMREAD_UNCHANGED), labels)
    plain = str(tmp_path / "plain.png")
    cv2.imwrite(plain, labels)
    assert not annotate.written_by_predict(plain)
    video = tmp_path / "clip.mp4"
    _write_video(video, 2)
    assert not annotate.written_by_predict(str(video))
    annotate.mark_video(str(video))
    assert annotate.written_by_predict(str(video))
    capture = cv2.VideoCapture(str(video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 2 and capture.read()[0]
    assert not annotate.written_by_predict(str(tmp_path / "absent.png"))


@pytest.fixture
def no_hang():
    """Fail (instead of hanging the suite) if the test is still running after 20 s: opening a
    FIFO for reading blocks until someone writes to it."""
    import signal

    def timeout(*_):
        raise TimeoutError("hung for 20 s (a FIFO opened for reading?)")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_a_fifo_in_an_input_folder_is_skipped_and_named(tmp_path, model_dir, capsys, no_hang):
    """A FIFO named x.png in a folder hung predict.py forever: it is never opened, but named."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    cv2.imwrite(str(inputs / "a.png"), _rng_image((40, 40, 3)))
    os.mkfifo(inputs / "x.png")
    code = predict.main(
        [str(inputs), "--model", model_dir, "--output", str(tmp_path / "out"), "--no-overlay"]
    )
    captured = capsys.readouterr()
    line = [x for x in captured.err.splitlines() if "x.png" in x]
    assert code == 1 and len(line) == 1 and "not a regular file" in line[0] and "FIFO" in line[0]
    assert (tmp_path / "out" / "a_labels.png").exists() and "1 failed" in captured.out


def test_a_fifo_given_as_input_is_not_a_regular_file(tmp_path, model_dir, capsys, no_hang):
    os.mkfifo(tmp_path / "pipe.png")
    with pytest.raises(SystemExit):
        predict.main(
            [str(tmp_path / "pipe.png"), "--model", model_dir, "--output", str(tmp_path / "out")]
        )
    err = capsys.readouterr().err
    assert "pipe.png' is not a regular file (a FIFO)" in err and "does not exist" not in err


def test_the_image_gate_never_opens_a_fifo(tmp_path, no_hang):
    os.mkfifo(tmp_path / "pipe.png")
    with pytest.raises(ValueError, match=r"pipe.png' is not a regular file \(a FIFO\)"):
        read_image(str(tmp_path / "pipe.png"))


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_a_link_planted_beside_a_video_output_is_not_written_through(tmp_path, model_dir):
    """The overlay video was written to `<output>.tmp.mp4` and renamed: a link planted at that
    name had the video written into its target. It is now written in a private folder."""
    _write_video(tmp_path / "clip.mp4", 2)
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    os.symlink(victim, out / "clip_overlay.mp4.tmp.mp4")
    assert (
        predict.main([str(tmp_path / "clip.mp4"), "--model", model_dir, "--output", str(out)]) == 0
    )
    assert victim.read_text() == "mine"
    assert sorted(os.listdir(out)) == ["clip_overlay.mp4", "clip_overlay.mp4.tmp.mp4"]


@pytest.mark.slow
def test_a_video_the_saved_model_refuses_is_one_line_and_leaves_nothing_behind(
    tmp_path, limited_export, capsys
):
    """A video over the SavedModel's --max-pixels ended predict.py and left `*.tmp.mp4` in the
    output folder; it is skipped in one line and the next video is still written."""
    _write_video(tmp_path / "big.mp4", 2, size=(64, 48))  # 3072 pixels
    _write_video(tmp_path / "small.mp4", 2, size=(32, 32))  # 1024
    out = tmp_path / "out"
    code = predict.main(
        [
            str(tmp_path / "big.mp4"),
            str(tmp_path / "small.mp4"),
            "--model",
            str(limited_export),
            "--output",
            str(out),
            "--native-size",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.err
    line = [x for x in captured.err.splitlines() if "big.mp4" in x]
    assert len(line) == 1 and "2000" in line[0]
    assert os.listdir(out) == ["small_overlay.mp4"]


@pytest.mark.slow  # two predict.py runs of a checkpoint, ~4 s on 2 cores
def test_a_frame_the_model_would_run_at_over_the_memory_budget_is_skipped(
    tmp_path, model_dir, monkeypatch, capsys
):
    """A checkpoint at --native-size ran the model on the whole frame, up to the 64 MP decode
    limit (about 10 GB): the size the model runs at is held to what fits the memory budget
    (the limit here stands in for the budget's), and an explicit --max-pixels raises it."""
    from fast_scnn_tf.export import memory

    monkeypatch.setattr(memory, "serving_max_pixels", lambda mode, classes: 1500)
    inputs = tmp_path / "in"
    inputs.mkdir()
    cv2.imwrite(str(inputs / "big.png"), _rng_image((40, 40, 3)))  # 1600 pixels
    cv2.imwrite(str(inputs / "small.png"), _rng_image((30, 40, 3)))  # 1200
    args = [str(inputs), "--model", model_dir, "--native-size", "--no-overlay"]
    assert predict.main(args + ["--output", str(tmp_path / "a")]) == 1
    line = [x for x in capsys.readouterr().err.splitlines() if "big.png" in x]
    assert len(line) == 1 and "1600" in line[0] and "1500" in line[0] and "memory" in line[0]
    assert os.listdir(tmp_path / "a") == ["small_labels.png"]
    assert predict.main(args + ["--output", str(tmp_path / "b"), "--max-pixels", "1600"]) == 0


@pytest.mark.slow  # builds the TTA head of a run, ~5 s on 2 cores
def test_tta_predictor_gives_the_tta_labels_at_the_models_scale(tmp_path):
    from fast_scnn_tf.config import Config, ModelConfig
    from fast_scnn_tf.evaluation.tta import tta_at_size
    from fast_scnn_tf.predict.predictor import load_predictor, resize_image
    from fast_scnn_tf.training.checkpoint import load_run

    config = Config(model=ModelConfig(num_classes=NUM_CLASSES, input_size=(48, 72)))
    run = fabricate.run_folder(tmp_path / "run", config=config)
    model = load_run(run).model
    image = _rng_image((96, 144, 3))
    predict = load_predictor(run, tta_scales=(0.75, 1.0), tta_flip=True)[0]
    scaled = resize_image(image, (48, 72))[None]
    want = tta_at_size(model, (0.75, 1.0), True)(scaled, (96, 144))[0].numpy()
    plain = load_predictor(run)[0](image)
    np.testing.assert_array_equal(predict(image), want)
    assert (want != plain).any()  # the views changed something: the option is not ignored


@pytest.mark.slow  # a SavedModel export (shared with the other export tests)
def test_tta_of_an_export_is_one_line_naming_the_flags(export_root):
    from fast_scnn_tf.predict.predictor import load_predictor

    with pytest.raises(ValueError, match="--tta-scales and --tta-flip need a checkpoint"):
        load_predictor(str(export_root), tta_flip=True)


@pytest.mark.parametrize("scales", [["0"], ["1", "1"], ["9"]])
def test_bad_tta_scales_are_refused_naming_the_flag(tmp_path, model_dir, scales, capsys):
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), _rng_image((40, 60, 3)))
    argv = ["--model", model_dir, str(image), "--output", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as stop:
        predict.parse_args([*argv, "--tta-scales", *scales])
    assert stop.value.code == 2 and "--tta-scales" in capsys.readouterr().err


def test_tta_flags_parse(tmp_path, model_dir):
    argv = ["--model", model_dir, "a.png", "--output", str(tmp_path / "out")]
    args = predict.parse_args([*argv, "--tta-scales", "0.75", "1", "--tta-flip"])
    assert args.tta_scales == (0.75, 1.0) and args.tta_flip
    args = predict.parse_args(argv)
    assert args.tta_scales == (1.0,) and not args.tta_flip


@pytest.mark.slow  # builds a TTA head, ~2.5 s on 2 cores
def test_tta_refuses_a_frame_whose_probabilities_exceed_the_budget(tmp_path):
    from fast_scnn_tf.config import Config, ModelConfig
    from fast_scnn_tf.predict.predictor import load_predictor

    config = Config(model=ModelConfig(num_classes=NUM_CLASSES, input_size=(48, 72)))
    run = fabricate.run_folder(tmp_path / "run", config=config)
    # the network runs at 48x72 (3456 pixels, under 5000), but the probabilities of the
    # views are held at the image's own 96x144
    predict = load_predictor(run, max_pixels=5000, tta_flip=True)[0]
    with pytest.raises(ValueError, match="test-time augmentation at 144x96"):
        predict(_rng_image((96, 144, 3)))
    assert predict(_rng_image((40, 60, 3))).shape == (40, 60)
