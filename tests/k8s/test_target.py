"""The Kubernetes target as a user meets it: both k8s stacks render under the recording engine
into objects that hold every hardening property the issue lists, the network allows exactly the
catalog's edges, the edge reuses the Docker target's middleware definitions, and a stack the
target cannot honour is refused with one line and nothing rendered."""

from __future__ import annotations

import functools
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra import program
from infra import stack as stacks
from infra.edge import traefik
from infra.model.errors import ValidationError
from infra.offline import manifests
from infra.offline.render import record
from infra.secrets.plan import secret_specs
from infra.targets.kubernetes import platform as cluster
from infra.targets.kubernetes.settings import service_namespaces
from k8s import netpol, schemas

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
STACKS = ("k8s-dev", "k8s-prod")
POD_KINDS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}


@functools.cache
def rendered(name: str) -> tuple[dict[str, Any], ...]:
    recording = record(stacks.load(name, ROOT))
    collected = manifests.collect(recording)
    return tuple(m.body for objs in collected.files.values() for m in objs)


def objects(name: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [o for o in rendered(name) if kind is None or o["kind"] == kind]


def pod_specs(name: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for o in objects(name):
        if o["kind"] in POD_KINDS:
            yield o, o["spec"]["template"]["spec"]


@pytest.mark.parametrize("name", STACKS)
def test_stack_renders_byte_identically(name):
    first = manifests.manifest_files(record(stacks.load(name, ROOT)))
    second = manifests.manifest_files(record(stacks.load(name, ROOT)))
    assert first == second
    assert next(iter(first)).startswith("manifests/01-namespace")  # namespaces first


@pytest.mark.parametrize("name", STACKS)
def test_every_object_validates_against_its_schema(name):
    """Built-in kinds against the official OpenAPI schema of the stack's Kubernetes minor
    (strict: unknown fields are errors), custom resources against the vendored CRDs of the
    operator releases docs/kubernetes.md names."""
    stack = stacks.load(name, ROOT)
    assert stack.kubernetes is not None
    errors = [e for o in rendered(name) for e in schemas.validate(o, stack.kubernetes.version)]
    assert errors == []
    assert {o["apiVersion"] for o in rendered(name)} >= {
        "traefik.io/v1alpha1", "cert-manager.io/v1", "external-secrets.io/v1",
        "monitoring.coreos.com/v1", "postgresql.cnpg.io/v1"}


@pytest.mark.parametrize("name", STACKS)
def test_quotas_admit_everything_the_stack_declares(name):
    """Every namespace's ResourceQuota holds its Services (a LoadBalancer uses a node port per
    port), its pods at their ceiling and their requests and limits."""
    from infra.model.quantities import parse_cpu, parse_memory

    for quota in objects(name, "ResourceQuota"):
        ns, hard = quota["metadata"]["namespace"], quota["spec"]["hard"]
        services = [o["spec"] for o in objects(name, "Service")
                    if o["metadata"]["namespace"] == ns]
        node_ports = sum(len(s["ports"]) for s in services
                         if s.get("type") in ("LoadBalancer", "NodePort"))
        balancers = sum(1 for s in services if s.get("type") == "LoadBalancer")
        assert node_ports <= int(hard["services.nodeports"]), ns
        assert balancers <= int(hard["services.loadbalancers"]), ns
        scalers = {o["metadata"]["name"]: o["spec"]["maxReplicas"]
                   for o in objects(name, "HorizontalPodAutoscaler")
                   if o["metadata"]["namespace"] == ns}
        pods = cpu = memory = 0.0
        for obj, spec in pod_specs(name):
            if obj["metadata"]["namespace"] != ns:
                continue
            n = scalers.get(obj["metadata"]["name"], obj["spec"].get("replicas", 1))
            pods += n
            for c in spec["containers"]:
                cpu += n * parse_cpu(c["resources"]["limits"]["cpu"])
                memory += n * parse_memory(c["resources"]["limits"]["memory"])
        assert pods < int(hard["pods"]), ns  # with room for a rollout's surge pod
        assert cpu < parse_cpu(hard["limits.cpu"]), ns
        assert memory < parse_memory(hard["limits.memory"]), ns


def test_stateful_sets_are_governed_by_headless_services():
    services = {(o["metadata"]["namespace"], o["metadata"]["name"]): o["spec"]
                for o in objects("k8s-dev", "Service")}
    sets = objects("k8s-dev", "StatefulSet")
    assert sets
    for s in sets:
        governing = services[(s["metadata"]["namespace"], s["spec"]["serviceName"])]
        assert governing["clusterIP"] == "None"
        assert governing["selector"] == s["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("name", STACKS)
def test_namespaces_enforce_restricted_with_a_pinned_version(name):
    for ns in objects(name, "Namespace"):
        labels = ns["metadata"]["labels"]
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
            assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "v1.31"
    names = {ns["metadata"]["name"] for ns in objects(name, "Namespace")}
    assert names == {"erp-infra", "erp-core", "erp-business", "erp-edge", "erp-platform"}
    quotas = {o["metadata"]["namespace"] for o in objects(name, "ResourceQuota")}
    limits = {o["metadata"]["namespace"] for o in objects(name, "LimitRange")}
    assert quotas == limits == names


@pytest.mark.parametrize("name", STACKS)
def test_every_pod_is_restricted(name):
    """PSS restricted, field by field, on every container of every pod template."""
    seen = 0
    for obj, spec in pod_specs(name):
        seen += 1
        who = f"{obj['kind']} {obj['metadata']['name']}"
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, who
        assert isinstance(pod["runAsUser"], int) and pod["runAsUser"] > 0, who
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, who
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(key), who
        assert not any("hostPath" in v for v in spec.get("volumes", [])), who
        for c in spec["containers"] + spec.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, who
            assert sc["privileged"] is False, who
            assert sc["capabilities"]["drop"] == ["ALL"], who
            assert set(sc["capabilities"].get("add", [])) <= {"NET_BIND_SERVICE"}, who
            assert sc["runAsNonRoot"] is True, who
            assert not any("hostPort" in p for p in c.get("ports", [])), who
            limits, requests = c["resources"]["limits"], c["resources"]["requests"]
            assert set(limits) == set(requests) == {"cpu", "memory"}, who
            for env in c.get("env", []):
                assert "valueFrom" not in env, who  # secrets are files, never env
    assert seen >= 30


@pytest.mark.parametrize("name", STACKS)
def test_writable_paths_are_empty_dirs_on_a_read_only_root(name):
    for obj, spec in pod_specs(name):
        c = spec["containers"][0]
        if not c["securityContext"]["readOnlyRootFilesystem"]:
            # only where the catalog says why (writable_root), carried as an annotation
            assert obj["metadata"]["annotations"].get("rampart.io/writable-root"), obj
            continue
        mounted = {m["mountPath"] for m in c["volumeMounts"]}
        assert "/tmp" in mounted, obj  # noqa: S108 - the container's path["metadata"]["name"]


@pytest.mark.parametrize("name", STACKS)
def test_service_accounts_do_not_mount_tokens_unless_they_watch_the_api(name):
    watchers = {"traefik", "prometheus"}
    accounts = {o["metadata"]["name"]: o for o in objects(name, "ServiceAccount")}
    for obj, spec in pod_specs(name):
        svc = obj["metadata"]["name"]
        assert spec["serviceAccountName"] == svc
        assert spec["automountServiceAccountToken"] is (svc in watchers), svc
        assert accounts[svc]["automountServiceAccountToken"] is (svc in watchers), svc


def test_probes_and_shutdown_follow_the_model():
    platform = program.platform_of(stacks.load("k8s-dev", ROOT))
    for obj, spec in pod_specs("k8s-dev"):
        svc = platform.service(obj["metadata"]["name"])
        c = spec["containers"][0]
        if svc.one_shot is not None:
            assert "readinessProbe" not in c and spec["restartPolicy"] == "Never"
            continue
        assert spec["terminationGracePeriodSeconds"] == svc.stop_grace_s + 5
        assert c["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}
        if svc.health is None:
            continue
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert probe in c, (svc.name, probe)
        if svc.health.ready_path and svc.name != "traefik":
            assert c["readinessProbe"]["httpGet"]["path"] == svc.health.ready_path
        assert c["livenessProbe"]["periodSeconds"] == svc.health.interval_s


@pytest.mark.parametrize("name", STACKS)
def test_replicated_services_get_spread_budget_and_autoscaler(name):
    workloads = {o["metadata"]["name"]: o for o in objects(name)
                 if o["kind"] in ("Deployment", "StatefulSet")}
    budgets = {o["metadata"]["name"] for o in objects(name, "PodDisruptionBudget")}
    scalers = {o["metadata"]["name"]: o for o in objects(name, "HorizontalPodAutoscaler")}
    assert {"api-gateway", "auth"} <= set(scalers)  # the catalog gives them a range
    for svc, o in workloads.items():
        spec = o["spec"]
        many = svc in scalers or spec.get("replicas", 1) > 1
        assert (svc in budgets) is many, svc
        assert bool(spec["template"]["spec"].get("topologySpreadConstraints")) is many, svc
        if o["kind"] == "Deployment":
            assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    for svc, hpa in scalers.items():
        assert "replicas" not in workloads[svc]["spec"]  # the autoscaler owns the count
        assert hpa["spec"]["minReplicas"] == 2 and hpa["spec"]["maxReplicas"] == 6


def test_images_by_digest_in_prod_and_pull_policy_follows():
    for name, digests in (("k8s-prod", True), ("k8s-dev", None)):
        for _, spec in pod_specs(name):
            c = spec["containers"][0]
            if digests:
                assert "@sha256:" in c["image"], c["image"]
            expected = "IfNotPresent" if "@sha256:" in c["image"] else "Always"
            assert c["imagePullPolicy"] == expected
    (cnpg,) = objects("k8s-prod", "Cluster")
    assert "@sha256:" in cnpg["spec"]["imageName"]


# -- network ----------------------------------------------------------------------------

def expected_edges(name: str) -> set[tuple[str, str, int]]:
    """The catalog's edges, computed here from the model (not from the target's plan)."""
    stack = stacks.load(name, ROOT)
    platform = program.platform_of(stack)
    assert stack.kubernetes is not None
    ns = service_namespaces(stack.kubernetes, platform)
    omitted = dict(stack.kubernetes.omit)
    run = {s.name: s for s in platform.services if s.name not in omitted
           and s.name != "pg-backup"}

    def at(svc: str) -> str:
        return f"{ns[svc]}/{svc}"

    edges = set()
    for s in run.values():
        for dep in s.depends_on:
            if dep in run and dep not in s.completed_dependencies and run[dep].port:
                edges.add((at(s.name), at(dep), run[dep].port))
    for r in traefik.routers(platform):
        if not r.internal:
            edges.add((at("traefik"), at(r.service.name), r.service.port))
    for s in run.values():
        port = s.metrics_port or s.port
        if s.metrics_path and port and s.name != "prometheus" and s.name != "traefik":
            edges.add((at("prometheus"), at(s.name), port))
    edges.add((at("prometheus"), at("traefik"), traefik.metrics_port(platform)))
    edges.add((at("prometheus"), at("alertmanager"), run["alertmanager"].port))
    edges.add((at("postgres"), at("minio"), run["minio"].port))  # WAL and base backups
    edges.add((at("prometheus"), at("postgres"), 9187))  # CloudNativePG's exporter
    return edges


@pytest.mark.parametrize("name", STACKS)
def test_no_pod_to_pod_path_beyond_the_catalog_edges(name):
    network = netpol.Network(rendered(name))
    reached = {(src, dst, port) for src, dst, port, proto in network.reachability()
               if proto == "TCP"}
    expected = expected_edges(name)
    # Reached but not in the catalog: a hole. In the catalog but not reached: a broken app.
    assert reached - expected == set()
    assert expected - reached == set()


@pytest.mark.parametrize("name", STACKS)
def test_every_pod_resolves_names_and_only_the_edge_is_open_to_everyone(name):
    network = netpol.Network(rendered(name))
    for pod in network.pods:
        assert netpol.dns_egress(rendered(name), pod), pod.id
        assert network.isolated(pod, "Ingress") and network.isolated(pod, "Egress"), pod.id
    wide = [str(w) for w in netpol.wide_ip_blocks(rendered(name))]
    assert wide == ["erp-platform/traefik-ingress ingress ipBlock 0.0.0.0/0"]


def test_operator_reaches_postgres_status_port_only():
    objs = rendered("k8s-dev")
    network = netpol.Network(objs)
    operator = netpol.Pod("cnpg-system", "Deployment", "cnpg-controller-manager",
                          {"app.kubernetes.io/name": "cloudnative-pg"}, {})
    (db,) = [p for p in network.pods if p.name == "postgres"]
    assert network.allowed(operator, db, 8000)
    assert not network.allowed(operator, db, 5432)


# -- edge -------------------------------------------------------------------------------

def test_middlewares_are_the_docker_targets_definitions():
    platform = program.platform_of(stacks.load("k8s-dev", ROOT))
    docker = traefik.middlewares(platform)
    for mw in objects("k8s-dev", "Middleware"):
        name = mw["metadata"]["name"]
        expected = dict(docker[name])
        if name == traefik.MW_ADMIN_AUTH:
            expected["basicAuth"] = {**expected["basicAuth"], "secret": "admin-auth"}
            del expected["basicAuth"]["usersFile"]
        assert mw["spec"] == expected, name
    # Traefik applies the one TLSOption named `default` to every router and to handshakes
    # without SNI; a second `default` in another namespace would void both.
    (tls,) = objects("k8s-dev", "TLSOption")
    assert tls["metadata"]["name"] == "default"
    assert tls["metadata"]["namespace"] == "erp-platform"
    assert tls["spec"]["sniStrict"] is True and tls["spec"]["minVersion"] == "VersionTLS12"
    assert tls["spec"]["cipherSuites"] == list(traefik.TLS12_CIPHER_SUITES)
    for route in objects("k8s-dev", "IngressRoute"):
        assert "options" not in route["spec"]["tls"]


def test_every_router_is_an_ingress_route_with_tls_and_its_middlewares():
    platform = program.platform_of(stacks.load("k8s-dev", ROOT))
    routes = {o["metadata"]["name"]: o for o in objects("k8s-dev", "IngressRoute")}
    assert set(routes) == {r.name for r in traefik.routers(platform)}
    for r in traefik.routers(platform):
        spec = routes[r.name]["spec"]
        assert spec["entryPoints"] == ["websecure"]
        assert spec["tls"]["secretName"] == "edge-tls"
        (route,) = spec["routes"]
        assert route["match"] == r.rule
        assert [m["name"] for m in route["middlewares"]] == list(r.middlewares)
        assert route.get("priority") == r.priority


def test_certificates_self_signed_in_dev_acme_in_prod():
    (dev,) = objects("k8s-dev", "ClusterIssuer")
    (prod,) = objects("k8s-prod", "ClusterIssuer")
    assert dev["spec"] == {"selfSigned": {}}
    assert prod["spec"]["acme"]["server"].startswith("https://acme-v02.")
    for name, issuer in (("k8s-dev", dev), ("k8s-prod", prod)):
        for cert in objects(name, "Certificate"):
            assert cert["spec"]["issuerRef"]["name"] == issuer["metadata"]["name"]
    # HTTP-01 through Traefik: matched by class annotation (Traefik lists no IngressClass),
    # on port 80 only, behind a ClusterIP Service (the namespaces allow no node ports), and
    # answered before the redirect to HTTPS (the redirect has the lowest priority).
    (solver,) = prod["spec"]["acme"]["solvers"]
    ingress = solver["http01"]["ingress"]
    assert ingress["class"] == "traefik" and "ingressClassName" not in ingress
    assert ingress["serviceType"] == "ClusterIP"
    assert ingress["ingressTemplate"]["metadata"]["annotations"] == {
        "traefik.ingress.kubernetes.io/router.entrypoints": "web"}
    static = _traefik_static("k8s-prod")
    assert static["entryPoints"]["web"]["http"]["redirections"]["entryPoint"] == {
        "to": ":443", "scheme": "https", "permanent": True, "priority": 1}


def _traefik_static(name: str) -> dict[str, Any]:
    import yaml

    (config,) = [o for o in objects(name, "ConfigMap") if o["metadata"]["name"] ==
                 "traefik-config"]
    return yaml.safe_load(config["data"]["etc.traefik.traefik.yml"])


@pytest.mark.parametrize("name", STACKS)
def test_traefik_reads_only_the_namespaces_it_routes_and_nothing_cluster_wide(name):
    static = _traefik_static(name)
    routed = sorted({o["metadata"]["namespace"] for o in objects(name, "IngressRoute")})
    for provider in ("kubernetesCRD", "kubernetesIngress"):
        assert static["providers"][provider]["namespaces"] == routed
        assert static["providers"][provider]["disableClusterScopeResources"] is True
    assert static["providers"]["kubernetesCRD"]["allowCrossNamespace"] is False
    (role,) = [o for o in objects(name, "ClusterRole") if o["metadata"]["name"] == "erp-traefik"]
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert not resources & {"nodes", "ingressclasses", "namespaces", "pods"}
    assert {v for rule in role["rules"] for v in rule["verbs"]} <= {
        "get", "list", "watch", "update"}
    bound = sorted(o["metadata"]["namespace"] for o in objects(name, "RoleBinding")
                   if o["roleRef"]["name"] == "erp-traefik")
    assert bound == routed  # the database's namespace is not among them


def test_traefik_is_unprivileged_behind_a_load_balancer_with_internal_metrics():
    services = {o["metadata"]["name"]: o for o in objects("k8s-dev", "Service")
                if o["metadata"]["namespace"] == "erp-platform"}
    lb = services["traefik"]["spec"]
    assert lb["type"] == "LoadBalancer"
    # the client's own address reaches the rate limits and the admin allowlist
    assert lb["externalTrafficPolicy"] == "Local"
    assert {(p["port"], p["targetPort"]) for p in lb["ports"]} == {(80, 8000), (443, 8443)}
    assert services["traefik-metrics"]["spec"]["type"] == "ClusterIP"


# -- secrets ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", STACKS)
def test_external_secrets_map_exactly_the_catalogs_secrets(name):
    stack = stacks.load(name, ROOT)
    platform = program.platform_of(stack)
    paths = {spec.path(stack.name) for spec in secret_specs(platform)}
    refresh = stack.kubernetes.secret_refresh if stack.kubernetes else None
    stores = {(o["metadata"]["namespace"], o["metadata"]["name"]): o
              for o in objects(name, "SecretStore")}
    for es in objects(name, "ExternalSecret"):
        spec = es["spec"]
        assert spec["refreshInterval"] == refresh
        store = stores[(es["metadata"]["namespace"], spec["secretStoreRef"]["name"])]
        auth = store["spec"]["provider"]["vault"]["auth"]["kubernetes"]
        owner = auth["serviceAccountRef"]["name"]
        assert auth["role"] == f"rampart-{stack.name}-{owner}"
        readable = {spec_.path(stack.name) for spec_ in secret_specs(platform)
                    if owner in spec_.consumers}
        for item in spec["data"]:
            # what the store's role may read: its own secrets and those shared with it
            key = item["remoteRef"]["key"]
            assert key in paths and (key in readable or key.startswith(
                f"{stack.name}/{owner}/")), (owner, key)
    # every declared secret of a deployed service reaches it
    mounted = {es["metadata"]["name"] for es in objects(name, "ExternalSecret")}
    for svc in platform.services:
        if svc.secrets and svc.name not in ("node-exporter", "pg-backup", "postgres",
                                            "traefik"):
            assert svc.name in mounted, svc.name


# -- backups ----------------------------------------------------------------------------

def test_postgres_runs_under_cloudnativepg_with_the_backup_policys_figures():
    from infra import backups

    policy = backups.load_policy()
    (db,) = objects("k8s-dev", "Cluster")
    spec = db["spec"]
    assert spec["postgresql"]["parameters"]["archive_timeout"] == \
        f"{policy.archive_timeout_s}s"
    assert spec["backup"]["retentionPolicy"] == f"{policy.retention_full_days}d"
    store = spec["backup"]["barmanObjectStore"]
    assert store["destinationPath"].startswith("s3://erp-backups/")
    (scheduled,) = objects("k8s-dev", "ScheduledBackup")
    hours = scheduled["spec"]["schedule"].split()[2].split(",")
    assert len(hours) == 24 // 6  # every 6 h
    kinds = {o["kind"] for o in rendered("k8s-dev") if o["metadata"]["name"] == "pg-backup"}
    assert kinds <= {"ServiceAccount", "SecretStore"}  # the operator replaces the job


# -- refusals ---------------------------------------------------------------------------

def _copy_project(tmp_path: Path, catalog_edit: tuple[str, str] | None = None,
                  stack_edit: tuple[str, str] | None = None) -> Path:
    (tmp_path / "catalog").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    for f in ("erp.yaml", "versions.yaml"):
        text = (ROOT / "infra/catalog" / f).read_text(encoding="utf-8")
        if catalog_edit and f == "erp.yaml":
            assert catalog_edit[0] in text
            text = text.replace(catalog_edit[0], catalog_edit[1], 1)
        (tmp_path / "catalog" / f).write_text(text, encoding="utf-8")
    text = (ROOT / "Pulumi.k8s-dev.yaml").read_text(encoding="utf-8")
    text = text.replace("config:\n", "config:\n  rampart:catalog: catalog/erp.yaml\n", 1)
    if stack_edit:
        assert stack_edit[0] in text
        text = text.replace(stack_edit[0], stack_edit[1], 1)
    (tmp_path / "Pulumi.k8s-dev.yaml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(("catalog_edit", "stack_edit", "message"), [
    (None, None, None),  # control: the unchanged copy renders
    (("  postgres-exporter:\n    group: platform\n",
      "  postgres-exporter:\n    group: platform\n    user: root\n"), None,
     "service 'postgres-exporter': field 'user'"),
    (None, ("    omit:\n", "    omitted:\n"), "omitted"),
    (None, ("      node-exporter: the cluster's", "      kafka-exporter: the cluster's"),
     "service 'node-exporter': field 'volumes': host path"),
    (None, ("      node-exporter: the cluster's", "      kafka: the cluster's"),
     "field 'depends_on': 'kafka' is not run on the kubernetes target"),
    (None, ("    storageClass: standard\n", ""), "storageClass': is required"),
    # X-Forwarded-For trusted from the cluster's ranges would let clients pick their address
    (None, ("  rampart:tls: self-signed\n", "  rampart:tls: self-signed\n"
                                          "  rampart:ipStrategyDepth: 1\n"),
     r"Pulumi.k8s-dev.yaml:\d+:\d+: field 'rampart:ipStrategyDepth': .*must be 0"),
    (None, ("    vaultServer:", "    vaultCaFile: missing.pem\n    vaultServer:"),
     "field 'rampart:kubernetes.vaultCaFile': cannot read 'missing.pem'"),
])
def test_bad_input_is_one_clear_refusal(tmp_path, catalog_edit, stack_edit, message):
    root = _copy_project(tmp_path, catalog_edit, stack_edit)
    if message is None:
        assert len(record(stacks.load("k8s-dev", root))) > 300
        return
    with pytest.raises(ValidationError, match=message):
        record(stacks.load("k8s-dev", root))


def test_plan_refuses_before_any_object_is_declared(tmp_path):
    root = _copy_project(tmp_path, (
        "  postgres-exporter:\n    group: platform\n",
        "  postgres-exporter:\n    group: platform\n    cap_add: [CHOWN]\n"))
    stack = stacks.load("k8s-dev", root)
    platform = program.platform_of(stack)
    inputs = program._kubernetes_inputs(stack, platform, __import__(
        "infra.backups", fromlist=["load_policy"]).load_policy())
    with pytest.raises(ValidationError, match="allows adding only NET_BIND_SERVICE"):
        cluster.plan(platform, inputs)


def test_render_manifests_command_writes_the_k8s_dev_stack(tmp_path, monkeypatch):
    """`rampart render --stack k8s-dev --format manifests --out DIR` as a user runs it: exit 0,
    files under DIR/manifests in apply order, the same bytes on a second run, no secret."""
    from typer.testing import CliRunner

    from infra.cli.main import app

    monkeypatch.chdir(ROOT)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["render", "--stack", "k8s-dev", "--format", "manifests",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    files = sorted((out / "manifests").glob("*.yaml"))
    assert files[0].name == "01-namespace.yaml"
    first = {f.name: f.read_bytes() for f in files}
    again = CliRunner().invoke(app, ["render", "--stack", "k8s-dev", "--format", "manifests",
                                     "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert first == {f.name: f.read_bytes() for f in sorted((out / "manifests").glob("*.yaml"))}
    texts = b"".join(first.values())
    assert b"BEGIN" not in texts and b"PRIVATE KEY" not in texts
    assert b"kind: Cluster" in texts and b"kind: IngressRoute" in texts


def test_render_refuses_a_root_image_and_writes_nothing(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from infra.cli.main import app

    root = _copy_project(tmp_path / "project", (
        "  postgres-exporter:\n    group: platform\n",
        "  postgres-exporter:\n    group: platform\n    user: \"0:0\"\n"))
    monkeypatch.chdir(root)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["render", "--stack", "k8s-dev", "--format", "manifests",
                                      "--out", str(out)])
    assert result.exit_code == 2
    assert "service 'postgres-exporter': field 'user'" in result.output
    assert not (out / "manifests").exists()


# -- the policy pack on the real render -------------------------------------------------

def _judged(name: str, mutate=None) -> list[tuple[str, str]]:
    """(rule, resource) of every blocking, unwaived outcome of the pack over the stack's
    recording, after `mutate(records by name)` changed copies of the inputs."""
    import copy

    from infra.offline import evaluate as ev
    from policies.core import Plain, Resource

    stack = stacks.load(name, ROOT)
    inputs = {r.name: (r, copy.deepcopy(dict(r.inputs))) for r in record(stack)}
    if mutate is not None:
        mutate({n: i for n, (_, i) in inputs.items()})
    resources = [Resource(r.type, r.name, r.urn, Plain(ev._policy_value(i)))
                 for r, i in inputs.values()]
    return sorted((o.rule.name, o.resource.name) for o in ev.evaluate(resources, stack.policy)
                  if o.blocking)


@pytest.mark.parametrize("name", STACKS)
def test_the_pack_passes_both_stacks(name):
    assert _judged(name) == []


def _drop_annotation(name: str, key: str):
    def mutate(objs):
        del objs[name]["metadata"]["annotations"][key]
    return mutate


def _drop_service_relabel(name: str):
    def mutate(objs):
        endpoint = objs[name]["spec"]["endpoints"][0]
        endpoint["relabelings"] = [r for r in endpoint["relabelings"]
                                   if r["targetLabel"] != "service"]
    return mutate


@pytest.mark.parametrize(("mutate", "expected"), [
    # the catalog's backup_exempt reason, carried as an annotation
    (_drop_annotation("statefulset-erp-infra-redis", "rampart.io/backup-exempt"),
     ("stateful-backup-declared", "statefulset-erp-infra-redis")),
    # the catalog's writable_root reason
    (_drop_annotation("deployment-erp-infra-temporal", "rampart.io/writable-root"),
     ("read-only-root-filesystem", "deployment-erp-infra-temporal")),
    # redis is scraped through its exporter's ServiceMonitor (relabelled service: redis)
    (_drop_service_relabel("servicemonitor-erp-platform-redis-exporter"),
     ("prometheus-scrapes-every-service", "statefulset-erp-infra-redis")),
])
def test_what_the_target_writes_for_the_pack_is_what_passes_it(mutate, expected):
    assert _judged("k8s-dev", mutate) == [expected]


def test_vault_ca_reaches_every_secret_store_and_a_key_is_refused(tmp_path):
    import base64

    from infra.secrets.tls import generate_set

    root = _copy_project(tmp_path, None, (
        "    vaultServer:", "    vaultCaFile: vault-ca.pem\n    vaultServer:"))
    pem = generate_set("vault")["ca"]
    (root / "vault-ca.pem").write_text(pem, encoding="utf-8")
    stores = [r.inputs for r in record(stacks.load("k8s-dev", root))
              if r.type.endswith(":SecretStore")]
    assert stores and all(
        base64.b64decode(s["spec"]["provider"]["vault"]["caBundle"]).decode() == pem
        for s in stores)
    (root / "vault-ca.pem").write_text(pem + generate_set("vault")["key"], encoding="utf-8")
    with pytest.raises(ValidationError, match="PEM certificates only"):
        record(stacks.load("k8s-dev", root))
