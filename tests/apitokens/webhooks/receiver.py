"""A local webhook receiver on 127.0.0.1 for the delivery tests: answers each POST with the
next planned status (after an optional delay) and keeps what it received."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Plan:
    statuses: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)


class Receiver:
    """Context manager: `with Receiver(statuses=[500, 200]) as receiver: receiver.url`."""

    def __init__(self, *, statuses: list[int] | None = None, delay: float = 0.0) -> None:
        self.plan = Plan(statuses=list(statuses or [200]), delay=delay)
        plan = self.plan

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                plan.received.append(
                    Received(path=self.path, headers=dict(self.headers.items()), body=body)
                )
                if plan.delay:
                    time.sleep(plan.delay)
                status = plan.statuses.pop(0) if len(plan.statuses) > 1 else plan.statuses[0]
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up (the timeout test)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    @property
    def received(self) -> list[Received]:
        return self.plan.received

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
