"""A fake APNs on 127.0.0.1 for tests: HTTP/2 only over TLS (ALPN h2, as Apple's), with a server
certificate from the test's CA, and a client certificate required and checked to be the pass type
certificate. It records each request and answers as told (status, APNs' reason, a delay).

Run with the ``h2`` library in a thread per connection: small, and nothing here is async."""

import contextlib
import json
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import ConnectionTerminated, DataReceived, RequestReceived, StreamEnded

from .apple_wallet import Chain


@dataclass
class Request:
    path: str
    method: str
    headers: dict[str, str]
    body: bytes = b""
    protocol: str = ""
    client_certificate: bytes = b""


@dataclass
class Answer:
    status: int = 200
    reason: str = ""
    delay: float = 0.0


@dataclass
class FakeAPNs:
    chain: Chain
    requests: list[Request] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    refused: int = 0

    def __post_init__(self):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.chain.path("apns.pem"), self.chain.path("apns.key"))
        # The client presents its certificate alone: its issuer (the WWDR-like one) and the CA are trusted.
        context.load_verify_locations(self.chain.path("ca.pem"))
        context.load_verify_locations(self.chain.path("wwdr.pem"))
        context.verify_mode = ssl.CERT_REQUIRED
        context.set_alpn_protocols(["h2"])
        self.context = context
        self.expected = self.chain.pass_certificate.public_bytes(serialization.Encoding.DER)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self.listener.getsockname()[1]}"
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def answer(self, status: int = 200, reason: str = "", delay: float = 0.0) -> None:
        """The next request's answer; once these run out, 200."""
        self.answers.append(Answer(status, reason, delay))

    def close(self) -> None:
        """Stop listening: a client now finds the port closed (shutting down wakes the accept)."""
        with contextlib.suppress(OSError):  # already shut
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(timeout=5)

    def _accept(self) -> None:
        while True:
            try:
                raw, _address = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            with self.lock:
                self.refused += 1
            raw.close()
            return
        with tls:
            peer = tls.getpeercert(binary_form=True)
            protocol = tls.selected_alpn_protocol() or ""
            if protocol != "h2" or peer != self.expected:
                with self.lock:
                    self.refused += 1
                return
            try:
                self._speak_h2(tls, protocol, peer)
            except OSError:
                return  # the client went away (it timed out)

    def _speak_h2(self, tls: ssl.SSLSocket, protocol: str, peer: bytes) -> None:
        connection = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
        connection.initiate_connection()
        tls.sendall(connection.data_to_send())
        streams: dict[int, Request] = {}
        while True:
            data = tls.recv(65535)
            if not data:
                return
            for event in connection.receive_data(data):
                if isinstance(event, RequestReceived):
                    headers = dict(event.headers)
                    streams[event.stream_id] = Request(
                        path=headers.pop(":path"),
                        method=headers.pop(":method"),
                        headers=headers,
                        protocol=protocol,
                        client_certificate=peer,
                    )
                elif isinstance(event, DataReceived):
                    streams[event.stream_id].body += event.data
                    connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, StreamEnded):
                    self._respond(tls, connection, event.stream_id, streams.pop(event.stream_id))
                elif isinstance(event, ConnectionTerminated):
                    tls.sendall(connection.data_to_send())
                    return
            tls.sendall(connection.data_to_send())

    def _respond(self, tls: ssl.SSLSocket, connection: H2Connection, stream_id: int, request: Request) -> None:
        with self.lock:
            self.requests.append(request)
            answer = self.answers.pop(0) if self.answers else Answer()
        if answer.delay:
            time.sleep(answer.delay)
        headers = [(":status", str(answer.status)), ("apns-id", str(uuid.uuid4()))]
        if answer.status == 200:
            connection.send_headers(stream_id, headers, end_stream=True)
        else:
            body = json.dumps({"reason": answer.reason}).encode()
            connection.send_headers(stream_id, [*headers, ("content-type", "application/json")])
            connection.send_data(stream_id, body, end_stream=True)
        tls.sendall(connection.data_to_send())
