"""A small OpenID Connect provider for tests, run as its own process: `python oidc_provider.py PORT`.

It publishes discovery and a JWKS of one RSA key, signs the claims posted to `/token` with it, makes a new key on
`POST /rotate` (the JWKS then publishes only the new one), and counts JWKS fetches (`GET /stats`).
"""

import json
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


class Provider:
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.lock = threading.Lock()
        self.jwks_fetches = 0
        self.rotate()

    def rotate(self) -> None:
        self.kid = uuid.uuid4().hex[:12]
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def token(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


def serve(port: int) -> None:
    provider = Provider(f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def _send(self, body: object) -> None:
            data = json.dumps(body).encode() if not isinstance(body, str) else body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            with provider.lock:
                if self.path == "/.well-known/openid-configuration":
                    self._send({"issuer": provider.issuer, "jwks_uri": f"{provider.issuer}/jwks"})
                elif self.path == "/jwks":
                    provider.jwks_fetches += 1
                    self._send(provider.jwks())
                elif self.path == "/stats":
                    self._send({"jwks_fetches": provider.jwks_fetches, "kid": provider.kid})
                else:
                    self.send_error(404)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")) or 0)
            with provider.lock:
                if self.path == "/rotate":
                    provider.rotate()
                    self._send({"kid": provider.kid})
                elif self.path == "/token":
                    self._send({"token": provider.token(json.loads(body))})
                else:
                    self.send_error(404)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
