"""The edge under load, in a process of its own: the real Traefik of tests/edge/harness.py with
the configuration `infra/edge/traefik.py` generates for a stack, in front of the harness's
stand-in upstreams.

    PYTHONPATH=tests .venv/bin/python benchmarks/edge_serve.py [--stack dev]

benchmarks/edge_load.py starts it (with tests/ on PYTHONPATH, so `edge.harness` is the tests'
own module, not a copy) and reads one JSON line from its stdout: the loopback ports, the public
host, the CA file, the stand-in gateway's URL, the PIDs to account CPU to, and the platform's
rate-limit figures. The stand-ins run here rather than in the load generator so that the client
and the upstream do not share one interpreter lock. Closing stdin stops Traefik (by PID, through
the harness) and the stand-ins; a last JSON line reports the Traefik log lines at error level.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from edge import harness as h  # tests/ on PYTHONPATH (set by edge_load.py)

from infra import program
from infra import stack as stacks
from infra.edge import traefik

PUBLIC_SERVICE = "api-gateway"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="dev")
    args = parser.parse_args()
    platform = program.platform_of(stacks.load(args.stack))
    settings = platform.edge
    version = subprocess.run([h.traefik_binary(), "version"], capture_output=True, text=True,
                             check=True).stdout.split()
    with tempfile.TemporaryDirectory(prefix="rampart-edge-load-") as tmp, \
            h.running_edge(args.stack, platform, Path(tmp), key_type=h.KEY_TYPES["dev"]) as edge:
        rate = edge.dynamic["http"]["middlewares"][traefik.MW_RATE]["rateLimit"]
        upstream = edge.upstreams[PUBLIC_SERVICE]
        print(json.dumps({
            "stack": args.stack,
            "traefik_version": version[version.index("Version:") + 1],
            "traefik_pid": edge.process.pid,
            "upstream_pid": os.getpid(),
            "websecure_port": edge.websecure_port,
            "host": edge.host(PUBLIC_SERVICE),
            "ca_file": str(edge.pki.ca_file),
            "upstream_port": upstream.server.server_address[1],
            "rate_average": settings.rate_average,
            "rate_burst": settings.rate_burst,
            "rate_period": rate["period"],
            "inflight_requests": settings.inflight_requests,
        }), flush=True)
        sys.stdin.read()  # until edge_load.py closes it (or exits)
        problems = edge.problems()
        received = len(upstream.records())
    print(json.dumps({"traefik_problems": problems[:20], "upstream_received": received}),
          flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
