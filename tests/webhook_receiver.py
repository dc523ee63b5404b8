"""A shop's own system on 127.0.0.1 for the webhook tests: it records every request and answers
what it is told to, in order (``answers``: a status code, "slow" to answer too late, "redirect"),
then 200."""

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


class Receiver:
    def __init__(self):
        self.requests: list[Received] = []
        self.answers: list[int | str] = []
        self.slow_seconds = 1.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                    answer = receiver.answers.pop(0) if receiver.answers else 200
                if answer == "slow":
                    time.sleep(receiver.slow_seconds)
                    answer = 200
                try:
                    if answer == "redirect":
                        self.send_response(302)
                        self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                    else:
                        self.send_response(int(answer))
                    text = b"ok" if answer == 200 else b"Internal trouble"
                    self.send_header("Content-Length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                except OSError:
                    pass  # the client gave up waiting

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
