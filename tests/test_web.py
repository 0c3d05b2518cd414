"""The page in web/, in a real browser (headless Chromium driven by Playwright), and its server.

A photo given to the page's file picker comes back as the label map predict.py writes for the
same .tflite and image, float32 and int8; the page's two resizes are OpenCV's to the bit; a dropped
photo and a (stand-in) webcam are segmented; a broken or missing model, a file that is no image,
a photo over 64 megapixels (refused from its header, never decoded) and missing npm packages are
each a message on the page; the model menu offers only files that exist and shows the model in
use. The models are small exports (64x96) of `trained_model`, made here: the shipped CamVid model
is for `make web` and benchmarks/browser.py. The browser tests are marked slow; web/serve.py's
own tests (its arguments, the paths it answers) need no browser and are not.
"""

from __future__ import annotations

import base64
import http.client
import importlib.util
import os
import socket
import sys

import cv2
import numpy as np
import pytest

import image_headers as ih  # tests/ is on sys.path under pytest
from fast_scnn_tf.synthetic import render_scene
from paths import ROOT

WEB = os.path.join(ROOT, "web")
MODEL_SIZE = (64, 96)
# Which page files a served test folder links to (its models/ folder holds the test's exports).
PAGE_FILES = ("index.html", "style.css", "js", "node_modules")


def _load_headless():
    sys.path.insert(0, WEB)  # headless.py imports serve.py beside it
    try:
        spec = importlib.util.spec_from_file_location(
            "web_headless", os.path.join(WEB, "headless.py")
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(WEB)


headless = _load_headless()
serve = headless.serve


@pytest.fixture(scope="module")
def site_root(tmp_path_factory):
    """A folder laid out as web/ is: the page's files linked, its models/ for the test's exports.
    The test fails, not skips, when the browser or the npm packages are missing: `make test`
    installs them."""
    why = headless.missing()
    if why:
        pytest.fail(why)
    root = tmp_path_factory.mktemp("site")
    for name in PAGE_FILES:
        os.symlink(os.path.join(WEB, name), root / name)
    return root


@pytest.fixture(scope="module")
def url(site_root):
    """The base URL of `site_root`, served on localhost as serve.py serves web/."""
    with headless.served(str(site_root)) as base:
        yield base


@pytest.fixture(scope="module")
def exports(site_root, trained_cls_export):
    """float32 and int8 cls exports of the trained test model at 64x96 (tests/conftest.py), with
    their metadata JSON, linked into the served models/ folder: {"float32": path, "int8": path}."""
    models = site_root / "models"
    models.mkdir()
    paths = {}
    for precision, quantize in (("float32", "none"), ("int8", "int8")):
        path = trained_cls_export(quantize)["path"]
        for file in (path, path[: -len(".tflite")] + ".json"):
            os.symlink(file, models / os.path.basename(file))
        paths[precision] = str(models / os.path.basename(path))
    return paths


@pytest.fixture(scope="module")
def playwright_driver(url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def context(playwright_driver):
    with headless.browser(playwright=playwright_driver) as browser_context:
        yield browser_context


@pytest.fixture
def page(context):
    page = context.new_page()
    yield page
    page.close()


def _open(page, url, model_path=None) -> str:
    query = "?backend=wasm"
    if model_path:
        query += f"&model=models/{os.path.basename(model_path)}"
    page.goto(url + query)
    return headless.wait_until_settled(page)


def _street_frame(tmp_path, size, seed, ext="png") -> str:
    """A synthetic street scene written as a PNG or JPEG file, as a user's photo comes."""
    image, _ = render_scene(size, np.random.default_rng(seed))
    path = str(tmp_path / f"street_{size[0]}x{size[1]}.{ext}")
    cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["float32", "int8"])
def test_page_gives_the_labels_predict_py_gives(url, exports, page, tmp_path, variant):
    """The same .tflite and photo through the page and through predict.py's predictor: a PNG at
    the model's size, a PNG and a JPEG that both resize (to 64x96 and back)."""
    from fast_scnn_tf.data.images import read_image
    from fast_scnn_tf.predict.predictor import load_predictor

    paths = exports
    assert _open(page, url, paths[variant]) == "ready", page.inner_text("#error")
    assert page.inner_text("#model-info").startswith(os.path.basename(paths[variant]))
    assert page.get_attribute("#model-info", "data-backend") == "wasm"
    predict, _, _ = load_predictor(paths[variant])
    for size, seed, ext in (
        (MODEL_SIZE, 11, "png"),
        ((101, 157), 12, "png"),
        ((75, 120), 15, "jpg"),
    ):
        photo = _street_frame(tmp_path, size, seed, ext)
        result = headless.segment_photo(page, photo)
        browser_labels = np.array(result["labels"], np.uint8).reshape(
            result["height"], result["width"]
        )
        python_labels = predict(read_image(photo))
        assert browser_labels.shape == python_labels.shape == size
        assert len(np.unique(python_labels)) >= 3  # a street, not a blank frame
        agreement = float((browser_labels == python_labels).mean())
        print(
            f"{variant} {size[0]}x{size[1]} {ext}: browser and Python TFLite agree on "
            f"{100 * agreement:.3f}% of pixels"
        )
        assert agreement >= 0.999
        assert float(page.get_attribute("#timing", "data-model-ms")) > 0


@pytest.mark.slow
def test_model_from_the_file_picker_with_its_metadata(url, exports, page, tmp_path):
    """A model chosen with the picker (the .tflite and its .json) replaces the loaded one; the
    legend shows the metadata's class names."""
    paths = exports
    assert _open(page, url, paths["float32"]) == "ready"
    page.set_input_files("#model-file", [paths["int8"], paths["int8"][: -len(".tflite")] + ".json"])
    page.wait_for_function(
        f"document.getElementById('model-info').textContent.startsWith("
        f"'{os.path.basename(paths['int8'])}')",
        timeout=60_000,
    )
    assert "road" in page.inner_text("#legend")  # Cityscapes' class names, from the JSON
    result = headless.segment_photo(page, _street_frame(tmp_path, MODEL_SIZE, 13))
    assert (result["height"], result["width"]) == MODEL_SIZE
    assert "%" in page.inner_text("#legend")  # each class's share of the photo
    page.fill("#opacity", "0.25")
    page.dispatch_event("#opacity", "input")
    assert page.eval_on_selector("#overlay-canvas", "c => c.style.opacity") == "0.25"


@pytest.mark.slow
def test_resizes_are_opencvs_to_the_bit(url, page):
    """The page's INTER_LINEAR (photo -> model) and INTER_NEAREST (labels -> photo) against
    cv2.resize, shrinking and enlarging, on random pixels."""
    _open(page, url)  # no model needed: segment.js alone
    rng = np.random.default_rng(0)
    for (h, w), (dh, dw) in (
        ((101, 157), (64, 96)),
        ((37, 29), (64, 96)),
        ((360, 480), (180, 240)),
        ((480, 640), (360, 480)),
    ):
        image = rng.integers(0, 256, (h, w, 3), np.uint8)
        rgba = np.concatenate([image, np.full((h, w, 1), 255, np.uint8)], axis=-1)
        labels = rng.integers(0, 19, (dh, dw), np.uint8)
        resized, back = page.evaluate(
            """async ([rgba, w, h, dw, dh, labels]) => {
                const s = await import('./js/segment.js');
                const bytes = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
                const text = (array) => btoa(Array.from(array, (b) => String.fromCharCode(b))
                    .join(''));
                const pixels = new Uint8ClampedArray(bytes(rgba).buffer);
                const rgb = s.resizeBilinearRgb(pixels, w, h, dw, dh);
                return [text(rgb), text(s.resizeNearest(bytes(labels), dw, dh, w, h))];
            }""",
            [_b64(rgba), w, h, dw, dh, _b64(labels)],
        )
        resized, back = (np.frombuffer(base64.b64decode(x), np.uint8) for x in (resized, back))
        expected = cv2.resize(image, (dw, dh), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_array_equal(resized.reshape(dh, dw, 3), expected)
        expected_back = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
        np.testing.assert_array_equal(back.reshape(h, w), expected_back)


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["not_tflite", "truncated"])
def test_a_broken_model_is_an_error_on_the_page(url, exports, page, damage):
    paths = exports
    with open(paths["float32"], "rb") as f:
        content = f.read()
    content = (
        b"\x00" * 64 + content[64:] if damage == "not_tflite" else content[: len(content) // 3]
    )
    _open(page, url, paths["float32"])
    page.set_input_files(
        "#model-file",
        {"name": f"{damage}.tflite", "mimeType": "application/octet-stream", "buffer": content},
    )
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    message = page.inner_text("#error")
    assert f"{damage}.tflite" in message, message
    assert page.evaluate("document.body.dataset.state") == "error"


@pytest.mark.slow
def test_a_file_that_is_no_image_is_an_error_on_the_page(url, exports, page):
    paths = exports
    assert _open(page, url, paths["float32"]) == "ready"
    page.set_input_files(
        "#photo-file",
        {
            "name": "notes.png",
            "mimeType": "image/png",
            "buffer": b"these are notes, not pixels\n" * 10,
        },
    )
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert "notes.png" in page.inner_text("#error")
    assert "not an image" in page.inner_text("#error")


@pytest.mark.slow
def test_a_missing_model_is_an_error_on_the_page(url, page):
    """The error replaces "loading the model…": nothing on the page says it is still loading."""
    page.goto(url + "?backend=wasm&model=models/absent.tflite")
    assert headless.wait_until_settled(page) == "error"
    assert "absent.tflite" in page.inner_text("#error") and "404" in page.inner_text("#error")
    assert "loading" not in page.inner_text("#model-info").lower()
    assert "absent.tflite" in page.inner_text("#model-info")


# What `make web` writes into web/models/ (the page offers these names when they exist).
SHIPPED_FLOAT32 = "models/fast_scnn_cls_float32_360x480.tflite"
SHIPPED_INT8 = "models/fast_scnn_cls_int8_360x480.tflite"


def _site(tmp_path, models: dict) -> str:
    """A folder laid out as web/ is, its models/ holding `models` ({relative path: the file to
    link, or bytes to write}): the page's shipped entries without `make web`."""
    for name in PAGE_FILES:
        os.symlink(os.path.join(WEB, name), tmp_path / name)
    (tmp_path / "models").mkdir()
    for name, content in models.items():
        if isinstance(content, bytes):
            (tmp_path / name).write_bytes(content)
        else:
            os.symlink(content, tmp_path / name)
    return str(tmp_path)


def _menu(page) -> list[str]:
    return page.eval_on_selector_all("#model-select option", "options => options.map(o => o.value)")


@pytest.fixture
def shipped_site(exports, tmp_path):
    """A folder laid out as web/ is after `make web` without data/CamVid: the float32 file (the
    test's export, under the shipped name) and its JSON, no int8 file. Served; yields
    (base URL, folder)."""
    float32_json = exports["float32"][: -len(".tflite")] + ".json"
    root = _site(
        tmp_path,
        {
            SHIPPED_FLOAT32: exports["float32"],
            SHIPPED_FLOAT32[: -len(".tflite")] + ".json": float32_json,
        },
    )
    with headless.served(root) as base:
        yield base, root


@pytest.mark.slow
def test_without_a_model_the_page_says_how_to_make_one(page, tmp_path):
    """No model in models/: an error saying how to make one, in place of "loading the model…"."""
    with headless.served(_site(tmp_path, {})) as base:
        page.goto(base + "?backend=wasm")
        assert headless.wait_until_settled(page) == "error"
    assert "make web" in page.inner_text("#error")
    assert "loading" not in page.inner_text("#model-info").lower()
    assert _menu(page) == []


@pytest.mark.slow
def test_the_menu_offers_only_the_models_that_exist(shipped_site, page):
    base, _ = shipped_site
    page.goto(base + "?backend=wasm")
    assert headless.wait_until_settled(page) == "ready", page.inner_text("#error")
    assert _menu(page) == [SHIPPED_FLOAT32]


@pytest.mark.slow
def test_after_a_failed_switch_the_menu_shows_the_model_in_use(
    shipped_site, exports, page, tmp_path
):
    """A broken int8 file chosen from the menu: its error is shown, the menu goes back to
    float32, which keeps segmenting."""
    base, root = shipped_site
    with open(exports["int8"], "rb") as f:
        broken = f.read()[:2000]
    with open(os.path.join(root, SHIPPED_INT8), "wb") as f:
        f.write(broken)
    page.goto(base + "?backend=wasm")
    assert headless.wait_until_settled(page) == "ready", page.inner_text("#error")
    page.select_option("#model-select", SHIPPED_INT8)
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert os.path.basename(SHIPPED_INT8) in page.inner_text("#error")
    assert page.eval_on_selector("#model-select", "s => s.value") == SHIPPED_FLOAT32
    assert page.inner_text("#model-info").startswith(os.path.basename(SHIPPED_FLOAT32))
    frames = page.evaluate("fastScnn.frames")
    page.set_input_files("#photo-file", _street_frame(tmp_path, MODEL_SIZE, 16))
    page.wait_for_function(f"fastScnn.frames > {frames}", timeout=60_000)


@pytest.mark.slow
def test_a_photo_over_the_pixel_limit_is_refused_before_it_is_decoded(url, exports, page, tmp_path):
    """Headers declaring 9000x8000 (72 MP, over the 64 MP limit) in each format the page reads:
    refused by name with the size, and the browser is never asked to decode them. Small photos
    in the same formats are segmented."""
    assert _open(page, url, exports["float32"]) == "ready"
    page.evaluate("""() => {
        window.decodes = 0;
        const decode = window.createImageBitmap;
        window.createImageBitmap = (...args) => { window.decodes += 1; return decode(...args); };
    }""")
    claiming = {
        "big.png": ih.png_claiming(9000, 8000),
        "big.jpg": ih.jpeg_claiming(9000, 8000),
        "big.gif": ih.gif(9000, 8000, pixels=False),
        "big_frame.gif": ih.gif(16, 16, [(0, 0, 9000, 8000)], pixels=False),
        "big.bmp": ih.bmp_claiming(9000, 8000),
        "big_core.bmp": ih.bmp_claiming(9000, 8000, core=True),
        "big_lossy.webp": ih.webp_claiming(9000, 8000, "VP8 "),
        "big_lossless.webp": ih.webp_claiming(9000, 8000, "VP8L"),
        "big_extended.webp": ih.webp_claiming(9000, 8000, "VP8X"),
    }
    for name, content in claiming.items():
        page.set_input_files(
            "#photo-file", {"name": name, "mimeType": "image/png", "buffer": content}
        )
        page.wait_for_function(
            f"document.getElementById('error').textContent.includes('{name}')", timeout=30_000
        )
        message = page.inner_text("#error")
        assert name in message and "8000×9000" in message and "megapixels" in message, message
    assert page.evaluate("window.decodes") == 0

    image, _ = render_scene((48, 80), np.random.default_rng(17))
    small = {
        "small.gif": ih.gif(80, 48),
        "small.bmp": cv2.imencode(".bmp", image)[1].tobytes(),
        "small.webp": cv2.imencode(".webp", image)[1].tobytes(),
    }
    for name, content in small.items():
        path = tmp_path / name
        path.write_bytes(content)
        result = headless.segment_photo(page, str(path))
        assert (result["height"], result["width"]) == (48, 80), name


@pytest.mark.slow
def test_the_status_is_shown_before_the_photo_is_decoded(url, exports, page, tmp_path):
    """What the page showed at its last frame before the decode started: "Segmenting…", not the
    "Ready" of before (a large photo blocks the page for seconds after that)."""
    assert _open(page, url, exports["float32"]) == "ready"
    page.evaluate("""() => {
        window.shownStatus = null;
        const watch = () => {
            window.shownStatus = document.getElementById('status').textContent;
            requestAnimationFrame(watch);
        };
        requestAnimationFrame(watch);
        const decode = window.createImageBitmap;
        window.createImageBitmap = (...args) => {
            window.statusAtDecode = window.shownStatus;
            return decode(...args);
        };
    }""")
    page.wait_for_function("window.shownStatus !== null")
    headless.segment_photo(page, _street_frame(tmp_path, (120, 160), 18))
    assert "Segmenting" in page.evaluate("window.statusAtDecode")


@pytest.mark.slow
def test_litert_info_lines_are_not_console_errors(url, exports, page, tmp_path):
    """The runtime's INFO lines (the XNNPACK delegate created, ...) go to the console as info;
    only errors are console errors."""
    messages = []
    page.on("console", lambda message: messages.append((message.type, message.text)))
    assert _open(page, url, exports["float32"]) == "ready"
    headless.segment_photo(page, _street_frame(tmp_path, MODEL_SIZE, 19))
    errors = [text for kind, text in messages if kind == "error"]
    assert not errors, errors
    assert any("INFO" in text for kind, text in messages if kind in ("info", "debug", "log"))


@pytest.mark.slow
def test_a_dropped_photo_is_segmented(url, exports, page, tmp_path):
    """Dropping a file on the page takes the picker's path."""
    assert _open(page, url, exports["float32"]) == "ready"
    with open(_street_frame(tmp_path, (48, 80), 14), "rb") as f:
        photo = base64.b64encode(f.read()).decode("ascii")
    page.evaluate(
        """(photo) => {
            const bytes = Uint8Array.from(atob(photo), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], 'dropped.png', {type: 'image/png'}));
            document.getElementById('drop-zone').dispatchEvent(
                new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
        }""",
        photo,
    )
    page.wait_for_function("fastScnn.frames === 1 || document.body.dataset.state === 'error'")
    result = page.evaluate("fastScnn.lastResult()")
    assert (result["height"], result["width"]) == (48, 80), page.inner_text("#error")


@pytest.mark.slow
def test_the_webcam_is_segmented_frame_after_frame(url, exports, playwright_driver):
    """With Chromium's stand-in camera: frames keep coming, each segmented, and the page shows
    the frame rate it measures."""
    with headless.browser(headless.FAKE_WEBCAM_ARGS, playwright_driver) as webcam_context:
        page = webcam_context.new_page()
        assert _open(page, url, exports["int8"]) == "ready"
        page.click("#webcam-button")
        page.wait_for_function(
            "fastScnn.frames >= 5 || document.body.dataset.state === 'error'", timeout=60_000
        )
        assert page.evaluate("document.body.dataset.state") != "error", page.inner_text("#error")
        assert "frames/s" in page.inner_text("#fps")
        assert float(page.inner_text("#fps").split()[0]) > 0
        result = page.evaluate("fastScnn.lastResult()")
        assert result["width"] > 0 and result["height"] > 0
        page.click("#webcam-button")  # stop
        assert page.inner_text("#webcam-button") == "Start webcam"


@pytest.mark.slow
def test_without_its_npm_packages_the_page_says_so(tmp_path, page):
    """A folder served without node_modules (no `npm ci`): a message, not a page that waits."""
    for name in ("index.html", "style.css", "js"):
        os.symlink(os.path.join(WEB, name), tmp_path / name)
    with headless.served(str(tmp_path)) as bare_url:
        page.goto(bare_url)
        assert headless.wait_until_settled(page, timeout_ms=30_000) == "error"
    assert "node_modules" in page.inner_text("#error")


def test_a_missing_browser_fails_the_test_with_the_command_that_installs_it(monkeypatch):
    monkeypatch.setattr(headless, "CHROMIUM", "/nonexistent/chromium")
    assert "make setup-web" in headless.missing()


# ---------- web/serve.py: its arguments and the paths it answers (no browser needed) ----------


@pytest.fixture
def serve_main(monkeypatch, tmp_path):
    """serve.main with web/ replaced by an empty folder holding the one npm file it checks for,
    and serve_forever returning at once (as Ctrl+C does): what main prints before serving."""
    wasm = tmp_path / "node_modules" / "@litertjs" / "core" / "wasm"
    wasm.mkdir(parents=True)
    (wasm / "litert_wasm_internal.wasm").write_bytes(b"")
    monkeypatch.setattr(serve, "FOLDER", str(tmp_path))

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(serve.http.server.ThreadingHTTPServer, "serve_forever", interrupted)
    return serve.main


@pytest.mark.parametrize("port", ["99999", "-1", "eighty"])
def test_serve_refuses_a_port_out_of_range_in_one_line(serve_main, capsys, port):
    with pytest.raises(SystemExit) as exit_info:
        serve_main(["--port", port])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--port" in err and "0-65535" in err and "Traceback" not in err, err


@pytest.mark.parametrize("host", ["999.1.1.1", "no-such-host.invalid", "192.0.2.254"])
def test_serve_names_the_host_it_cannot_listen_on(serve_main, capsys, host):
    """An address that is not this machine's: the error names --host, and suggests no other port
    (the port is not what failed)."""
    assert serve_main(["--host", host, "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert f"--host {host}" in err and "--port" not in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_serve_suggests_another_port_only_when_the_port_is_taken(serve_main, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serve_main(["--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"--port {port}" in err and "in use" in err and "--port 0" in err, err
    assert "--host" not in err


def test_serve_on_every_interface_prints_real_addresses_and_warns(serve_main, capsys):
    """0.0.0.0 is no address a browser can open: the URLs printed are this machine's, and one
    line warns that the page is open to the network."""
    assert serve_main(["--host", "0.0.0.0", "--port", "0"]) == 0
    out, err = capsys.readouterr()
    assert "http://127.0.0.1:" in out and "localhost" not in out and "0.0.0.0:" not in out, out
    warning = [line for line in err.splitlines() if "warning" in line.lower()]
    assert len(warning) == 1 and "0.0.0.0" in warning[0] and "network" in warning[0], err


def test_serve_on_loopback_does_not_warn(serve_main, capsys):
    assert serve_main(["--port", "0"]) == 0
    out, err = capsys.readouterr()
    assert "http://127.0.0.1:" in out and err == ""


@pytest.fixture(scope="module")
def small_site(tmp_path_factory):
    """A served folder holding index.html and models/, files that are not the page's beside them,
    and a secret.txt beside the folder: its address."""
    root = tmp_path_factory.mktemp("small_site")
    (root / "site").mkdir()
    (root / "site" / "index.html").write_text("page")
    (root / "site" / "models").mkdir()
    (root / "site" / "models" / "m.tflite").write_bytes(b"model")
    (root / "site" / "notes.txt").write_text("secret: not a page file")
    (root / "site" / "tools").mkdir()
    (root / "site" / "tools" / "serve.py").write_text("secret = 1")
    (root / "secret.txt").write_text("secret")
    with headless.served(str(root / "site")) as base:
        yield base.split("/")[2]


def _get(address: str, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(address, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "path",
    [
        "/%00",
        "/index.html%00.txt",
        "/%ED%A0%80",
        "/%FF.png",
        "/a%0Ab",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/js/..%2f..%2fsecret.txt",
        "/js%5c..%5csecret.txt",
    ],
)
def test_serve_answers_an_unsafe_path_with_400_and_no_traceback(small_site, capfd, path):
    """Paths that do not decode to a safe relative path: a NUL byte, bytes that are not UTF-8,
    control characters, '..' (plain or %-encoded), backslashes."""
    status, body = _get(small_site, path)
    assert status == 400 and b"secret" not in body
    assert _get(small_site, "/index.html") == (200, b"page")  # still serving
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("path", ["/notes.txt", "/tools/serve.py", "/tools/", "/package.json"])
def test_serve_answers_only_the_pages_own_files(small_site, path):
    """The page, its scripts, its runtime and models/: a file beside them (the tools, notes the
    user left in web/) is not served, even to a network with --host 0.0.0.0."""
    status, body = _get(small_site, path)
    assert status == 404 and b"secret" not in body
    assert _get(small_site, "/models/m.tflite") == (200, b"model")
    assert _get(small_site, "/") == (200, b"page")


@pytest.mark.parametrize("newer", ["shipped model", "page's export"])
def test_make_web_exports_again_when_the_shipped_model_is_newer(tmp_path, newer):
    """`make web` re-exports the page's models when models/camvid changed after they were made
    (a new model shipped, a pull): an older export would be served silently."""
    import shutil
    import subprocess

    shutil.copy(os.path.join(ROOT, "Makefile"), tmp_path)
    for name in ("requirements.txt", "requirements-torch.txt", ".venv/.installed"):
        os.makedirs(os.path.dirname(tmp_path / name), exist_ok=True)
        (tmp_path / name).write_text("")
    model = tmp_path / "models" / "camvid"
    os.makedirs(model / "best")
    (model / "config.json").write_text("{}")
    (model / "best" / "ckpt-1.index").write_text("")
    os.makedirs(tmp_path / "web" / "models")
    export = tmp_path / "web" / "models" / "fast_scnn_cls_float32_360x480.tflite"
    export.write_text("")
    older, newer_time = 1_000_000_000, 1_000_000_100
    for path in (tmp_path / "requirements.txt", tmp_path / "requirements-torch.txt"):
        os.utime(path, (older - 100, older - 100))
    for path in (model / "config.json", model / "best" / "ckpt-1.index", export):
        stamp = newer_time if (path == export) == (newer == "page's export") else older
        os.utime(path, (stamp, stamp))
    result = subprocess.run(
        ["make", "-n", "web/models/fast_scnn_cls_float32_360x480.tflite"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    exported = "export.py --checkpoint models/camvid" in result.stdout
    assert exported == (newer == "shipped model")
    assert ("--overwrite" in result.stdout) == exported  # the file it made before is replaced
