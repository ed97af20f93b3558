"""Probe a running edge as a client meets it and print the table (`make demo`'s "edge
probes" step; the probes are infra/edge/probes.py).

    python -m infra.cli.edge_probes --stack dev --address 10.77.0.11 --ca CA.crt \
        [--password-file F] [--admin-user U] [--expect-internal-closed | --internal-port N]
        [--https-port N] [--http-port N] [--json OUT]

Exit 0: every probe answered as expected; 1: at least one did not; 2: bad input.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from infra.edge import traefik
from infra.edge.probes import ADMIN_USER, Target, run, table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.cli.edge_probes",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--address", required=True, help="the edge's IP address")
    parser.add_argument("--ca", required=True, type=Path, help="CA file the edge's cert chains to")
    parser.add_argument("--https-port", type=int, default=traefik.WEBSECURE_PORT)
    parser.add_argument("--http-port", type=int, default=traefik.WEB_PORT)
    parser.add_argument("--password-file", type=Path, help="the admin user's password")
    parser.add_argument("--admin-user", default=ADMIN_USER)
    parser.add_argument("--internal-port", type=int,
                        help="probe that this port (metrics, ping) is closed to this client")
    parser.add_argument("--expect-internal-closed", action="store_true",
                        help="the same for the stack's Traefik metrics port")
    parser.add_argument("--json", type=Path, help="write the probes as JSON here")
    args = parser.parse_args(argv)
    from rich.console import Console

    from infra.cli.edge_config import platform_of

    try:
        platform = platform_of(args.stack)
        password = (args.password_file.read_text().strip()
                    if args.password_file is not None else None)
        if not args.ca.is_file():
            raise ValueError(f"{args.ca}: no such CA file")
        internal = (traefik.metrics_port(platform) if args.expect_internal_closed
                    else args.internal_port)
        target = Target(args.address, args.ca, args.https_port, args.http_port, password,
                        args.admin_user, internal)
        socket.inet_aton(args.address)
    except (ValueError, OSError, traefik.EdgeConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    probes = run(platform, target)
    Console().print(table(probes))
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(p) for p in probes], indent=2) + "\n",
                             encoding="utf-8")
    return 0 if all(p.ok for p in probes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
