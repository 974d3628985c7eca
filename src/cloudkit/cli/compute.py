"""``cloudkit compute``: instances, images, key pairs, security groups and volumes."""

from __future__ import annotations

import os
from pathlib import Path

import click

from cloudkit.cli._common import CloudkitGroup, LegacyGroup, confirm_destructive, get_cloud, render, render_one, yes_option
from cloudkit.errors import InvalidInput
from cloudkit.models.compute import SecurityRule

INSTANCE_COLUMNS = ["id", "name", "state", "instance_type", "image_id", "private_ip", "launched_at"]


def _pairs(values: tuple[str, ...], field: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(field, f"{item!r} must be KEY=VALUE")
        out[key] = value
    return out


def _rule(text: str) -> SecurityRule:
    """``tcp:22``, ``tcp:8000-8080:10.0.0.0/8``, ``icmp`` or ``-1`` (all traffic)."""
    parts = text.split(":")
    proto = parts[0]
    ports = parts[1] if len(parts) > 1 and parts[1] else None
    cidr = parts[2] if len(parts) > 2 else "0.0.0.0/0"
    lo = hi = None
    if ports is not None:
        first, _, last = ports.partition("-")
        try:
            lo = int(first)
            hi = int(last) if last else lo
        except ValueError:
            raise InvalidInput("--rule", f"{text!r} must be PROTO[:PORT[-PORT][:CIDR]]") from None
    return SecurityRule(protocol=proto, from_port=lo, to_port=hi, cidr=cidr)


#: Names of the first release, kept working (hidden, with a note) for one more release.
ALIASES = {
    "images": "list-images", "types": "list-instance-types", "create": "create-instance", "list": "list-instances",
    "status": "get-instance", "start": "start-instance", "stop": "stop-instance", "reboot": "reboot-instance",
    "terminate": "terminate-instance", "console": "get-console-output",
}


@click.group(cls=CloudkitGroup, aliases=ALIASES)
def group() -> None:
    """Instances (sandboxes on the local provider), images, key pairs, security groups, volumes."""


# ------------------------------------------------------------------ catalogue
@group.command("list-images")
@click.option("--name", help="Only images whose name matches (* wildcards).")
def images(name: str | None) -> None:
    """Images instances can boot from."""
    render(get_cloud().compute.list_images(name=name), ["id", "name", "owner", "description"], title="images")


@group.command("list-instance-types")
def types() -> None:
    """Instance types (sizes)."""
    render(get_cloud().compute.list_instance_types(), ["name", "vcpus", "memory_mb"], title="instance types")


# ------------------------------------------------------------------ instances
@group.command("create-instance")
@click.argument("name")
@click.option("--image", required=True, help="Image id (local: local:debian-host).")
@click.option("--type", "instance_type", required=True, help="Instance type (local: local.nano ... local.large).")
@click.option("--user-data", type=click.Path(exists=True, dir_okay=False), help="A #! script or #cloud-config file.")
@click.option("--key", "key_pair", help="Key pair to install.")
@click.option("--group", "groups", multiple=True, help="Security group id or name (repeatable).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Tag (repeatable).")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until the instance runs.")
def create(name: str, image: str, instance_type: str, user_data: str | None, key_pair: str | None,
           groups: tuple[str, ...], tags: tuple[str, ...], wait: bool) -> None:
    """Launch instance NAME."""
    text = Path(user_data).read_text() if user_data else None
    inst = get_cloud().compute.create_instance(
        name, image=image, instance_type=instance_type, key_pair=key_pair, security_groups=list(groups),
        user_data=text, tags=_pairs(tags, "--tag"), wait=wait,
    )
    render_one(inst)


@group.command("list-instances")
@click.option("--state", help="Only instances in this state.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Only instances with this tag (repeatable).")
def list_cmd(state: str | None, tags: tuple[str, ...]) -> None:
    """Instances."""
    render(get_cloud().compute.list_instances(state=state, tags=_pairs(tags, "--tag")), INSTANCE_COLUMNS, title="instances")


@group.command("get-instance")
@click.argument("instance")
def status(instance: str) -> None:
    """Show INSTANCE (an id)."""
    render_one(get_cloud().compute.get_instance(instance))


@group.command("start-instance")
@click.argument("instance")
def start(instance: str) -> None:
    """Start a stopped INSTANCE."""
    render_one(get_cloud().compute.start_instance(instance))


@group.command("stop-instance")
@click.argument("instance")
def stop(instance: str) -> None:
    """Stop INSTANCE (its disk is kept)."""
    render_one(get_cloud().compute.stop_instance(instance))


@group.command("reboot-instance")
@click.argument("instance")
def reboot(instance: str) -> None:
    """Reboot INSTANCE."""
    render_one(get_cloud().compute.reboot_instance(instance))


@group.command("terminate-instance")
@click.argument("instance")
@yes_option
def terminate(instance: str, yes: bool) -> None:
    """Terminate INSTANCE (its disk is gone)."""
    confirm_destructive(f"Terminate instance {instance}?", yes)
    render_one(get_cloud().compute.terminate_instance(instance))


@group.command("get-console-output")
@click.argument("instance")
def console(instance: str) -> None:
    """Print INSTANCE's console output."""
    click.echo(get_cloud().compute.get_console_output(instance), nl=False)


# ------------------------------------------------------------------ key pairs
@group.command("create-key-pair")
@click.argument("name")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the private key here (mode 0600) instead of printing it.")
def key_create(name: str, out: str | None) -> None:
    """Create key pair NAME; the private key is shown once."""
    kp = get_cloud().compute.create_key_pair(name)
    if out:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(kp.private_key or "")
        click.echo(f"created key pair {name} ({kp.fingerprint}); private key written to {out}")
    else:
        click.echo(kp.private_key or "", nl=False)


@group.command("import-key-pair")
@click.argument("name")
@click.argument("public_key_file", type=click.Path(exists=True, dir_okay=False))
def key_import(name: str, public_key_file: str) -> None:
    """Register an OpenSSH public key as NAME."""
    render_one(get_cloud().compute.import_key_pair(name, Path(public_key_file).read_text()))


@group.command("list-key-pairs")
def key_list() -> None:
    """Key pairs."""
    render(get_cloud().compute.list_key_pairs(), ["name", "fingerprint"], title="key pairs")


@group.command("delete-key-pair")
@click.argument("name")
@yes_option
def key_delete(name: str, yes: bool) -> None:
    """Delete key pair NAME."""
    confirm_destructive(f"Delete key pair {name}?", yes)
    get_cloud().compute.delete_key_pair(name)
    click.echo(f"deleted key pair {name}")


# ------------------------------------------------------------------ security groups
@group.command("create-security-group")
@click.argument("name")
@click.option("--description", default="", help="What the group is for.")
@click.option("--rule", "rules", multiple=True, metavar="PROTO[:PORT[-PORT][:CIDR]]", help="Ingress rule (repeatable).")
def group_create(name: str, description: str, rules: tuple[str, ...]) -> None:
    """Create security group NAME."""
    render_one(get_cloud().compute.create_security_group(name, description=description, rules=[_rule(r) for r in rules]))


@group.command("list-security-groups")
def group_list() -> None:
    """Security groups and their rules."""
    rows = [{"id": g.id, "name": g.name, "description": g.description,
             "rules": [f"{r.protocol}:{r.from_port}-{r.to_port}:{r.cidr}" for r in g.rules]}
            for g in get_cloud().compute.list_security_groups()]
    render(rows, ["id", "name", "description", "rules"], title="security groups")


@group.command("authorize-ingress")
@click.argument("group_ref")
@click.argument("rules", nargs=-1, required=True)
def group_authorize(group_ref: str, rules: tuple[str, ...]) -> None:
    """Add ingress RULES (PROTO[:PORT[-PORT][:CIDR]]) to GROUP_REF."""
    render_one(get_cloud().compute.authorize_ingress(group_ref, [_rule(r) for r in rules]))


@group.command("revoke-ingress")
@click.argument("group_ref")
@click.argument("rules", nargs=-1, required=True)
def group_revoke(group_ref: str, rules: tuple[str, ...]) -> None:
    """Remove ingress RULES from GROUP_REF."""
    render_one(get_cloud().compute.revoke_ingress(group_ref, [_rule(r) for r in rules]))


@group.command("delete-security-group")
@click.argument("group_ref")
@yes_option
def group_delete(group_ref: str, yes: bool) -> None:
    """Delete security group GROUP_REF."""
    confirm_destructive(f"Delete security group {group_ref}?", yes)
    get_cloud().compute.delete_security_group(group_ref)
    click.echo(f"deleted security group {group_ref}")


# ------------------------------------------------------------------ volumes
@group.command("create-volume")
@click.argument("size_gb", type=int)
@click.option("--name", help="Volume name.")
@click.option("--snapshot", help="Create from this snapshot.")
def volume_create(size_gb: int, name: str | None, snapshot: str | None) -> None:
    """Create a volume of SIZE_GB GiB."""
    render_one(get_cloud().compute.create_volume(size_gb, name=name, snapshot=snapshot))


@group.command("list-volumes")
def volume_list() -> None:
    """Volumes."""
    render(get_cloud().compute.list_volumes(), ["id", "name", "size_gb", "state", "attached_to", "device"], title="volumes")


@group.command("attach-volume")
@click.argument("volume")
@click.argument("instance")
@click.option("--device", default="/dev/sdf", show_default=True)
def volume_attach(volume: str, instance: str, device: str) -> None:
    """Attach VOLUME to INSTANCE."""
    render_one(get_cloud().compute.attach_volume(volume, instance, device))


@group.command("detach-volume")
@click.argument("volume")
def volume_detach(volume: str) -> None:
    """Detach VOLUME."""
    render_one(get_cloud().compute.detach_volume(volume))


@group.command("delete-volume")
@click.argument("volume")
@yes_option
def volume_delete(volume: str, yes: bool) -> None:
    """Delete a detached VOLUME."""
    confirm_destructive(f"Delete volume {volume}?", yes)
    get_cloud().compute.delete_volume(volume)
    click.echo(f"deleted volume {volume}")


@group.command("create-volume-snapshot")
@click.argument("volume")
@click.option("--description", default="")
def volume_snapshot(volume: str, description: str) -> None:
    """Snapshot VOLUME."""
    render_one(get_cloud().compute.create_volume_snapshot(volume, description=description))


@group.command("list-volume-snapshots")
def volume_snapshots() -> None:
    """Volume snapshots."""
    render(get_cloud().compute.list_volume_snapshots(), ["id", "volume_id", "size_gb", "state", "description", "created_at"],
           title="volume snapshots")


# ------------------------------------------------------------------ the first release's sub-groups
_LEGACY = {
    "keys": {"create": "create-key-pair", "import": "import-key-pair", "list": "list-key-pairs",
             "delete": "delete-key-pair"},
    "groups": {"create": "create-security-group", "list": "list-security-groups", "authorize": "authorize-ingress",
               "revoke": "revoke-ingress", "delete": "delete-security-group"},
    "volumes": {"create": "create-volume", "list": "list-volumes", "attach": "attach-volume", "detach": "detach-volume",
                "delete": "delete-volume", "snapshot": "create-volume-snapshot", "snapshots": "list-volume-snapshots"},
}
for _name, _names in _LEGACY.items():
    group.add_command(LegacyGroup(group, _names, name=_name, help="The first release's names.", hidden=True))
