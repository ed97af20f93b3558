"""Load through the edge (the real Traefik, generated dev configuration) against the same
stand-in upstream served directly, in one run; and the rate limiter's accuracy (issue 15, 4).

    .venv/bin/python benchmarks/edge_load.py [--rates 100,500,1000] [--seconds 10] [--rounds 10]
        [--json F]

The edge is tests/edge/harness.py's `running_edge` (Traefik from .venv/bin/traefik, the static
and dynamic files `infra/edge/traefik.py` generates for the dev stack, loopback ports, a local
CA's certificate, the harness's stand-in upstreams), started by benchmarks/edge_serve.py in a
process of its own so the stand-ins do not share this client's interpreter lock.

For each offered rate: (a) HTTPS to the websecure entry point with the public API host as SNI
and Host (every middleware of the api-gateway router: headers, CORS, rate limit, in-flight
limit; the access log on), (b) plain HTTP to the stand-in gateway itself, taking turns in
--rounds slices of --seconds/--rounds each (so both meet the same background load). The
generator is open loop: request i is due at start + i/rate whatever happened before, and its
latency runs from that due time to the last byte of the answer, so a stall is charged to every
request it delays (no coordinated omission). Requests go round-robin over enough client
addresses in 127/8 (the socket is bound to each; all of 127/8 is local on Linux) that each
sends at most half the configured per-IP average, over keep-alive connections (a few per
address). An error is an answer other than 2xx, a connection failure or no answer within
--timeout.

The limiter: one address offers --limit-rate req/s for --seconds; the allowed rate is the 2xx
answers sent after the first 429 (the burst spent) per second, against the configured average;
outside +/-10 % the benchmark exits 1.

CPU per component (Traefik, the stand-ins' process, this client) comes from /proc, so a client
or upstream that runs out of CPU shows: the direct run is the baseline that exposes it.
Targets (reported, not asserted): 1,000 req/s through the edge at p99 < 500 ms with < 0.1 %
errors; edge p99 <= 2x direct p99. Bounded: each measurement <= 15 s, loopback only; the edge
process is stopped through its stdin and then by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import ipaddress
import json
import math
import os
import platform
import ssl
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
MAX_MEASURE_S = 15.0
LIMITER_TOLERANCE = 0.10
TARGET_RATE = 1000
TARGET_P99_MS = 500.0
TARGET_ERROR_RATE = 0.001
TARGET_OVERHEAD = 2.0
# Client addresses: each phase draws from its own /24, so no phase spends another's buckets.
LOAD_NET = "127.0.{block}.0/24"
LIMITER_SOURCE = "127.0.200.1"
CONNECTIONS_PER_SOURCE = 2
PATHS = ("direct", "edge")
LIMITER_CONNECTIONS = 4
CLK_TCK = os.sysconf("SC_CLK_TCK")
NPROC = os.cpu_count() or 1
COMPONENTS = ("traefik", "upstream", "client", "others")


# -- the client: a minimal HTTP/1.1 keep-alive connection -----------------------------------

class Connection:
    """One keep-alive connection from `source`; (re)connects on first use after a failure."""

    def __init__(self, port: int, host: str, source: str, context: ssl.SSLContext | None):
        self.port, self.host, self.source, self.context = port, host, source, context
        self.request = (f"GET /edge-load HTTP/1.1\r\nHost: {host}\r\n"
                        "User-Agent: rampart-edge-load\r\nAccept: */*\r\n\r\n").encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            LOOPBACK, self.port, ssl=self.context,
            server_hostname=self.host if self.context else None,
            local_addr=(self.source, 0))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def get(self) -> int:
        """One GET; the status code. Raises on a broken connection."""
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)}
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status


@dataclass
class Sample:
    due: float
    started: float  # when the request task ran (its lag behind `due` is the client's own)
    sent: float
    done: float
    status: int  # 0: connection error or timeout


async def _one(pool: asyncio.Queue[Connection], due: float, timeout: float,
               samples: list[Sample]) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    conn = await pool.get()
    sent = loop.time()
    try:
        status = await asyncio.wait_for(conn.get(), timeout)
    except (OSError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
            TimeoutError, ValueError, IndexError):
        conn.close()
        status = 0
    finally:
        pool.put_nowait(conn)
    samples.append(Sample(due, started, sent, loop.time(), status))


async def _pools(sources: list[str], per_source: int, port: int, host: str,
                 context: ssl.SSLContext | None) -> dict[str, asyncio.Queue[Connection]]:
    pools: dict[str, asyncio.Queue[Connection]] = {}
    opening = []
    for source in sources:
        pools[source] = asyncio.Queue()
        for _ in range(per_source):
            conn = Connection(port, host, source, context)
            opening.append(conn.open())
            pools[source].put_nowait(conn)
    await asyncio.gather(*opening)  # handshakes before the clock starts
    return pools


async def _schedule(pools: dict[str, asyncio.Queue[Connection]], rate: float, seconds: float,
                    timeout: float) -> tuple[list[Sample], float]:
    """Open loop: request i due at start + i/rate, round-robin over the sources."""
    loop = asyncio.get_running_loop()
    samples: list[Sample] = []
    sources = list(pools)
    tasks = []
    start = loop.time() + 0.05
    for i in range(int(rate * seconds)):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(
            _one(pools[sources[i % len(sources)]], due, timeout, samples)))
    await asyncio.gather(*tasks)
    return samples, start


# -- figures ------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of `values` (q in 0..100)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (threads included) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine from /proc/stat (guest time is already in
    user and nice, so the fields after steal are left out)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class Phase:
    path: str  # "edge" | "direct" | "limiter"
    offered_rps: float
    seconds: float
    sources: int
    connections: int
    requests: int = 0
    ok: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    achieved_rps: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    error_rate: float = 0.0
    client_lag_p99_ms: float = 0.0  # due -> the request task running: the client's own delay
    slice_p99_ms: list[float] = field(default_factory=list)  # per slice, in round order
    cpu_cores: dict[str, float] = field(default_factory=dict)
    machine_busy: float = 0.0


@dataclass
class Slices:
    """The samples and resource use of one path's slices at one rate."""

    samples: list[Sample] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    span_s: float = 0.0  # sum over slices: first due time to last answer
    slice_p99_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    busy: int = 0
    total: int = 0


def summarise(phase: Phase, acc: Slices) -> Phase:
    samples = acc.samples
    latencies = [(s.done - s.due) * 1000 for s in samples]
    phase.requests = len(samples)
    phase.ok = sum(1 for s in samples if 200 <= s.status < 300)
    phase.errors = phase.requests - phase.ok
    phase.error_rate = phase.errors / phase.requests if phase.requests else math.nan
    for s in samples:
        key = str(s.status) if s.status else "connection/timeout"
        phase.statuses[key] = phase.statuses.get(key, 0) + 1
    phase.achieved_rps = phase.ok / acc.span_s
    phase.p50_ms, phase.p95_ms, phase.p99_ms = (percentile(latencies, q) for q in (50, 95, 99))
    phase.max_ms = max(latencies)
    phase.slice_p99_ms = [round(v, 2) for v in acc.slice_p99_ms]
    phase.client_lag_p99_ms = percentile([(s.started - s.due) * 1000 for s in samples], 99)
    phase.cpu_cores = {name: round(cpu / acc.wall_s, 3) for name, cpu in acc.cpu_s.items()}
    phase.machine_busy = round(acc.busy / max(1, acc.total), 3)
    # What the rest of the machine (other jobs) took meanwhile, in cores.
    phase.cpu_cores["others"] = round(
        max(0.0, phase.machine_busy * NPROC - sum(phase.cpu_cores.values())), 3)
    return phase


def sources_for(rate: float, average: float, block: int) -> list[str]:
    """Enough client addresses that each offers at most half the per-IP average."""
    count = max(1, math.ceil(rate / (average / 2)))
    net = ipaddress.ip_network(LOAD_NET.format(block=block))
    if count > net.num_addresses - 2:
        raise SystemExit(f"{rate} req/s needs {count} client addresses; one /24 holds 254")
    return [str(net.network_address + 1 + i) for i in range(count)]


# -- the run --------------------------------------------------------------------------------------

class Bench:
    def __init__(self, info: dict[str, Any], timeout: float, pids: dict[str, int]):
        self.info, self.timeout, self.pids = info, timeout, pids
        self.tls = ssl.create_default_context(cafile=info["ca_file"])

    async def open(self, path: str, sources: list[str], per_source: int
                   ) -> dict[str, asyncio.Queue[Connection]]:
        if path == "direct":
            return await _pools(sources, per_source, self.info["upstream_port"],
                                self.info["host"], None)
        # "edge" and "limiter" go through Traefik's websecure entry point.
        return await _pools(sources, per_source, self.info["websecure_port"],
                            self.info["host"], self.tls)

    @staticmethod
    def close(pools: dict[str, asyncio.Queue[Connection]]) -> None:
        for pool in pools.values():
            while not pool.empty():
                pool.get_nowait().close()

    async def slice(self, pools: dict[str, asyncio.Queue[Connection]], rate: float,
                    seconds: float, acc: Slices) -> None:
        """One open-loop slice; its samples and CPU added to `acc`."""
        gc.collect()
        gc.disable()  # no collector pauses in the client while measuring
        try:
            cpu = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
            busy, total = machine_busy()
            wall = time.monotonic()
            samples, start = await _schedule(pools, rate, seconds, self.timeout)
            acc.wall_s += time.monotonic() - wall
            busy1, total1 = machine_busy()
            for name, pid in self.pids.items():
                acc.cpu_s[name] = acc.cpu_s.get(name, 0.0) + cpu_seconds(pid) - cpu[name]
        finally:
            gc.enable()
        acc.busy += busy1 - busy
        acc.total += total1 - total
        acc.samples.extend(samples)
        acc.starts.append(start)
        acc.span_s += max(s.done for s in samples) - start
        acc.slice_p99_ms.append(percentile([(s.done - s.due) * 1000 for s in samples], 99))


def limiter_rate(samples: list[Sample], start: float, seconds: float) -> dict[str, Any]:
    """2xx per second sent from the first 429 (the burst spent) to the end of the offer."""
    refused = [s.sent for s in samples if s.status == 429]
    if not refused:
        return {"allowed_rps": None, "note": "no 429: the limiter never refused"}
    first, end = min(refused), start + seconds
    after = [s for s in samples if first <= s.sent < end]
    ok_after = sum(1 for s in after if 200 <= s.status < 300)
    ok_before = sum(1 for s in samples if s.sent < first and 200 <= s.status < 300)
    return {"allowed_rps": ok_after / (end - first), "window_s": end - first,
            "ok_before_first_429": ok_before, "ok_after": ok_after,
            "refused": len(refused),
            "other": sum(1 for s in samples if s.status not in (429,) and
                         not 200 <= s.status < 300)}


def start_edge() -> tuple[subprocess.Popen[str], dict[str, Any]]:
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "tests"),
                                                       os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("edge_serve.py"))],
                            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the harness gives up on a start within 20 s
    if not line:
        stop_edge(proc)
        raise SystemExit(f"the edge did not start (exit {proc.returncode})")
    return proc, json.loads(line)


def stop_edge(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """Close stdin (edge_serve stops Traefik by PID and reports); kill by PID if it hangs."""
    last: dict[str, Any] = {}
    try:
        out, _ = proc.communicate(timeout=30)
        lines = [line for line in out.splitlines() if line.strip()]
        if lines:
            last = json.loads(lines[-1])
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    return last


def verdicts(phases: list[Phase], limiter: dict[str, Any], average: float) -> dict[str, Any]:
    by = {(p.path, p.offered_rps): p for p in phases}
    edge, direct = by.get(("edge", TARGET_RATE)), by.get(("direct", TARGET_RATE))
    out: dict[str, Any] = {}
    if edge is not None:
        out["edge_1000_p99_under_500ms"] = edge.p99_ms < TARGET_P99_MS
        out["edge_1000_errors_under_0.1pct"] = edge.error_rate < TARGET_ERROR_RATE
    if edge is not None and direct is not None:
        out["overhead_p99_ratio"] = round(edge.p99_ms / direct.p99_ms, 2)
        out["overhead_p99_at_most_2x"] = edge.p99_ms <= TARGET_OVERHEAD * direct.p99_ms
        # Paired by round (direct and edge slices back to back): less exposed to a burst of
        # other load that falls on one path's slices only.
        out["overhead_p99_ratio_median_of_rounds"] = round(statistics.median(
            e / d for e, d in zip(edge.slice_p99_ms, direct.slice_p99_ms, strict=True)), 2)
        out["overhead_p50_ms"] = round(edge.p50_ms - direct.p50_ms, 2)
    allowed = limiter.get("allowed_rps")
    if allowed is None:
        out["limiter_error"], out["limiter_within_10pct"] = None, False
    else:
        out["limiter_error"] = round((allowed - average) / average, 4)
        out["limiter_within_10pct"] = abs(allowed - average) <= LIMITER_TOLERANCE * average
    return out


def table(phases: list[Phase]) -> str:
    head = ("path     offered  sources  achieved   p50 ms   p95 ms   p99 ms   max ms  errors    "
            "lag99 ms  cores traefik/upstream/client/others  busy")
    rows = [head, "-" * len(head)]
    for p in phases:
        cpu = "/".join(f"{p.cpu_cores.get(k, 0):.2f}" for k in COMPONENTS)
        rows.append(f"{p.path:<8} {p.offered_rps:>7.0f}  {p.sources:>7}  {p.achieved_rps:>8.1f} "
                    f"{p.p50_ms:>8.2f} {p.p95_ms:>8.2f} {p.p99_ms:>8.2f} {p.max_ms:>8.1f}  "
                    f"{p.error_rate * 100:>6.3f}%  {p.client_lag_p99_ms:>8.2f}  "
                    f"{cpu:>33}  {p.machine_busy:>4.2f}")
    return "\n".join(rows)


async def run(args: argparse.Namespace, info: dict[str, Any], pids: dict[str, int]
              ) -> tuple[list[Phase], dict[str, Any]]:
    bench = Bench(info, args.timeout, pids)
    average = float(info["rate_average"])
    phases: list[Phase] = []
    for block, rate in enumerate(args.rates, start=1):
        # Edge and direct use different /24s: the edge's addresses have buckets of their own.
        sources = {path: sources_for(rate, average, block * 2 + (path == "edge"))
                   for path in PATHS}
        pools = {path: await bench.open(path, sources[path], CONNECTIONS_PER_SOURCE)
                 for path in PATHS}
        acc = {path: Slices() for path in PATHS}
        try:
            for path in PATHS:
                if args.warmup:
                    await bench.slice(pools[path], rate, args.warmup, Slices())
            # Direct and edge take turns in short slices (the order flips each round), so a
            # change in the rest of the machine's load meets both alike.
            for round_ in range(args.rounds):
                for path in PATHS if round_ % 2 == 0 else PATHS[::-1]:
                    await bench.slice(pools[path], rate, args.seconds / args.rounds, acc[path])
        finally:
            for pool in pools.values():
                bench.close(pool)
        for path in PATHS:
            phase = summarise(Phase(path, rate, args.seconds, len(sources[path]),
                                    len(sources[path]) * CONNECTIONS_PER_SOURCE), acc[path])
            phases.append(phase)
            print(f"{path:>6} {rate:>5} req/s: achieved {phase.achieved_rps:.1f}, p99 "
                  f"{phase.p99_ms:.2f} ms, errors {phase.errors}/{phase.requests}, "
                  f"cores {phase.cpu_cores}", flush=True)
    one = await bench.open("limiter", [LIMITER_SOURCE], LIMITER_CONNECTIONS)
    limited = Slices()
    try:
        await bench.slice(one, args.limit_rate, args.seconds, limited)
    finally:
        bench.close(one)
    phases.append(summarise(Phase("limiter", args.limit_rate, args.seconds, 1,
                                  LIMITER_CONNECTIONS), limited))
    limiter = limiter_rate(limited.samples, limited.starts[0], args.seconds)
    limiter["configured_rps"] = average
    limiter["burst"] = info["rate_burst"]
    allowed = limiter["allowed_rps"]
    print(f"limiter: offered {args.limit_rate:.0f}/s from {LIMITER_SOURCE}; allowed "
          f"{'no 429' if allowed is None else f'{allowed:.1f}/s'} after the burst "
          f"(configured {average:.0f}/s)", flush=True)
    return phases, limiter


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="100,500,1000",
                        type=lambda s: [int(r) for r in s.split(",")])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=10,
                        help="slices per path and rate, direct and edge taking turns")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--limit-rate", type=float, default=300.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.seconds + args.warmup > MAX_MEASURE_S:
        parser.error(f"a measurement is bounded to {MAX_MEASURE_S:.0f} s (seconds + warmup)")

    load_before = os.getloadavg()
    proc, info = start_edge()
    pids = {"traefik": info["traefik_pid"], "upstream": info["upstream_pid"],
            "client": os.getpid()}
    if info["rate_period"] != "1s":
        stop_edge(proc)
        raise SystemExit(f"the rate limit's period is {info['rate_period']}, expected 1s")
    wall = time.monotonic()
    try:
        phases, limiter = asyncio.run(run(args, info, pids))
    finally:
        final = stop_edge(proc)
    judged = verdicts(phases, limiter, float(info["rate_average"]))
    summary = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"nproc": NPROC, "loadavg_before": load_before,
                    "loadavg_after": os.getloadavg(), "python": platform.python_version(),
                    "kernel": platform.release()},
        "edge": {k: info[k] for k in ("stack", "traefik_version", "host", "rate_average",
                                      "rate_burst", "rate_period", "inflight_requests")},
        "wall_s": round(time.monotonic() - wall, 1),
        "phases": [asdict(p) for p in phases],
        "limiter": limiter,
        "verdicts": judged,
        "traefik_problems": final.get("traefik_problems"),
        "upstream_received": final.get("upstream_received"),
    }
    print()
    print(table(phases))
    print(json.dumps({"limiter": limiter, "verdicts": judged, "machine": summary["machine"],
                      "traefik_problems": final.get("traefik_problems")}, indent=2, default=str))
    if final.get("traefik_problems"):
        print("WARNING: Traefik logged errors during the run (above): the figures are suspect")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return 0 if judged["limiter_within_10pct"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
