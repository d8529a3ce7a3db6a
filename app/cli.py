"""The `hexcri` command line: serve, play, version, config show, demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from app import settings as config
from app.container import VERSION


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hexcri", description="A Kubernetes CRI server.")
    parser.add_argument("--config", help=f"TOML config file (default {config.DEFAULT_CONFIG})")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the CRI on a unix socket")
    serve.add_argument("--backend", choices=["memory", "containerd"])
    serve.add_argument("--socket", help="unix socket path")
    sub.add_parser("version", help="print the version")
    demo = sub.add_parser("demo", help="run one pod through a running hexcri's CRI socket")
    demo.add_argument("--socket", default="/run/hexcri/hexcri.sock")
    demo.add_argument("--image", default="docker.io/library/busybox:latest")
    demo.add_argument("cmd", metavar="COMMAND", nargs="*", default=["echo", "hello from hexcri"])
    _play_parser(sub)
    show = sub.add_parser("config", help="configuration").add_subparsers(dest="action")
    show.add_parser("show", help="print the effective configuration as JSON")
    return parser


def _play_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    play = sub.add_parser("play", help="run the pods of a Kubernetes manifest once, no daemon")
    play.add_argument("file", metavar="FILE", help="YAML: Pods, ConfigMaps, Secrets")
    mode = play.add_mutually_exclusive_group()
    mode.add_argument("--down", action="store_true", help="remove the file's pods")
    mode.add_argument("--logs", action="store_true", help="print the file's pods' logs")
    play.add_argument("--follow", "-f", action="store_true", help="then stream the logs")
    play.add_argument("--backend", choices=["memory", "containerd"], help="memory: a dry run")
    play.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for a start")


def _play(args: argparse.Namespace, settings: config.Settings) -> int:
    from app.play import Options
    from app.play import main as play

    if args.backend:
        settings = settings.model_copy(update={"backend": args.backend})
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    options = Options(args.file, args.down, args.logs, args.follow, args.timeout)
    return play(settings, options)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(f"hexcri {VERSION} (CRI v1)")
        return 0
    if args.command == "demo":
        from app.demo import main as demo

        return demo(args.socket, args.image, args.cmd)
    try:
        settings = config.load(args.config)
    except (FileNotFoundError, ValueError) as exc:
        print(f"hexcri: {exc}", file=sys.stderr)
        return 2
    if args.command == "config":
        print(settings.model_dump_json(indent=2))
        return 0
    if args.command == "play":
        return _play(args, settings)
    overrides = {k: v for k, v in (("backend", args.backend), ("socket", args.socket)) if v}
    settings = settings.model_copy(update=overrides)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if logging.root.level > logging.DEBUG:  # a line per registry request: debug only
        for chatty in ("httpx", "httpcore"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
    from app.lifecycle import serve

    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
