#!/usr/bin/python3
"""Check a Traefik configuration before the running edge reads it (role: traefik).

Traefik has no --check flag, and a bad dynamic file does not stop it: it drops the file or the
router and keeps answering ping. So this starts a throwaway Traefik with the candidate files:
every entry point moved to a free loopback port, the API on one more (to read what Traefik
made of the routers), ACME pointed at an unreachable server with its store in a temporary
directory, the log in a file. Files the dynamic configuration names at their live paths (the
users file, the certificate pair) are read from their staged copies instead (--stage
LIVE=STAGED), so the check sees what the edge will see once they are installed. It fails (exit
1, naming the problem) when Traefik exits, logs anything at error level or worse (only the
resolver's failure to reach the unreachable ACME server is expected), reports a router,
service or middleware it disabled, has not loaded every router of the dynamic file, or has not
answered ping, all within the deadline. Exit 2: bad arguments.
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
UNREACHABLE_HOST = "127.0.0.1:9"
UNREACHABLE_ACME = f"https://{UNREACHABLE_HOST}/directory"


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


def _unreachable_acme(record):
    """The one expected error: a resolver failing to reach the server the check points it
    at (a resolver named `acme` must not hide any other error)."""
    return UNREACHABLE_HOST in json.dumps(record)


def stage(dynamic_text, pairs):
    """The dynamic file with each LIVE path replaced by its STAGED copy."""
    for pair in pairs:
        live, sep, staged = pair.partition("=")
        if not sep or not live or not staged:
            raise ValueError(f"--stage {pair!r}: expected LIVE=STAGED")
        if not os.path.isfile(staged):
            raise ValueError(f"--stage {pair!r}: {staged} is not a file")
        dynamic_text = dynamic_text.replace(live, staged)
    return dynamic_text


def routers_missing(api_port, expected):
    """Names of the dynamic file's routers Traefik has not loaded yet."""
    loaded = {item.get("name", "").split("@", 1)[0]
              for item in get_json(api_port, "/api/http/routers")}
    return sorted(set(expected) - loaded)


def log_problems(workdir):
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
        if rec.get("level") in BAD_LEVELS and not _unreachable_acme(rec):
            out.append(f"log: {line.strip()}")
    return out


def problems_in(workdir, api_port):
    out = log_problems(workdir)
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
    parser.add_argument("--stage", action="append", default=[], metavar="LIVE=STAGED",
                        help="read the file the dynamic configuration names at LIVE from STAGED")
    args = parser.parse_args()
    try:
        with open(args.static, encoding="utf-8") as f:
            static = yaml.safe_load(f)
        with open(args.dynamic, encoding="utf-8") as f:
            dynamic_text = stage(f.read(), args.stage)
        dynamic = yaml.safe_load(dynamic_text)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (OSError, yaml.YAMLError) as exc:
        print(f"not readable as YAML: {exc}", file=sys.stderr)
        return 1
    if not isinstance(static, dict) or not isinstance(dynamic, dict):
        print(f"{args.static} or {args.dynamic}: not a mapping", file=sys.stderr)
        return 1
    expected = sorted((dynamic.get("http") or {}).get("routers") or {})
    # /tmp itself: a per-user TMPDIR (pam_tmpdir) is closed to the traefik user.
    workdir = tempfile.mkdtemp(prefix="traefik-check-", dir="/tmp")
    process = None
    try:
        dynamic_path = os.path.join(workdir, "dynamic.yml")
        with open(dynamic_path, "w", encoding="utf-8") as f:
            f.write(dynamic_text)
        static, ping_port, api_port = throwaway_static(static, dynamic_path, workdir)
        config = os.path.join(workdir, "traefik.yml")
        with open(config, "w", encoding="utf-8") as f:
            yaml.safe_dump(static, f)
        kwargs = {}
        if args.user:
            pw = pwd.getpwnam(args.user)
            for path in (workdir, config, dynamic_path):
                os.chown(path, pw.pw_uid, pw.pw_gid)
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
        # The file provider's configuration reaches the routers: wait for every one of them
        # (an empty list after a fixed pause would pass a file Traefik never loaded).
        while True:
            missing = routers_missing(api_port, expected)
            if not missing:
                break
            logged = log_problems(workdir)
            if logged or time.monotonic() > deadline:
                print("\n".join(logged) if logged else
                      f"routers not loaded within {DEADLINE_S}s: {', '.join(missing)}",
                      file=sys.stderr)
                return 1
            time.sleep(0.2)
        time.sleep(SETTLE_S)  # late errors (middlewares, TLS stores) reach the log
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
