"""Command line for the local federation: up, down, stop, start, build."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from tests.localcluster import (
    LocalClusterError,
    NodeShape,
    build_all,
    cluster_names,
    down,
    start_server,
    stop_server,
    up,
)

SHAPE_KEYS = {"nodes": int, "cpu": str, "memory": str, "pods": int}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            if args.members < 1:
                parser.error("--members must be at least 1")
            up(args.dir, args.members, workloads=_workloads(parser, args))
            print(f"kubeconfig: {(args.dir / 'kubeconfig').resolve()}")
        elif args.command == "down":
            down(args.dir)
        elif args.command == "stop":
            stop_server(args.dir, args.name)
        elif args.command == "start":
            start_server(args.dir, args.name)
        else:
            for binary in build_all():
                print(binary)
    except (LocalClusterError, KeyError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.localcluster")
    commands = parser.add_subparsers(dest="command", required=True)
    up_cmd = commands.add_parser("up", help="start etcd, a host and N members; wait until ready")
    up_cmd.add_argument("--dir", type=Path, required=True)
    up_cmd.add_argument("--members", type=int, default=2)
    shape = NodeShape()
    up_cmd.add_argument(
        "--workloads",
        action="store_true",
        help="members run a controller manager, a scheduler and simulated nodes (KWOK)",
    )
    up_cmd.add_argument("--nodes", type=int, default=shape.nodes, help="nodes per member")
    up_cmd.add_argument("--node-cpu", default=shape.cpu, help="CPU of each node")
    up_cmd.add_argument("--node-memory", default=shape.memory, help="memory of each node")
    up_cmd.add_argument("--node-pods", type=int, default=shape.pods, help="pods per node")
    up_cmd.add_argument(
        "--member",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE,...",
        help="one member's own nodes, e.g. member-2:nodes=3,cpu=2 (keys: nodes, cpu, memory, pods)",
    )
    down_cmd = commands.add_parser("down", help="stop every process and remove the data")
    down_cmd.add_argument("--dir", type=Path, required=True)
    for name in ("stop", "start"):
        one = commands.add_parser(
            name, help=f"{name} one apiserver (host, member-1, ...) and its controllers"
        )
        one.add_argument("--dir", type=Path, required=True)
        one.add_argument("--name", required=True)
    commands.add_parser("build", help="build (or reuse) the cached binaries; print their paths")
    return parser


def _workloads(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, NodeShape]:
    if not args.workloads:
        if args.member:
            parser.error("--member needs --workloads")
        return {}
    default = NodeShape(args.nodes, args.node_cpu, args.node_memory, args.node_pods)
    shapes = {name: default for name in cluster_names(args.members)[1:]}
    for spec in args.member:
        name, _, settings = spec.partition(":")
        if name not in shapes:
            parser.error(f"--member {spec}: no member {name!r} (members: {', '.join(shapes)})")
        changes: dict[str, object] = {}
        for setting in filter(None, settings.split(",")):
            key, equals, value = setting.partition("=")
            if not equals or key not in SHAPE_KEYS:
                keys = ", ".join(SHAPE_KEYS)
                parser.error(f"--member {spec}: expected KEY=VALUE with KEY one of {keys}")
            try:
                changes[key] = SHAPE_KEYS[key](value)
            except ValueError:
                parser.error(f"--member {spec}: {key} must be a whole number")
        shapes[name] = dataclasses.replace(shapes[name], **changes)  # type: ignore[arg-type]
    return shapes


if __name__ == "__main__":
    sys.exit(main())
