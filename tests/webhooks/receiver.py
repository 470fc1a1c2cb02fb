"""A webhook receiver process for tests: `python receiver.py <port> <mode file> <log file> [<address> [<cert> <key>]]`.

It listens on `<address>` (127.0.0.1 unless given), with TLS when given a certificate and its key, and answers as the
mode file says when each request comes: `ok` (204), `fail` (500) or `slow` (204 after `SLOW_S`, longer than the
tests' delivery timeout). Every request is appended to the log file as a JSON line: the status it answered (0 when
too late), the `Host` it was sent to, the Standard Webhooks headers and the body, for the test to verify."""

import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SLOW_S = 2.0
HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def main() -> None:
    port, mode_file, log_file = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    address = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keeps a connection open for the next request unless the client closes it

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            mode = mode_file.read_text().strip()
            status = 500 if mode == "fail" else 204
            record = {
                "status": 0 if mode == "slow" else status,  # 0: answered too late to count
                "mode": mode,
                "host": self.headers["host"],
                "headers": {name: self.headers[name] for name in HEADERS},
                "body": body.decode(),
            }
            with lock, log_file.open("a") as log:
                log.write(json.dumps(record) + "\n")
            if mode == "slow":
                time.sleep(SLOW_S)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((address, port), Handler)
    if len(sys.argv) > 6:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(sys.argv[5], sys.argv[6])
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
