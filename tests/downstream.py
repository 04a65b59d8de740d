"""A programmable HTTP(S) downstream on loopback for the outbound client's and the callbacks' tests.

Each path answers from a script (a Reply, a list of Replies served in turn, the last repeated, or a
function of the request); every request is kept (method, path, headers, body, TLS server name), and
the most requests in flight at once are counted.
"""

from __future__ import annotations

import datetime
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    server_name: str | None


Script = Reply | list[Reply] | Callable[[Seen], Reply]


class Downstream:
    def __init__(self, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, Script] = {}
        self.default: Script = Reply()
        self.seen: list[Seen] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        self._tls = tls
        self._server_name = threading.local()
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, path: str = "/", host: str | None = None) -> str:
        host = host or self.host
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def hits(self, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for s in self.seen if path is None or s.path == path)

    def _reply_for(self, seen: Seen) -> Reply:
        script = self.routes.get(seen.path.split("?", 1)[0], self.default)
        if callable(script):
            return script(seen)
        if isinstance(script, list):
            with self._lock:
                n = self._served.get(seen.path, 0)
                self._served[seen.path] = n + 1
            return script[min(n, len(script) - 1)]
        return script

    def start(self) -> Downstream:
        downstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                server_name = getattr(self.connection, "gatehouse_server_name", None)
                seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, server_name)
                with downstream._lock:
                    downstream.seen.append(seen)
                    downstream.in_flight += 1
                    downstream.most_in_flight = max(downstream.most_in_flight, downstream.in_flight)
                try:
                    reply = downstream._reply_for(seen)
                    if reply.delay:
                        time.sleep(reply.delay)
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(reply.body)
                finally:
                    with downstream._lock:
                        downstream.in_flight -= 1

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        server = ThreadingHTTPServer((self.host, 0), Handler)
        server.daemon_threads = True
        if self._tls is not None:

            def remember(sock: ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> None:
                sock.gatehouse_server_name = name  # type: ignore[attr-defined]

            self._tls.sni_callback = remember
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass
class Certificates:
    ca_file: Path
    server_context: ssl.SSLContext


def tls_for(name: str, directory: Path) -> Certificates:
    """A CA of the test's own and a server certificate for `name` signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gatehouse test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return Certificates(ca_file, context)
