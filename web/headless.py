"""Headless Chromium on the page, for the browser test (tests/test_web.py) and for timing the
page (benchmarks/browser.py).

Chromium is Debian's package (`make setup-web` installs it); Playwright drives it through its
`executable_path`, so Playwright's own browser download is never needed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading

import serve

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Root in a container needs --no-sandbox; the rest keeps the browser off the network and quiet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing() -> str | None:
    """Why the page cannot be tested here (None when it can): the browser, the npm packages or
    Playwright missing, each with the command that installs it."""
    if not os.path.isfile(CHROMIUM):
        return f"Chromium is not installed at {CHROMIUM}: `make setup-web` installs it"
    if not os.path.isdir(os.path.join(serve.FOLDER, "node_modules", "@litertjs", "core", "wasm")):
        return "web/node_modules is missing: `make setup-web` installs the pinned npm packages"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is missing: `make setup` installs requirements.txt"
    return None


@contextlib.contextmanager
def served(folder: str = serve.FOLDER):
    """`folder` served on a free localhost port (with the page's headers); yields the base URL."""
    server = serve.make_server("127.0.0.1", 0, folder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


# Chromium's stand-in camera (a moving test pattern), allowed without asking.
FAKE_WEBCAM_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@contextlib.contextmanager
def browser(extra_args=(), playwright=None):
    """A headless Chromium context with a fresh profile; yields it (call `.new_page()`).
    `playwright`: a started Playwright to launch it with (one process holds one at a time);
    by default one of its own."""
    from playwright.sync_api import sync_playwright

    with contextlib.ExitStack() as stack:
        profile = stack.enter_context(tempfile.TemporaryDirectory())
        if playwright is None:
            playwright = stack.enter_context(sync_playwright())
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + list(extra_args)
        )
        try:
            yield context
        finally:
            context.close()


def wait_until_settled(page, states=("ready", "done", "error"), timeout_ms: int = 60_000) -> str:
    """Wait for the page to reach one of `states` (body[data-state]); returns the state."""
    page.wait_for_function(
        f"{list(states)}.includes(document.body.dataset.state)", timeout=timeout_ms
    )
    return page.evaluate("document.body.dataset.state")


def segment_photo(page, photo, timeout_ms: int = 60_000) -> dict:
    """Give the page a photo through its file picker, as a user does; returns its result
    ({width, height, labels}) or raises with the page's error message."""
    frames = page.evaluate("fastScnn.frames")
    page.set_input_files("#photo-file", photo)
    page.wait_for_function(
        f"fastScnn.frames > {frames} || document.body.dataset.state === 'error'", timeout=timeout_ms
    )
    if page.evaluate("document.body.dataset.state") == "error":
        raise RuntimeError(f"the page says: {page.inner_text('#error')}")
    return page.evaluate("fastScnn.lastResult()")
