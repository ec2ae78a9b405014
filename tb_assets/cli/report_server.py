"""The artifacts folder over HTTP on 127.0.0.1, so the UI's links to tearsheets and plots open
with a click (`tb dev` starts it; the UI only copies a file path)."""

from __future__ import annotations

import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass  # the dagster dev console stays readable

    def list_directory(self, path):  # files only: a folder listing is not needed to follow a link
        self.send_error(403, "no listings")
        return None


def serve_artifacts(root: Path, port: int) -> tuple[ThreadingHTTPServer, str]:
    """Serve `root` read-only on 127.0.0.1:`port` (a free port when that one is taken) in a daemon
    thread; (the server, its base URL)."""
    wanted = port
    handler = partial(_QuietHandler, directory=str(root))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", wanted), handler)
    except OSError:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        print(f"tb dev: port {wanted} is taken; artifacts served on {server.server_address[1]} instead", file=sys.stderr)
    threading.Thread(target=server.serve_forever, name="tb-artifacts-http", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"
