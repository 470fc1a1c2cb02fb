"""A webhook receiver process for tests: `python receiver.py <port> <mode file> <log file> [<address> [<cert> <key>]]`.

It listens on `<address>` (127.0.0.1 unless given), with TLS when given a certificate and its key, and answers as the
mode file says when each request comes: `ok` (204), `fail` (500), `slow` (204 after `SLOW_S`, longer than the
tests' delivery timeout), `hold` (204 after `HOLD_S`, well inside the timeout: a delivery stays in flight a while),
`wait` (204 once the mode file says something else: the test lets the request go), `cookie` (204 setting a cookie)
or `redirect <status> <url>` (that status, `Location: <url>`). Every request (of any method: a redirect followed as
a GET would come as one) is appended to the log file as a JSON line: the status it answered (0 when too late), the
method, how many requests were in flight when it came (itself included), the `Host` it was sent to, the `Cookie` it
carried, the Standard Webhooks headers and the body, for the test to verify."""

import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SLOW_S = 2.0
HOLD_S = 0.2
WAIT_MAX_S = 60.0  # a hang guard: a test that never lets a waiting request go still ends
HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def main() -> None:
    port, mode_file, log_file = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    address = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"
    lock = threading.Lock()
    counts = {"in_flight": 0, "requests": 0}

    def read_mode() -> list[str]:
        return mode_file.read_text().split() or ["ok"]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keeps a connection open for the next request unless the client closes it

        def do_POST(self) -> None:
            self.answer()

        def do_GET(self) -> None:
            self.answer()

        def answer(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"] or 0))
            mode, *arguments = read_mode()
            status = 500 if mode == "fail" else int(arguments[0]) if mode == "redirect" else 204
            with lock:
                counts["in_flight"] += 1
                counts["requests"] += 1
                number = counts["requests"]
                record = {
                    "status": 0 if mode == "slow" else status,  # 0: answered too late to count
                    "mode": mode,
                    "method": self.command,
                    "in_flight": counts["in_flight"],
                    "host": self.headers["host"],
                    "cookie": self.headers["cookie"],
                    "headers": {name: self.headers[name] for name in HEADERS},
                    "body": body.decode(),
                }
                with log_file.open("a") as log:
                    log.write(json.dumps(record) + "\n")
            try:
                if mode == "slow":
                    time.sleep(SLOW_S)
                elif mode == "hold":
                    time.sleep(HOLD_S)
                elif mode == "wait":
                    deadline = time.monotonic() + WAIT_MAX_S
                    while read_mode()[0] == "wait" and time.monotonic() < deadline:
                        time.sleep(0.02)
            finally:
                with lock:  # no longer in flight once it is answered (before the answer leaves, never after)
                    counts["in_flight"] -= 1
            self.send_response(status)
            if mode == "redirect":
                self.send_header("location", arguments[1])
            if mode == "cookie":
                self.send_header("set-cookie", f"receiver_session={number}; Path=/")
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
