"""Real servers on 127.0.0.1 for the alert tests: a webhook receiver and an SMTP server."""

from __future__ import annotations

import json
import socket
import threading
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookServer:
    """Records every POSTed JSON body; answers `status` (set it to 500 to play a broken receiver)."""

    def __init__(self):
        self.bodies: list[dict] = []
        self.status = 200
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if owner.status == 200:
                    owner.bodies.append(json.loads(body))
                self.send_response(owner.status)
                self.end_headers()
                self.wfile.write(b"ok" if owner.status == 200 else b"broken")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookServer:
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class SmtpServer:
    """aiosmtpd on a free port of 127.0.0.1, keeping every message it receives."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages = []
        owner = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
                owner.messages.append(message_from_bytes(envelope.content))
                return "250 Message accepted for delivery"

        self.port = free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc):
        self._controller.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
