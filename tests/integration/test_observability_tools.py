"""The generated files, judged by the real tools (Debian prometheus and
prometheus-alertmanager packages): promtool check config/rules, promtool test rules for every
alert, amtool check-config, and every dashboard query parsed as PromQL."""

from __future__ import annotations

import http.server
import json
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from observability.cases import render_test_files, rules_for_unit_tests
from observability.sample import sample_platform

from infra.model import DEFAULT_CATALOG, build_platform
from infra.observability import build_files, load_settings, to_yaml
from infra.observability.grafana import TEMPLATE_STANDINS, dashboard_queries

pytestmark = pytest.mark.integration

RUNBOOKS = "https://runbooks.test/rampart"
RECEIVERS = {
    "receivers": [
        {
            "name": "pager",
            "webhook": {"url": "https://pager.example.com/hook", "secret": "PAGER_TOKEN"},
        },
        {
            "name": "mail",
            "email": {
                "to": "ops@example.com",
                "from": "am@example.com",
                "smarthost": "smtp.example.com:587",
                "authUsername": "am",
                "secret": "SMTP_PASSWORD",
            },
        },
        {"name": "chat", "slack": {"channel": "#erp-alerts", "secret": "SLACK_WEBHOOK_URL"}},
    ],
    "routes": {"critical": ["pager", "chat"], "warning": ["mail"]},
}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} not found: apt-get install -y --no-install-recommends "
            "prometheus prometheus-alertmanager (scripts/system-deps.sh)"
        )
    return path


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def _write(files: dict[str, str], root: Path) -> Path:
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def catalog_files() -> dict[str, str]:
    return build_files(build_platform(DEFAULT_CATALOG), load_settings(None, RECEIVERS))


@pytest.fixture(scope="module")
def catalog_tree(tmp_path_factory: pytest.TempPathFactory, catalog_files) -> Path:
    return _write(catalog_files, tmp_path_factory.mktemp("observability"))


def test_promtool_accepts_prometheus_yml_and_its_rule_files(catalog_tree: Path) -> None:
    result = _run(
        _tool("promtool"), "check", "config", "prometheus/prometheus.yml", cwd=catalog_tree
    )
    assert result.returncode == 0, f"prometheus.yml rejected:\n{result.stdout}{result.stderr}"
    assert "SUCCESS" in result.stdout


RULE_STEMS = ["red", "services", "hosts", "data", "edge", "slo"]


@pytest.mark.parametrize("stem", RULE_STEMS)
def test_promtool_check_rules(catalog_tree: Path, stem: str) -> None:
    path = catalog_tree / "prometheus" / "rules" / f"{stem}.rules.yml"
    assert path.is_file(), f"{path.name} not generated"
    result = _run(_tool("promtool"), "check", "rules", str(path))
    assert result.returncode == 0, f"{path.name} rejected:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("receivers", [None, RECEIVERS], ids=["no-receivers", "all-kinds"])
def test_amtool_accepts_alertmanager_yml(tmp_path: Path, receivers) -> None:
    files = build_files(sample_platform(), load_settings(None, receivers))
    path = _write({"alertmanager.yml": files["alertmanager/alertmanager.yml"]}, tmp_path)
    result = _run(_tool("amtool"), "check-config", str(path / "alertmanager.yml"))
    assert result.returncode == 0, f"alertmanager.yml rejected:\n{result.stdout}{result.stderr}"


def _promtool_unit_tree(root: Path, alerts: dict | None = None) -> Path:
    """Rule files for the sample platform next to one promtool test file per rule file."""
    rules = root / "rules"
    rules.mkdir(parents=True)
    files = build_files(sample_platform(), load_settings(alerts, {"runbookBaseUrl": RUNBOOKS}))
    for rel, content in files.items():
        if rel.startswith("prometheus/rules/"):
            (rules / Path(rel).name).write_text(rules_for_unit_tests(content), encoding="utf-8")
    for stem, content in render_test_files(RUNBOOKS).items():
        (rules / f"{stem}.test.yml").write_text(content, encoding="utf-8")
    return rules


@pytest.fixture(scope="module")
def unit_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _promtool_unit_tree(tmp_path_factory.mktemp("promtool-unit"))


@pytest.mark.parametrize("stem", RULE_STEMS)
def test_promtool_unit_tests_pass(unit_tree: Path, stem: str) -> None:
    test_file = unit_tree / f"{stem}.test.yml"
    assert test_file.is_file(), f"no promtool test file for {stem}.rules.yml"
    result = _run(_tool("promtool"), "test", "rules", test_file.name, cwd=unit_tree)
    assert result.returncode == 0, f"{test_file.name}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize(
    "alerts,stem,failing",
    [
        ({"errorRatioCritical": 0.061}, "services", "ServiceHighErrorRate 6 % vs 5 %: fires"),
        (
            {"errorRatioCritical": 0.048},
            "services",
            "ServiceHighErrorRate 6 % vs 5 %: silent just below",
        ),
        ({"targetDownFor": "5m"}, "services", "TargetDown down for 2 m: fires"),
        ({"sloObjective": 0.998}, "slo", "ErrorBudgetBurn page"),
    ],
    ids=["threshold-raised", "threshold-lowered", "for-lengthened", "objective-changed"],
)
def test_promtool_cases_catch_a_drifted_threshold(
    tmp_path: Path, alerts: dict, stem: str, failing: str
) -> None:
    """The cases are written against the owners' figures: moving a threshold or a `for`
    must make the matching case fail (proves the tests can fail)."""
    rules = _promtool_unit_tree(tmp_path, alerts)
    result = _run(_tool("promtool"), "test", "rules", f"{stem}.test.yml", cwd=rules)
    output = result.stdout + result.stderr  # promtool prints failures on stderr
    assert result.returncode != 0, f"{alerts}: every promtool case still passes"
    assert failing in output, f"{alerts}: expected '{failing}' to fail:\n{output}"


def _standin(expr: str) -> str:
    for var, value in TEMPLATE_STANDINS.items():
        expr = expr.replace(var, value)
    assert "$" not in expr, f"unknown template variable in {expr!r}"
    return expr


DASHBOARDS = ["rampart-overview", "rampart-hosts", "rampart-postgres", "rampart-slo"]


@pytest.mark.parametrize("uid", DASHBOARDS)
def test_every_dashboard_query_is_valid_promql(tmp_path: Path, catalog_files, uid: str) -> None:
    """Each query becomes a recording rule in a throwaway file; promtool parses them all."""
    queries = list(dashboard_queries(catalog_files[f"grafana/dashboards/{uid}.json"]))
    assert queries, f"{uid}: no queries"
    names = {f"dashboard:q{i}": (title, expr) for i, (title, expr) in enumerate(queries)}
    doc = {
        "groups": [
            {
                "name": uid,
                "rules": [
                    {"record": name, "expr": _standin(expr)} for name, (_, expr) in names.items()
                ],
            }
        ]
    }
    path = tmp_path / f"{uid}.rules.yml"
    path.write_text(to_yaml(doc), encoding="utf-8")
    result = _run(_tool("promtool"), "check", "rules", str(path))
    if result.returncode != 0:
        bad = sorted(set(re.findall(r"dashboard:q\d+", result.stdout + result.stderr)))
        detail = "; ".join(f"{names[b][0]!r}: {names[b][1]}" for b in bad if b in names)
        pytest.fail(
            f"{uid}: invalid PromQL in {detail or 'a query'}\n{result.stdout}{result.stderr}"
        )


# ------------------------------------------------------------------ live, on loopback
# The real prometheus and alertmanager binaries, started by this test on 127.0.0.1 with
# throwaway storage (never the packages' system services), judge the generated files the
# way a deploy would: every rule group loads, a node target is scraped, and TargetDown
# reaches Alertmanager when the target stops and resolves when it is back.


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Exporter:
    """A stand-in node_exporter: serves a few node metrics until stopped."""

    BODY = b'node_uname_info{nodename="lab1"} 1\nnode_cpu_seconds_total{cpu="0",mode="idle"} 100\n'

    def __init__(self, port: int) -> None:
        self.port = port
        self.server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> None:
        body = self.BODY

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback URL)
        return json.loads(response.read())


def _until(what: str, check, timeout: float) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, ValueError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.5)
    pytest.fail(f"{what} within {timeout} s (last: {last!r})")


@pytest.fixture
def live_stack(tmp_path: Path):
    prom_port, am_port, node_port = _free_port(), _free_port(), _free_port()
    settings = load_settings(
        {"targetDownFor": "3s"},
        {
            "nodeTargets": [f"127.0.0.1:{node_port}"],
            "scrapeInterval": "1s",
            "evaluationInterval": "1s",
            "alertmanagerAddress": f"127.0.0.1:{am_port}",
        },
    )
    files = build_files(sample_platform(), settings)
    root = _write(files, tmp_path)
    exporter = _Exporter(node_port)
    exporter.start()
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("prometheus", "alertmanager")}  # noqa: SIM115
    procs = [
        subprocess.Popen(  # noqa: S603
            [
                _tool("prometheus-alertmanager"),
                f"--config.file={root / 'alertmanager/alertmanager.yml'}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            stdout=logs["alertmanager"],
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(  # noqa: S603
            [
                _tool("prometheus"),
                f"--config.file={root / 'prometheus/prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=logs["prometheus"],
            stderr=subprocess.STDOUT,
        ),
    ]
    try:
        yield {
            "prom": f"http://127.0.0.1:{prom_port}",
            "am": f"http://127.0.0.1:{am_port}",
            "node": f"127.0.0.1:{node_port}",
            "exporter": exporter,
            "files": files,
            "logs": tmp_path,
        }
    finally:
        exporter.stop()
        for proc in procs:  # only the processes this fixture started, by handle
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for log in logs.values():
            log.close()


def test_live_prometheus_loads_every_group_and_target_down_reaches_alertmanager(live_stack) -> None:
    prom, am, node = live_stack["prom"], live_stack["am"], live_stack["node"]
    expected = {
        g["name"]
        for rel, content in live_stack["files"].items()
        if rel.startswith("prometheus/rules/")
        for g in yaml.safe_load(content)["groups"]
    }

    def groups() -> set[str]:
        return {g["name"] for g in _get(f"{prom}/api/v1/rules")["data"]["groups"]}

    loaded = _until("Prometheus serving its rules", groups, 30)
    assert loaded == expected, f"rule groups loaded {sorted(loaded)}, generated {sorted(expected)}"

    def node_up() -> bool:
        targets = _get(f"{prom}/api/v1/targets")["data"]["activeTargets"]
        mine = [t for t in targets if t["labels"].get("instance") == node]
        return (
            bool(mine)
            and mine[0]["health"] == "up"
            and mine[0]["labels"]
            == {"instance": node, "job": "node", "service": "node-exporter", "tier": "host"}
        )

    _until(f"node target {node} up with service/tier labels", node_up, 30)

    def am_has_target_down() -> list:
        alerts = _get(f"{am}/api/v2/alerts?filter=alertname%3D%22TargetDown%22")
        return [a for a in alerts if a["labels"].get("instance") == node]

    live_stack["exporter"].stop()
    stopped = time.monotonic()
    alert = _until(
        "TargetDown for the stopped node target in Alertmanager", am_has_target_down, 30
    )[0]
    # for (3 s) + two scrape intervals (2 s) + evaluation and delivery slack
    assert time.monotonic() - stopped < 20, "TargetDown took too long to reach Alertmanager"
    assert alert["labels"]["severity"] == "warning"
    assert alert["annotations"]["runbook_url"].endswith("/TargetDown.md")

    live_stack["exporter"].start()

    def resolved() -> bool:
        firing = _get(f"{prom}/api/v1/alerts")["data"]["alerts"]
        return not [
            a
            for a in firing
            if a["labels"]["alertname"] == "TargetDown" and a["labels"].get("instance") == node
        ]

    _until("TargetDown resolved in Prometheus after the target came back", resolved, 30)
