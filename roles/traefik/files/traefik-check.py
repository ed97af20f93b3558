#!/usr/bin/python3
"""Check a Traefik configuration before the running edge reads it (role: traefik).

Traefik has no --check flag, and a bad dynamic file does not stop it: it drops the file or the
router and keeps answering ping. So this starts a throwaway Traefik with the candidate files:
every entry point moved to a free loopback port, the API on one more (to read what Traefik
made of the routers), ACME pointed at an unreachable server with its store in a temporary
directory, the log in a file. It fails (exit 1, naming the problem) when Traefik exits, logs
anything at error level or worse (ACME traffic aside), reports a router, service or middleware
it disabled, or has not answered ping within the deadline. Exit 2: bad arguments.
"""

import argparse
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

DEADLINE_S = 20
SETTLE_S = 1.5
BAD_LEVELS = {"error", "fatal", "panic"}
UNREACHABLE_ACME = "https://127.0.0.1:9/directory"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def throwaway_static(static, dynamic_path, workdir):
    """The candidate static configuration on loopback ports; returns (config, ping, api)."""
    entry_points = static.get("entryPoints") or {}
    for entry in entry_points.values():
        entry["address"] = f"127.0.0.1:{free_port()}"
    api_port = free_port()
    entry_points["traefik"] = {"address": f"127.0.0.1:{api_port}"}
    static["entryPoints"] = entry_points
    static["api"] = {"insecure": True, "dashboard": False}
    static["providers"] = {"file": {"filename": dynamic_path, "watch": False}}
    for resolver in (static.get("certificatesResolvers") or {}).values():
        acme = resolver.get("acme")
        if acme is not None:
            acme["caServer"] = UNREACHABLE_ACME
            acme["storage"] = os.path.join(workdir, "acme.json")
    static["log"] = {"level": "INFO", "format": "json",
                     "filePath": os.path.join(workdir, "traefik.log")}
    static.pop("accessLog", None)
    ping_ep = (static.get("ping") or {}).get("entryPoint", "traefik")
    ping_port = int(entry_points[ping_ep]["address"].rsplit(":", 1)[1])
    return static, ping_port, api_port


def get_json(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
        return json.load(r)


def problems_in(workdir, api_port):
    out = []
    log = os.path.join(workdir, "traefik.log")
    lines = []
    if os.path.exists(log):
        with open(log, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            out.append(f"log line is not JSON: {line.strip()}")
            continue
        text = json.dumps(rec).lower()
        if rec.get("level") in BAD_LEVELS and "acme" not in text:
            out.append(f"log: {line.strip()}")
    for kind in ("routers", "services", "middlewares"):
        for item in get_json(api_port, f"/api/http/{kind}"):
            if item.get("status") not in ("enabled", None) or item.get("error"):
                out.append(f"{kind[:-1]} {item.get('name')}: {item.get('status')} "
                           f"{item.get('error')}")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--static", required=True)
    parser.add_argument("--dynamic", required=True)
    parser.add_argument("--user", default="")
    args = parser.parse_args()
    try:
        with open(args.static, encoding="utf-8") as f:
            static = yaml.safe_load(f)
        with open(args.dynamic, encoding="utf-8") as f:
            yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as exc:
        print(f"not readable as YAML: {exc}", file=sys.stderr)
        return 1
    if not isinstance(static, dict):
        print(f"{args.static}: not a mapping", file=sys.stderr)
        return 1
    # /tmp itself: a per-user TMPDIR (pam_tmpdir) is closed to the traefik user.
    workdir = tempfile.mkdtemp(prefix="traefik-check-", dir="/tmp")
    process = None
    try:
        static, ping_port, api_port = throwaway_static(
            static, os.path.abspath(args.dynamic), workdir)
        config = os.path.join(workdir, "traefik.yml")
        with open(config, "w", encoding="utf-8") as f:
            yaml.safe_dump(static, f)
        kwargs = {}
        if args.user:
            pw = pwd.getpwnam(args.user)
            os.chown(workdir, pw.pw_uid, pw.pw_gid)
            os.chown(config, pw.pw_uid, pw.pw_gid)
            kwargs = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        process = subprocess.Popen([args.binary, f"--configFile={config}"], cwd=workdir,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, **kwargs)
        deadline = time.monotonic() + DEADLINE_S
        while True:
            if process.poll() is not None:
                out = process.stdout.read().decode(errors="replace") if process.stdout else ""
                print(f"Traefik exited {process.returncode}: {out.strip()}", file=sys.stderr)
                return 1
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ping_port}/ping", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    print(f"no ping within {DEADLINE_S}s", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        time.sleep(SETTLE_S)  # the file provider's configuration reaches the routers
        problems = problems_in(workdir, api_port)
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1
        print(f"ok: {args.static} + {args.dynamic}")
        return 0
    finally:
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
