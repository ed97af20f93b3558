"""The single-host Docker target: translates the model into pulumi-docker resources.

Nothing here decides what "hardened" means; every figure (limits, health timings, log
rotation, capabilities, user, restart policy, networks) is read from the `Service` the model
built. What this module adds is Docker mechanics: two networks (an edge network and an
`internal` backend network with no route out), pinned `RemoteImage`s, secrets uploaded as
files, and the Traefik container as the only one that publishes ports.

May import: infra.model, infra.edge, infra.secrets (provider and versions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclasses_field

import pulumi
import pulumi_docker as docker

from infra.edge import traefik
from infra.model.types import Network, Platform, Service, Volume
from infra.secrets.provider import SecretsProvider
from infra.secrets.versions import PREVIOUS_SUFFIX
from infra.targets.shared import previous_file, secret_env, upload_dirs
from infra.targets.shared import under as _under
from infra.targets.shared import user_ids as _user_ids

MIB = 1024**2
# Docker's relative CPU weight for one core: the reservation becomes a share under contention
# (plain Docker has no hard CPU reservation; the limit is enforced with `cpus`).
CPU_SHARES_PER_CORE = 1024
# tmpfs for writable paths on a read-only root: no device files, no setuid binaries. `exec`
# stays allowed because some runtimes (JNA in Elasticsearch, node-gyp) execute from /tmp.
TMPFS_OPTIONS = "rw,nosuid,nodev"
# Secret files: readable by the service's user only when we know that user; otherwise
# world-readable inside the container (Docker's own secrets default), never on the host.
MODE_OWNER_ONLY = "0400"
MODE_ALL_READ = "0444"
MODE_CONFIG = "0444"
# Fresh volumes the target hands to a service's user: private (the ACME store), or a hand-off
# directory other users read (owner writes, everyone reads/lists). Other volumes keep what
# Docker and the image give them.
MODE_PRIVATE_DIR = "0700"
MODE_SHARED_DIR = "0755"


@dataclass(frozen=True)
class Upload:
    path: str
    content: pulumi.Input[str]
    mode: str
    secret: bool
    owner: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class ServiceContainerArgs:
    service: Service
    networks: Mapping[Network, docker.Network]
    uploads: Sequence[Upload] = ()
    published_ports: Sequence[tuple[int, int]] = ()  # (container, host); the edge proxy only
    # The platform's named volumes by model name (shared: a backup job mounts its database's
    # data volume read-only).
    named_volumes: Mapping[str, docker.Volume] = dataclasses_field(default_factory=dict)
    # Containers of the services this one depends on: created (started) first.
    after: Sequence[docker.Container] = ()
    # One-shot containers (a catalog job, a volume init) that must have exited 0 first.
    after_completed: Sequence[docker.Container] = ()
    # Appended to the model's command (PostgreSQL's WAL archiving settings, infra/backups).
    extra_command: Sequence[str] = ()


def _duration(seconds: int) -> str:
    return f"{seconds}s"


def secret_uploads(svc: Service, secrets: SecretsProvider) -> list[Upload]:
    """Each declared secret as a file at the path the model chose, value from the provider.

    Secrets the model marks `delivers_previous` (signing keys, the pepper) also get
    `<file>_previous` (the version before the last rotation, or the current one if never
    rotated) so tokens signed just before a rotation stay valid."""
    uid, gid = _user_ids(svc)
    mode = MODE_OWNER_ONLY if uid is not None else MODE_ALL_READ
    uploads = []
    for ref in sorted(svc.secrets, key=lambda r: r.file):
        owner = ref.shared_from or svc.name
        uploads.append(Upload(path=ref.file, content=secrets.get(owner, ref.name), mode=mode,
                              secret=True, owner=uid, group=gid))
        if ref.delivers_previous:
            uploads.append(Upload(path=previous_file(ref),
                                  content=secrets.get(owner, ref.name + PREVIOUS_SUFFIX),
                                  mode=mode, secret=True, owner=uid, group=gid))
    return uploads


class OneShotFailedError(RuntimeError):
    """A one-shot container exited non-zero: what depends on it is not deployed."""


def check_completed(job: str, exit_code: int | None) -> None:
    """Raise unless a one-shot container exited 0 (`attach` waited for it).

    pulumi-docker records the exit code without failing the create, so the target checks it
    before a dependent container is declared: the deploy stops with this error instead."""
    if exit_code == 0:
        return
    shown = "no exit code (the engine did not wait for it)" if exit_code is None \
        else f"exit code {exit_code}"
    raise OneShotFailedError(
        f"one-shot container '{job}' did not complete ({shown}); its dependents are not "
        f"deployed. See `docker logs {job}`, fix the cause, then run it again with "
        f"`docker start -a {job}` and `pulumi up --refresh`, or `pulumi up --replace` "
        "its URN")


def completed(job: docker.Container) -> pulumi.Output[docker.Container]:
    """`job` itself once it exited 0, for `depends_on`: a dependent waits for its creation
    (which `attach` makes last until the exit) and is never declared after a failure."""
    def check(values: list) -> docker.Container:
        name, code = values
        check_completed(str(name), code)
        return job

    return pulumi.Output.all(job.name, job.exit_code).apply(check)


def _slug(path: str) -> str:
    return path.strip("/").replace("/", "-").replace("_", "-") or "root"


class ServiceContainer(pulumi.ComponentResource):
    """One catalog service: its pinned image, its volumes and its hardened container."""

    container: docker.Container

    def __init__(self, name: str, args: ServiceContainerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rampart:docker:Service", name, None, opts)
        svc = args.service
        child = pulumi.ResourceOptions(parent=self)
        base = name  # Docker object names follow the logical names: `<platform>-<service>`

        # keep_locally: destroying the stack must not delete an image another stack still runs.
        image = docker.RemoteImage(f"{name}-image", name=svc.image.ref, keep_locally=True,
                                   opts=child)

        # The model's volumes (named, or read-only host binds), then one small volume of this
        # service per upload directory not already on a volume.
        mounts = list(svc.volumes)
        for d in upload_dirs([u.path for u in args.uploads]):
            if not _under(d, [m.path for m in mounts]):
                mounts.append(Volume(f"{svc.name}-{_slug(d)}", d))
        volumes = []
        for m in sorted(mounts, key=lambda m: m.path):
            if m.host_path is not None:
                volumes.append(docker.ContainerVolumeArgs(
                    host_path=m.host_path, container_path=m.path, read_only=m.read_only))
                continue
            vol = args.named_volumes.get(m.name)
            if vol is None:
                vol = docker.Volume(f"{name}-{_slug(m.path)}", name=f"{base}-{_slug(m.path)}",
                                    labels=[docker.VolumeLabelArgs(label=k, value=v)
                                            for k, v in svc.labels],
                                    opts=child)
            volumes.append(docker.ContainerVolumeArgs(
                volume_name=vol.name, container_path=m.path, read_only=m.read_only or None))
        tmpfs = {
            path: TMPFS_OPTIONS
            for path in svc.security.writable_paths
            if svc.security.read_only_root and not _under(path, [m.path for m in mounts])
        }

        health = None
        if svc.health is not None:
            h = svc.health
            health = docker.ContainerHealthcheckArgs(
                tests=list(h.command), interval=_duration(h.interval_s),
                timeout=_duration(h.timeout_s), retries=h.retries,
                start_period=_duration(h.start_period_s))

        envs = sorted([f"{k}={v}" for k, v in svc.environment] + secret_env(svc.secrets))

        self.container = docker.Container(
            f"{name}-container",
            name=base,
            image=image.image_id,
            entrypoints=list(svc.entrypoint) or None,
            command=[*svc.command, *args.extra_command] or None,
            envs=envs,
            labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in svc.labels],
            # Resources: hard limits, plus a soft reservation (memory) and a CPU weight.
            cpus=f"{svc.resources.cpu_limit:g}",
            cpu_shares=max(2, round(svc.resources.cpu_reservation * CPU_SHARES_PER_CORE)),
            memory=svc.resources.memory_limit // MIB,
            memory_reservation=svc.resources.memory_reservation // MIB,
            # Swap equal to memory: the limit is the limit, no silent spill to disk.
            memory_swap=svc.resources.memory_limit // MIB,
            healthcheck=health,
            # Security.
            read_only=svc.security.read_only_root,
            tmpfs=tmpfs or None,
            capabilities=docker.ContainerCapabilitiesArgs(
                drops=list(svc.security.cap_drop), adds=list(svc.security.cap_add)),
            security_opts=["no-new-privileges:true"] if svc.security.no_new_privileges else [],
            user=svc.security.user,
            privileged=False,
            # Logs, restarts, shutdown.
            log_driver=svc.logs.driver,
            log_opts={"max-size": svc.logs.max_size, "max-file": str(svc.logs.max_file)},
            restart=svc.restart,
            # A one-shot job: the engine waits for it to exit (its exit code is checked
            # before any dependent is declared) and leaves the exited container alone.
            attach=True if svc.one_shot else None,
            must_run=False if svc.one_shot else None,
            stop_signal="SIGTERM",
            stop_timeout=svc.stop_grace_s,
            destroy_grace_seconds=svc.stop_grace_s,
            # Networks: the model's placement; the service name is its DNS name on each.
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=args.networks[n].name,
                                                     aliases=[svc.name])
                for n in sorted(svc.networks)
            ],
            ports=[docker.ContainerPortArgs(internal=i, external=e, protocol="tcp")
                   for i, e in args.published_ports] or None,
            volumes=volumes or None,
            uploads=[
                docker.ContainerUploadArgs(
                    file=u.path,
                    content=pulumi.Output.secret(u.content) if u.secret else u.content,
                    permissions=u.mode, owner=u.owner, group=u.group)
                for u in args.uploads
            ] or None,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*args.after, *(completed(job) for job in args.after_completed)]),
        )
        self.register_outputs({"container": self.container.name})


@dataclass(frozen=True)
class HandOff:
    """A named volume one service writes and services running as other users only read."""

    volume: str
    writer: Service
    path: str  # where the writer mounts it
    readers: tuple[Service, ...]


def _named_volume_mounts(services: Sequence[Service]) -> dict[str, list[tuple[Service, Volume]]]:
    """{named volume: [(service, its mount)]}, services by name (host paths left out)."""
    mounts: dict[str, list[tuple[Service, Volume]]] = {}
    for svc in sorted(services, key=lambda s: s.name):
        for v in svc.volumes:
            if v.host_path is None:
                mounts.setdefault(v.name, []).append((svc, v))
    return mounts


def hand_off_volumes(services: Sequence[Service]) -> list[HandOff]:
    """Named volumes with exactly one writer that runs as a known user and at least one
    read-only reader running as a different (or unknown) user.

    Docker creates a volume for a path the image lacks as root:root 0755, so the writer could
    not write it; handing it to the writer with 0755 lets it write while the readers (other
    uids, mounted read-only) still read. A reader with the writer's uid needs nothing (the
    database's data volume read by its backup job keeps the image's own ownership)."""
    mounts = _named_volume_mounts(services)
    found = []
    for volume, users in sorted(mounts.items()):
        writers = [(s, v) for s, v in users if not v.read_only]
        if len(writers) != 1:
            continue
        writer, mount = writers[0]
        uid, _ = _user_ids(writer)
        if uid is None:
            continue
        readers = tuple(s for s, v in users if v.read_only and _user_ids(s)[0] != uid)
        if readers:
            found.append(HandOff(volume=volume, writer=writer, path=mount.path,
                                 readers=readers))
    return found


@dataclass(frozen=True)
class SharedVolume:
    """A named volume several services of one user write (a working directory they share)."""

    volume: str
    owner: Service  # the first of them by name: its image runs the init
    path: str  # where the owner mounts it
    users: tuple[Service, ...]


def shared_volumes(services: Sequence[Service]) -> list[SharedVolume]:
    """Named volumes mounted writable by two or more services that all run as one known
    uid, and by nobody else (PostgreSQL's WAL spool and socket directory, shared with its
    backup job).

    Docker creates a volume for a path the image lacks as root:root 0755, and which image
    populates it first depends on start order; handing it to the one user with 0700 makes
    it writable for all of them and private to them."""
    mounts = _named_volume_mounts(services)
    found = []
    for volume, users in sorted(mounts.items()):
        uids = {_user_ids(s)[0] for s, _ in users}
        if len(users) < 2 or any(v.read_only for _, v in users) or len(uids) != 1 \
                or None in uids:
            continue
        owner, mount = users[0]
        found.append(SharedVolume(volume=volume, owner=owner, path=mount.path,
                                  users=tuple(s for s, _ in users)))
    return found


def _volume_owner_init(name: str, svc: Service, volume: docker.Volume, path: str,
                       opts: pulumi.ResourceOptions, private_file: str | None = None,
                       mode: str = MODE_PRIVATE_DIR) -> docker.Container:
    """A one-shot container that hands a fresh volume to the service's user (mode 0700, or
    `mode`) and, if given, creates `private_file` on it with mode 0600 (existing content is
    kept).

    It runs the service's own pinned image as root with only CHOWN and FOWNER, no network,
    a read-only root and the service's log limits, exits, and is not restarted."""
    uid, gid = _user_ids(svc)
    owner = f"{uid}:{gid}" if uid is not None else "0:0"
    script = f"chown {owner} {path} && chmod {mode} {path}"
    if private_file is not None:
        script += (f" && touch {private_file} && chown {owner} {private_file}"
                   f" && chmod 0600 {private_file}")
    image = docker.RemoteImage(f"{name}-image", name=svc.image.ref, keep_locally=True,
                               opts=opts)
    return docker.Container(
        name,
        name=name,
        image=image.image_id,
        user="0:0",
        entrypoints=["/bin/sh", "-c"],
        command=[script],
        capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"], adds=["CHOWN", "FOWNER"]),
        security_opts=["no-new-privileges:true"],
        read_only=True,
        network_mode="none",
        privileged=False,
        cpus=f"{svc.resources.cpu_limit:g}",
        memory=svc.resources.memory_limit // MIB,
        memory_swap=svc.resources.memory_limit // MIB,
        log_driver=svc.logs.driver,
        log_opts={"max-size": svc.logs.max_size, "max-file": str(svc.logs.max_file)},
        labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in svc.labels]
        + [docker.ContainerLabelArgs(label="rampart.role", value="volume-init")],
        volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path=path)],
        restart="no",
        must_run=False,  # runs to completion once; `attach` waits for it before Traefik starts
        attach=True,
        opts=opts,
    )


@dataclass(frozen=True)
class DockerPlatformArgs:
    platform: Platform
    secrets: SecretsProvider
    # Generated configuration per service, {service: {container path: content}} (Prometheus,
    # Alertmanager and Grafana files from infra/observability); uploaded read-only.
    config_files: Mapping[str, Mapping[str, str]] = dataclasses_field(default_factory=dict)
    # Secret files that configuration refers to, {service: {container path: secret name}}.
    secret_files: Mapping[str, Mapping[str, str]] = dataclasses_field(default_factory=dict)
    # Arguments appended to a service's command, {service: arguments} (PostgreSQL's WAL
    # archiving from infra/backups, which owns the backup policy).
    command_arguments: Mapping[str, Sequence[str]] = dataclasses_field(default_factory=dict)


def config_uploads(svc: Service, files: Mapping[str, str], secret_files: Mapping[str, str],
                   secrets: SecretsProvider) -> list[Upload]:
    uid, gid = _user_ids(svc)
    uploads = [Upload(path=path, content=content, mode=MODE_CONFIG, secret=False)
               for path, content in sorted(files.items())]
    uploads += [Upload(path=path, content=secrets.get(svc.name, name), secret=True,
                       mode=MODE_OWNER_ONLY if uid is not None else MODE_ALL_READ,
                       owner=uid, group=gid)
                for path, name in sorted(secret_files.items())]
    return uploads


def _in_dependency_order(services: Sequence[Service]) -> list[Service]:
    """Dependencies first (the model has rejected cycles and unknown names), then by name."""
    by_name = {s.name: s for s in services}
    done: set[str] = set()
    ordered: list[Service] = []

    def visit(svc: Service) -> None:
        if svc.name in done:
            return
        done.add(svc.name)
        for dep in sorted(svc.depends_on):
            if dep in by_name:
                visit(by_name[dep])
        ordered.append(svc)

    for svc in sorted(services, key=lambda s: s.name):
        visit(svc)
    return ordered


class DockerPlatform(pulumi.ComponentResource):
    """The whole platform on one Docker host."""

    def __init__(self, name: str, args: DockerPlatformArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rampart:docker:Platform", name, None, opts)
        platform = args.platform
        child = pulumi.ResourceOptions(parent=self)

        self.networks = {
            Network.EDGE: docker.Network(
                f"{name}-edge", name=f"{name}-edge", driver="bridge", internal=False,
                opts=child),
            # internal: no gateway out, so data stores cannot reach (or be reached from) outside.
            Network.BACKEND: docker.Network(
                f"{name}-backend", name=f"{name}-backend", driver="bridge", internal=True,
                opts=child),
        }

        edge_uploads: list[Upload] = []
        certificate = None
        if platform.edge.tls_mode == "self-signed":
            certificate = traefik.SelfSignedCertificate(
                f"{name}-edge-cert",
                traefik.SelfSignedCertificateArgs(domain=platform.edge.domain), opts=child)
        proxy = traefik.edge_service(platform)
        uid, gid = _user_ids(proxy)
        for f in traefik.edge_files(platform, certificate):
            if f.secret:
                edge_uploads.append(Upload(
                    path=f.path, content=f.content, secret=True, owner=uid, group=gid,
                    mode=MODE_OWNER_ONLY if uid is not None else MODE_ALL_READ))
            else:
                edge_uploads.append(Upload(path=f.path, content=f.content, secret=False,
                                           mode=MODE_CONFIG))
        if platform.edge.tls_mode == "acme" and proxy.replicas != 1:
            raise traefik.EdgeConfigError(
                f"{platform.source}: service '{traefik.SERVICE}': field 'replicas': ACME "
                "storage cannot be shared between Traefik instances; run one")

        # Named volumes once per platform: certificates, databases and backups survive
        # container replacement.
        self.volumes: dict[str, docker.Volume] = {}
        for svc in sorted(platform.services, key=lambda s: s.name):
            for v in svc.volumes:
                if v.host_path is None and v.name not in self.volumes:
                    self.volumes[v.name] = docker.Volume(
                        f"{name}-{v.name}", name=f"{name}-{v.name}",
                        labels=[docker.VolumeLabelArgs(label=k, value=val)
                                for k, val in svc.labels],
                        opts=child)

        # The ACME store lives on a fresh volume the Traefik image has no directory for, so
        # Docker creates it root-owned and an unprivileged Traefik could not write acme.json.
        # The init hands the directory to Traefik's user and creates acme.json with mode 0600
        # before Traefik starts (Traefik refuses a store readable by others).
        edge_after: list[docker.Container] = []
        if platform.edge.tls_mode == "acme":
            store = traefik.acme_volume(platform)
            edge_after.append(_volume_owner_init(
                f"{name}-{traefik.SERVICE}-acme-init", proxy, self.volumes[store.name],
                store.path, opts=child, private_file=traefik.acme_storage(platform)))

        # Hand-off volumes (pg-backup writes rampart_backup.prom, node-exporter reads it): the
        # writer owns the directory, readers keep read access; both start after the init.
        volume_inits: dict[str, list[docker.Container]] = {}
        for hand_off in hand_off_volumes(platform.services):
            init = _volume_owner_init(
                f"{name}-{hand_off.volume}-init", hand_off.writer,
                self.volumes[hand_off.volume], hand_off.path, opts=child,
                mode=MODE_SHARED_DIR)
            for svc in (hand_off.writer, *hand_off.readers):
                volume_inits.setdefault(svc.name, []).append(init)

        # Shared working volumes (PostgreSQL's WAL spool, written by postgres and emptied by
        # pg-backup, both uid 999): handed to that user, private to it.
        for shared in shared_volumes(platform.services):
            init = _volume_owner_init(
                f"{name}-{shared.volume}-init", shared.owner, self.volumes[shared.volume],
                shared.path, opts=child, mode=MODE_PRIVATE_DIR)
            for svc in shared.users:
                volume_inits.setdefault(svc.name, []).append(init)

        names = {s.name for s in platform.services}
        for service, files in (*args.config_files.items(), *args.secret_files.items()):
            if files and service not in names:
                raise ValueError(f"{platform.source}: configuration files for '{service}', "
                                 "which the catalog does not deploy")
        for service, extra in args.command_arguments.items():
            if extra and service not in names:
                raise ValueError(f"{platform.source}: command arguments for '{service}', "
                                 "which the catalog does not deploy")

        self.services: dict[str, ServiceContainer] = {}
        for svc in _in_dependency_order(platform.services):
            is_edge = svc.name == traefik.SERVICE
            uploads = secret_uploads(svc, args.secrets) + (edge_uploads if is_edge else [])
            uploads += config_uploads(svc, args.config_files.get(svc.name, {}),
                                      args.secret_files.get(svc.name, {}), args.secrets)
            self.services[svc.name] = ServiceContainer(
                f"{name}-{svc.name}",
                ServiceContainerArgs(
                    service=svc, networks=self.networks,
                    uploads=uploads,
                    published_ports=traefik.PUBLISHED_PORTS if is_edge else (),
                    named_volumes=self.volumes,
                    extra_command=tuple(args.command_arguments.get(svc.name, ())),
                    # On the container itself: a component's depends_on does not order the
                    # component's children.
                    after=[self.services[d].container for d in sorted(svc.depends_on)
                           if d in self.services and d not in svc.completed_dependencies],
                    # one-shot jobs and volume inits: started after they exited 0
                    after_completed=[self.services[d].container
                                     for d in sorted(svc.completed_dependencies)
                                     if d in self.services]
                    + (edge_after if is_edge else []) + volume_inits.get(svc.name, []),
                ),
                opts=child,
            )
        self.register_outputs({
            "networks": {n.value: net.name for n, net in self.networks.items()},
            "containers": {k: v.container.name for k, v in sorted(self.services.items())},
        })


def deploy(platform: Platform, secrets: SecretsProvider,
           config_files: Mapping[str, Mapping[str, str]] | None = None,
           secret_files: Mapping[str, Mapping[str, str]] | None = None,
           command_arguments: Mapping[str, Sequence[str]] | None = None) -> DockerPlatform:
    """Entry point used by `__main__.py` when the stack's target is `docker`."""
    return DockerPlatform(platform.name, DockerPlatformArgs(
        platform=platform, secrets=secrets, config_files=config_files or {},
        secret_files=secret_files or {}, command_arguments=command_arguments or {}))
