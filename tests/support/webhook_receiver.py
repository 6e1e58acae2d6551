#!/usr/bin/env python3
"""A webhook receiver for the integration tests: a real HTTP server in its own process that checks
every delivery with the reference Standard Webhooks library (PyPI `standardwebhooks`), not with
Gatehouse's own code.

    python3 webhook_receiver.py        prints "listening <port>" and serves on 127.0.0.1

Paths decide the answer:
    /ok                 200
    /status/<code>      that status (e.g. /status/410, /status/500)
    /retry-after/<s>    503 with Retry-After: <s>
    /redirect           302 to /ok (must not be followed)
    /slow/<ms>          waits, then 200
    /big                200 with a 200 KB body (must be read only up to the cap)
Control:
    POST /control/secrets   body: JSON list of secrets to verify with (replaces the list)
    GET  /control/received  JSON list of deliveries: path, webhook-id, timestamp, signature header,
                            body, and `verified` (one boolean per secret, in order)
    GET  /control/summary   {"total", "unique_ids", "duplicates", "unverified"}
    POST /control/reset     forgets everything received
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

LOCK = threading.Lock()
SECRETS = []
RECEIVED = []


def verify_all(body, headers):
    results = []
    for secret in SECRETS:
        try:
            Webhook(secret).verify(body, headers)
            results.append(True)
        except Exception:  # the library raises WebhookVerificationError on any mismatch
            results.append(False)
    return results


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with LOCK:
            if self.path == "/control/received":
                return self.reply(200, json.dumps(RECEIVED).encode(), [("Content-Type", "application/json")])
            if self.path == "/control/summary":
                ids = [r["webhook_id"] for r in RECEIVED]
                summary = {
                    "total": len(ids),
                    "unique_ids": len(set(ids)),
                    "duplicates": len(ids) - len(set(ids)),
                    "unverified": sum(1 for r in RECEIVED if SECRETS and not any(r["verified"])),
                }
                return self.reply(200, json.dumps(summary).encode(), [("Content-Type", "application/json")])
        self.reply(404)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        global SECRETS, RECEIVED
        if self.path == "/control/secrets":
            with LOCK:
                SECRETS = json.loads(body)
            return self.reply(204)
        if self.path == "/control/reset":
            with LOCK:
                RECEIVED = []
            return self.reply(204)
        headers = {k.lower(): v for k, v in self.headers.items()}
        with LOCK:
            RECEIVED.append({
                "path": self.path,
                "webhook_id": headers.get("webhook-id"),
                "timestamp": headers.get("webhook-timestamp"),
                "signature": headers.get("webhook-signature"),
                "user_agent": headers.get("user-agent"),
                "body": body.decode("utf-8", "replace"),
                "verified": verify_all(body, headers),
            })
        parts = self.path.strip("/").split("/")
        if parts[0] == "status":
            return self.reply(int(parts[1]), b"status as asked")
        if parts[0] == "retry-after":
            return self.reply(503, b"busy", [("Retry-After", parts[1])])
        if parts[0] == "redirect":
            return self.reply(302, b"", [("Location", "/ok")])
        if parts[0] == "slow":
            time.sleep(int(parts[1]) / 1000)
            return self.reply(200, b"slow ok")
        if parts[0] == "big":
            return self.reply(200, b"x" * 200_000)
        self.reply(200, b"ok")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A sender killed mid-request (the SIGKILL test) resets its connections: not an error here.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
