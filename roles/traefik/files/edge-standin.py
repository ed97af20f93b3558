#!/usr/bin/python3
"""Lab stand-in for a service the edge routes to (role: traefik, tasks_from: standin).

    edge-standin NAME ADDRESS PORT HEALTH_PATH...

Answers 200 {"status": "ok"} on the health paths and echoes every other request as JSON
(service, method, path, Host, X-Forwarded-For, header names), so a probe sees what reached it.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    name, address, port, *health = sys.argv[1:]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

        def _answer(self):
            path = self.path.split("?", 1)[0]
            if path in health:
                body = {"status": "ok", "service": name}
            else:
                body = {"service": name, "method": self.command, "path": self.path,
                        "host": self.headers.get("Host"),
                        "x_forwarded_for": self.headers.get("X-Forwarded-For"),
                        "headers": sorted(self.headers.keys())}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = _answer

    ThreadingHTTPServer((address, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
