"""A fake of LINE's Messaging API on 127.0.0.1 for the tests: replies and pushes, recorded.

Like LINE, it takes a push at most once per ``X-Line-Retry-Key``: the same key again answers 409
with the first request's id, and nothing is delivered twice. ``mode`` makes it fail: "500" answers
an error without taking the message; "slow" takes it, then answers too late for the client."""

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.fernet import Fernet

from members import line

# A shop's Messaging API channel as the tests connect it.
SECRET = "0123456789abcdef0123456789ab1a2b"
TOKEN = "T" * 40 + "9z8y"


class FakeLine:
    def __init__(self, token: str):
        self.token = token
        self.replies: list[dict] = []
        self.pushes: list[dict] = []  # delivered, once each
        self.push_attempts: list[dict] = []  # every push request, repeats included
        self.accepted: dict[str, str] = {}  # retry key -> request id
        self.mode = "ok"
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                authorised = self.headers.get("Authorization") == f"Bearer {fake.token}"
                if self.path == "/v2/bot/message/push":
                    status, payload, headers = fake._push(body, self.headers.get("X-Line-Retry-Key"), authorised)
                else:
                    fake.replies.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                    status = 500 if fake.mode == "500" else 200 if authorised else 401
                    payload = {
                        "sentMessages": [{"id": str(i), "quoteToken": "q"} for i in range(len(body["messages"]))]
                    }
                    headers = {}
                if fake.mode == "slow":
                    time.sleep(1.0)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def _push(self, body: dict, retry_key: str | None, authorised: bool) -> tuple[int, dict, dict]:
        with self.lock:
            self.push_attempts.append({"body": body, "retry_key": retry_key})
            if not authorised:
                return 401, {"message": "Authentication failed"}, {}
            if self.mode == "500":
                return 500, {"message": "An error occurred"}, {}
            if retry_key in self.accepted:
                return (
                    409,
                    {"message": "The retry key is already accepted"},
                    {"x-line-accepted-request-id": self.accepted[retry_key]},
                )
            request_id = str(uuid.uuid4())
            if retry_key:
                self.accepted[retry_key] = request_id
            self.pushes.append({"to": body["to"], "texts": [m["text"] for m in body["messages"]], "key": retry_key})
            return 200, {"sentMessages": [{"id": "1", "quoteToken": "q"}]}, {"x-line-request-id": request_id}

    def texts(self) -> list[str]:
        return [message["text"] for reply in self.replies for message in reply["body"]["messages"]]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def serve(settings):
    """A fake LINE for one test, the settings pointing at it: ``yield from serve(settings)`` in a fixture."""
    fake = FakeLine(TOKEN)
    settings.LINE_API_URL = fake.url
    yield fake
    fake.close()


def connect(shop, by, settings):
    """The shop's LINE channel connected (a credentials key made if the test has none yet)."""
    settings.LINE_CREDENTIALS_KEY = settings.LINE_CREDENTIALS_KEY or Fernet.generate_key().decode()
    return line.channel_connect(shop=shop, channel_id="1650000000", secret=SECRET, token=TOKEN, by=by)
