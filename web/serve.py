"""Serve this folder on localhost: static files only, nothing is uploaded or computed here.

Two headers make the page cross-origin isolated (COOP same-origin, COEP require-corp), which
browsers demand before they share memory between threads: with them LiteRT.js runs its
multi-threaded WebAssembly build, without them the single-threaded one.

Only paths that decode to a plain relative path are answered: a NUL byte, a control character,
a backslash, a '..' segment or bytes that are not UTF-8 get 400 Bad Request. And only the page's
own files (PAGE_ENTRIES): the tools beside them, or anything else left in web/, get 404.

    python web/serve.py [--port 8000] [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import errno
import functools
import http.server
import ipaddress
import os
import socket
import sys
import urllib.parse

FOLDER = os.path.dirname(os.path.abspath(__file__))
# The one npm file main() checks for before serving (`npm ci` in web/ installs it).
RUNTIME_FILE = os.path.join(
    "node_modules", "@litertjs", "core", "wasm", "litert_wasm_internal.wasm"
)

# What the page loads: itself, its scripts and style, the LiteRT.js runtime, the models.
PAGE_ENTRIES = ("index.html", "style.css", "js", "node_modules", "models")


def safe_path(url_path: str) -> bool:
    """Whether a request's path (query and fragment aside) decodes, as UTF-8, to a relative path
    of plain names: no NUL or other control character, no backslash, no '..' segment."""
    path = url_path.split("?", 1)[0].split("#", 1)[0]
    try:
        decoded = urllib.parse.unquote(path, errors="strict")
    except UnicodeDecodeError:
        return False
    if not decoded.startswith("/") or "\\" in decoded:
        return False
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in decoded):
        return False
    return ".." not in decoded.split("/")


def page_path(url_path: str) -> bool:
    """Whether a safe request path is the page ('/') or lies in one of PAGE_ENTRIES."""
    path = urllib.parse.unquote(url_path.split("?", 1)[0].split("#", 1)[0])
    first = path.lstrip("/").split("/", 1)[0]
    return first == "" or first in PAGE_ENTRIES


class StaticHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
        ".json": "application/json",
        ".tflite": "application/octet-stream",
    }

    def send_head(self):  # GET and HEAD both start here
        if not safe_path(self.path):
            self.send_error(400, "the path is not a plain relative path")
            return None
        if not page_path(self.path):
            self.send_error(404, "not a file of the page")
            return None
        return super().send_head()

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args):  # quiet unless something failed
        if len(args) > 1 and str(args[1])[:1] in "45":
            super().log_message(format, *args)


class StaticServer(http.server.ThreadingHTTPServer):
    """A ThreadingHTTPServer on IPv4 or IPv6, as the host's address is (the class itself
    listens on IPv4 only, so `--host ::1` could not be served)."""

    def __init__(self, address, handler):
        host, port = address
        family = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0][0]
        self.address_family = family
        super().__init__(address, handler)


def make_server(host: str = "127.0.0.1", port: int = 8000, folder: str = FOLDER):
    """A threading HTTP server for `folder` (port 0: any free port; `server.server_port`).
    OSError (socket.gaierror for a name that does not resolve) when it cannot listen."""
    handler = functools.partial(StaticHandler, directory=folder)
    return StaticServer((host, port), handler)


def port_number(text: str) -> int:
    """--port's type: an integer from 0 to 65535 (0: any free port)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return port


def listen_error(host: str, port: int, error: OSError) -> str:
    """One line on why the server cannot listen, naming the argument to change."""
    reason = error.strerror or str(error)
    if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
        return (
            f"--host {host}: not an address of this machine ({reason}): expected one of its "
            "addresses, 127.0.0.1 (this machine only) or 0.0.0.0 (every network interface)"
        )
    if error.errno == errno.EADDRINUSE:
        return f"--port {port}: in use on {host} by another program: choose another, or --port 0"
    if error.errno == errno.EACCES:
        return (
            f"--port {port}: not allowed ({reason}; ports below 1024 need privileges): "
            "choose one from 1024, or --port 0"
        )
    return f"cannot listen on --host {host} --port {port}: {reason}"


def network_address(family: int) -> str | None:
    """This machine's address on the network its default route leads to (a UDP socket's
    connect picks the interface and sends nothing), or None without one."""
    target = "2001:db8::1" if family == socket.AF_INET6 else "192.0.2.1"
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((target, 9))
            return probe.getsockname()[0]
    except OSError:
        return None


def urls(server) -> list[str]:
    """The URLs a browser can open the page at: the address listened on, or for 0.0.0.0 / ::
    (every interface) the loopback address and this machine's network address."""
    host, port = server.server_address[:2]
    address = ipaddress.ip_address(host.split("%")[0])
    hosts = [host]
    if address.is_unspecified:
        hosts = [str(ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1"))]
        found = network_address(server.address_family)
        if found and not ipaddress.ip_address(found.split("%")[0]).is_loopback:
            hosts.append(found)
    return [f"http://[{h}]:{port}/" if ":" in h else f"http://{h}:{port}/" for h in hosts]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only; "
        "0.0.0.0: every network interface)",
    )
    parser.add_argument(
        "--port", type=port_number, default=8000, help="port, 0-65535 (default: 8000; 0: any free)"
    )
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(FOLDER, RUNTIME_FILE)):
        print(
            "web/node_modules is missing: run `make web` (or `npm ci` in web/) first",
            file=sys.stderr,
        )
        return 1
    try:
        server = make_server(args.host, args.port, FOLDER)
    except OSError as e:
        print(listen_error(args.host, args.port, e), file=sys.stderr)
        return 1
    with server:
        bound = ipaddress.ip_address(server.server_address[0].split("%")[0])
        if not bound.is_loopback:
            host = args.host or "''"
            print(
                f"warning: --host {host} opens the page and the models in web/models/ to "
                "any machine on the network that can reach this one (plain HTTP); "
                "127.0.0.1 keeps them to this machine",
                file=sys.stderr,
            )
        print(f"Serving {FOLDER} at {' and '.join(urls(server))}  (Ctrl+C stops)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
