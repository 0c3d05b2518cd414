"""Serve this folder on localhost: static files only, nothing is uploaded or computed here.

Two headers make the page cross-origin isolated (COOP same-origin, COEP require-corp), which
browsers demand before they share memory between threads: with them LiteRT.js runs its
multi-threaded WebAssembly build, without them the single-threaded one.

    python web/serve.py [--port 8000] [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import sys

FOLDER = os.path.dirname(os.path.abspath(__file__))


class StaticHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".mjs": "text/javascript",
                      ".wasm": "application/wasm", ".json": "application/json",
                      ".tflite": "application/octet-stream"}

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args):  # quiet unless something failed
        if len(args) > 1 and str(args[1])[:1] in "45":
            super().log_message(format, *args)


def make_server(host: str = "127.0.0.1", port: int = 8000, folder: str = FOLDER):
    """A threading HTTP server for `folder` (port 0: any free port; `server.server_port`)."""
    handler = functools.partial(StaticHandler, directory=folder)
    return http.server.ThreadingHTTPServer((host, port), handler)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0: any free)")
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(FOLDER, "node_modules", "@litertjs", "core", "wasm",
                                       "litert_wasm_internal.wasm")):
        print("web/node_modules is missing: run `make web` (or `npm ci` in web/) first",
              file=sys.stderr)
        return 1
    try:
        server = make_server(args.host, args.port)
    except OSError as e:
        print(f"cannot listen on {args.host}:{args.port}: {e.strerror} (try --port 0)",
              file=sys.stderr)
        return 1
    host = "localhost" if args.host in ("127.0.0.1", "0.0.0.0") else args.host
    print(f"Serving {FOLDER} at http://{host}:{server.server_port}/  (Ctrl+C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
