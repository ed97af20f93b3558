"""`rampart lab up|down|status|ssh HOST`: the lab hosts lifecycle (docs/lab.md).

Exit codes (DESIGN §5): 0 ok; 1 an operation or check failed; 2 usage or input error,
nothing changed (unknown option or host name, a bad --subnet/--host/--name/--bridge or
RAMPART_LAB, an unusable cache dir); 3 a lab host or the apt proxy is unavailable (not
running, not ready, not listening).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

# infra.lab and its config are light; the lifecycle (nspawn, netns, rootfs), the SSH helpers
# and rich are imported by the commands that use them, not by every `rampart` invocation.
from infra.cli.errors import CHECK_FAILED, INPUT_ERROR, UNAVAILABLE
from infra.lab import LabConfig, LabError, default_lab
from infra.lab.config import DEFAULT_RUN_BASE, make_lab
from infra.lab.errors import LabInputError, LabUnavailableError

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(no_args_is_help=True, add_completion=False)


@functools.cache
def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr)


def exit_code(exc: LabError) -> int:
    """The contract's exit code for a lab error (see the module docstring)."""
    if isinstance(exc, LabInputError):
        return INPUT_ERROR
    if isinstance(exc, LabUnavailableError):
        return UNAVAILABLE
    return CHECK_FAILED


def _fail(exc: LabError, code: int | None = None) -> typer.Exit:
    """Print the error on stderr and return the `typer.Exit` to raise: `code`, else the one
    its class stands for."""
    from rich.markup import escape

    err = _console(stderr=True)
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    return typer.Exit(exit_code(exc) if code is None else code)


def _lab(ctx: typer.Context) -> LabConfig:
    lab: LabConfig = ctx.obj
    return lab


@app.callback()
def lab_options(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Lab name (prefix of netns and machines).")] = "",
    bridge: Annotated[str, typer.Option(help="Bridge interface of the lab.")] = "",
    subnet: Annotated[str, typer.Option(help="The lab's /24 (bridge takes .1).")] = "",
    host: Annotated[
        list[str] | None, typer.Option(help="NAME=ADDRESS, repeat per host.", show_default=False)
    ] = None,
    state_dir: Annotated[
        Path | None, typer.Option(help="Lab key and known_hosts (default: per-lab run dir).")
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            help="Base rootfs and apt proxy cache (default: $RAMPART_CACHE_DIR, else "
            "/var/cache/rampart). An empty one builds everything as on a new machine.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """The default lab is the contract's four hosts; options describe another, separate lab."""
    _describe_lab(ctx, name, bridge, subnet, host, state_dir)
    if cache_dir is not None:
        ctx.obj = dataclasses.replace(ctx.obj, cache_dir=cache_dir.absolute())


def _describe_lab(
    ctx: typer.Context,
    name: str,
    bridge: str,
    subnet: str,
    host: list[str] | None,
    state_dir: Path | None,
) -> None:
    from rich.markup import escape

    err = _console(stderr=True)
    custom = [opt for opt, val in (("--bridge", bridge), ("--subnet", subnet)) if val]
    if not (name or custom or host or state_dir) or (name == "rampart" and not custom and not host):
        try:
            ctx.obj = default_lab()
        except LabError as exc:  # a bad RAMPART_LAB
            raise _fail(exc, INPUT_ERROR) from exc
        return
    missing = [
        opt
        for opt, val in (
            ("--name", name),
            ("--bridge", bridge),
            ("--subnet", subnet),
            ("--host", host),
        )
        if not val
    ]
    if missing:
        err.print(f"[bold red]error:[/] a lab other than the default needs {', '.join(missing)}")
        raise typer.Exit(INPUT_ERROR)
    pairs = []
    for item in host or []:
        hname, sep, addr = item.partition("=")
        if not sep:
            err.print(f"[bold red]error:[/] --host {escape(repr(item))}: expected NAME=ADDRESS",
                      highlight=False)
            raise typer.Exit(INPUT_ERROR)
        pairs.append((hname, addr))
    try:
        ctx.obj = make_lab(
            name, bridge, subnet, pairs, state_dir or DEFAULT_RUN_BASE / name / "state"
        )
    except LabError as exc:  # a bad name, bridge, subnet or host address: the options'
        raise _fail(exc, INPUT_ERROR) from exc


@app.command()
def up(ctx: typer.Context) -> None:
    """Create or start every host (idempotent); builds the base rootfs once.

    Exit 2 for an unusable cache dir or lab option (nothing changed), 3 when a host or the
    apt proxy does not come up, 1 for any other failure."""
    from infra.lab import lifecycle

    console = _console()
    lab = _lab(ctx)
    try:
        with console.status(f"lab {lab.name}: starting") as spinner:
            report = lifecycle.up(
                lab, progress=lambda msg: spinner.update(f"lab {lab.name}: {msg}")
            )
    except LabError as exc:
        raise _fail(exc) from exc
    parts = []
    if report.started:
        parts.append(f"started {', '.join(report.started)}")
    if report.already_running:
        parts.append(f"already running {', '.join(report.already_running)}")
    built = " (base rootfs built)" if report.rootfs_built else ""
    for tree in report.discarded:
        console.print(f"discarded a half-built base rootfs (interrupted build): {tree}")
    console.print(
        f"lab {lab.name} up in {report.seconds['total']:.1f}s{built}: {'; '.join(parts)}",
        highlight=False,
    )


@app.command()
def down(ctx: typer.Context) -> None:
    """Stop every host and remove its root, netns, veth, the proxy and the bridge."""
    from infra.lab import lifecycle

    console = _console()
    lab = _lab(ctx)
    try:
        with console.status(f"lab {lab.name}: stopping") as spinner:
            seconds = lifecycle.down(lab, progress=lambda m: spinner.update(f"lab {lab.name}: {m}"))
    except LabError as exc:
        raise _fail(exc) from exc
    console.print(f"lab {lab.name} down in {seconds:.1f}s", highlight=False)


@app.command()
def status(ctx: typer.Context) -> None:
    """Show bridge, proxy and hosts; exit 3 unless every part is up."""
    from rich.table import Table

    from infra.lab import lifecycle

    console = _console()
    lab = _lab(ctx)
    try:
        st = lifecycle.status(lab)
    except LabError as exc:
        raise _fail(exc) from exc
    table = Table(title=f"lab {st.name} (bridge {st.bridge} {lab.bridge_cidr})")
    for col in ("host", "address", "nspawn PID", "netns", "veth", "systemd"):
        table.add_column(col)
    for h in st.hosts:
        ok = h.systemd in ("running", "degraded")
        table.add_row(
            h.name,
            h.address,
            str(h.nspawn_pid or "-"),
            "yes" if h.netns else "no",
            "yes" if h.veth else "no",
            f"[green]{h.systemd}[/]" if ok else f"[red]{h.systemd}[/]",
        )
    console.print(table)
    proxy_state = (
        f"PID {st.proxy_pid}, listening on {lab.proxy_url}" if st.proxy_listening else "not running"
    )
    console.print(f"bridge: {'up' if st.bridge_up else 'absent'}", highlight=False)
    console.print(f"apt proxy: {proxy_state}", highlight=False)
    console.print(f"base rootfs: {st.rootfs or '-'}", highlight=False)
    if not st.all_up:
        raise typer.Exit(UNAVAILABLE)


def ssh_(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(help="Lab host name, e.g. edge1.")],
    command: Annotated[
        list[str] | None, typer.Argument(help="Command to run (default: shell).")
    ] = None,
) -> None:
    """SSH into a lab host as the admin user, with the lab key and pinned host keys.

    Exit 2 for a host the lab does not have, 3 when the lab has no key yet or the host is not
    running; otherwise ssh takes over and its exit code is the command's (the remote
    command's, 255 when ssh itself fails)."""
    from infra.lab import ssh

    lab = _lab(ctx)
    try:
        spec = lab.host(host)
    except LabError as exc:  # an unknown host name
        raise _fail(exc, INPUT_ERROR) from exc
    if not lab.key_path.is_file() or not lab.known_hosts_path.is_file():
        raise _fail(
            LabUnavailableError(
                f"lab {lab.name} has no key or known_hosts in {lab.state_dir}: run `rampart lab up`"
            )
        )
    if not _running(lab, spec.name):
        raise _fail(
            LabUnavailableError(
                f"lab {lab.name}: host {spec.name} ({spec.address}) is not running: run "
                "`rampart lab up` (`rampart lab status` shows every host)"
            )
        )
    args = ssh.ssh_command(
        lab, spec, [*(command or []), *ctx.args], tty=not command and sys.stdin.isatty()
    )
    sys.stdout.flush()
    os.execvp(args[0], args)  # noqa: S606 - the shell session replaces this process


def _running(lab: LabConfig, host: str) -> bool:
    """Whether the lab's record has the host's systemd-nspawn alive (local files only: no
    network, no namespaces). An unreadable record is no reason to refuse: ssh will tell."""
    from infra.lab import state

    try:
        proc = state.load(lab.state_file).host(host).nspawn
    except (OSError, ValueError, KeyError, TypeError):
        return True
    return proc is not None and proc.alive()


app.command("ssh", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    ssh_
)
