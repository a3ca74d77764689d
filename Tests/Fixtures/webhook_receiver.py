#!/usr/bin/env python3
"""A webhook receiver for rigd's notification tests: records every POST as one JSON line.

usage: webhook_receiver.py OUT_FILE [FAIL_FIRST]

Listens on 127.0.0.1 on a free port and prints "listening PORT". Each POST is appended to OUT_FILE as
{"path": ..., "headers": {...}, "body": "..."}; the first FAIL_FIRST requests to each path are answered 500 (to see
rigd retry), the rest 200.
"""
import http.server
import json
import sys
import threading

out_file = sys.argv[1]
fail_first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
seen = {}
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        with lock:
            seen[self.path] = seen.get(self.path, 0) + 1
            failing = seen[self.path] <= fail_first
            with open(out_file, "a", encoding="utf-8") as f:
                f.write(json.dumps({"path": self.path, "headers": dict(self.headers), "body": body,
                                    "answered": 500 if failing else 200}) + "\n")
        self.send_response(500 if failing else 200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"failing on purpose" if failing else b"ok")

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
