"""Command line for the local federation: up, down, stop, start, build."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tests.localcluster import LocalClusterError, build_server, down, start_server, stop_server, up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.localcluster")
    commands = parser.add_subparsers(dest="command", required=True)
    up_cmd = commands.add_parser("up", help="start etcd, a host and N members; wait until ready")
    up_cmd.add_argument("--dir", type=Path, required=True)
    up_cmd.add_argument("--members", type=int, default=2)
    down_cmd = commands.add_parser("down", help="stop every process and remove the data")
    down_cmd.add_argument("--dir", type=Path, required=True)
    for name in ("stop", "start"):
        one = commands.add_parser(name, help=f"{name} one apiserver (host, member-1, ...)")
        one.add_argument("--dir", type=Path, required=True)
        one.add_argument("--name", required=True)
    commands.add_parser("build", help="build (or reuse) the cached server binary; print its path")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            if args.members < 1:
                parser.error("--members must be at least 1")
            up(args.dir, args.members)
            print(f"kubeconfig: {(args.dir / 'kubeconfig').resolve()}")
        elif args.command == "down":
            down(args.dir)
        elif args.command == "stop":
            stop_server(args.dir, args.name)
        elif args.command == "start":
            start_server(args.dir, args.name)
        else:
            print(build_server())
    except (LocalClusterError, KeyError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
