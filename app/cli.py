"""The `hexcri` command line: serve, check, play, version, config show, demo.

Global options (`--config`) are accepted before or after the subcommand: each subcommand
takes them through `GLOBAL` as an argparse parent, with SUPPRESS defaults so that a value
given before the subcommand is not overwritten by the subcommand's default.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from app import settings as config
from app.version import VERSION

GLOBAL = argparse.ArgumentParser(add_help=False)
GLOBAL.add_argument(
    "--config",
    metavar="FILE",
    default=argparse.SUPPRESS,
    help=f"TOML config file (default: $HEXCRI_CONFIG, else {config.DEFAULT_CONFIG})",
)


def _address(value: str) -> str:
    try:
        return config.Settings._host_port(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str, text: str
) -> argparse.ArgumentParser:
    """A subcommand that takes the global options too."""
    return sub.add_parser(name, help=summary, description=text, parents=[GLOBAL])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hexcri",
        description="A Kubernetes CRI server on containerd, CNI and OCI registries.",
        parents=[GLOBAL],
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="what to do (COMMAND --help: more)"
    )
    serve = _command(
        sub,
        "serve",
        "serve the CRI on a unix socket",
        "Serve the CRI (RuntimeService, ImageService) on a unix socket until SIGTERM.",
    )
    serve.add_argument(
        "--backend",
        choices=["memory", "containerd"],
        help="containerd (real containers) or memory (the simulator); overrides `backend`",
    )
    serve.add_argument("--socket", metavar="PATH", help="the CRI socket; overrides `socket`")
    serve.add_argument(
        "--log-level", metavar="LEVEL", help="DEBUG, INFO, WARNING...; overrides `log_level`"
    )
    serve.add_argument(
        "--log-format", choices=["text", "json"], help="log line format; overrides `log_format`"
    )
    serve.add_argument(
        "--metrics-address",
        metavar="HOST:PORT",
        type=_address,
        help="serve Prometheus /metrics here; overrides `metrics_address`",
    )
    _command(
        sub,
        "check",
        "check that this node is ready for hexcri",
        "Check containerd (reachable, its CRI plugin off), runc, CNI, cgroups, the sandbox "
        "image and the addresses hexcri binds; print one line per requirement with a fix for "
        "each failure; exit 1 if any fails.",
    )
    _command(sub, "version", "print the version", "Print hexcri's version and CRI version.")
    demo = _command(
        sub,
        "demo",
        "run one pod through a running hexcri's CRI socket",
        "Run one pod with one container through a running hexcri and print its output.",
    )
    demo.add_argument(
        "--socket", default="/run/hexcri/hexcri.sock", help="the CRI socket of the hexcri to use"
    )
    demo.add_argument(
        "--image", default="docker.io/library/busybox:latest", help="the container's image"
    )
    demo.add_argument(
        "cmd",
        metavar="COMMAND",
        nargs="*",
        default=["echo", "hello from hexcri"],
        help="the container's command (default: echo hello from hexcri)",
    )
    _play_parser(sub)
    show = _command(sub, "config", "configuration", "Show hexcri's configuration.")
    actions = show.add_subparsers(dest="action", metavar="ACTION", help="show (the default)")
    actions.add_parser(
        "show",
        help="print the effective configuration as JSON",
        description="Print the effective configuration (file, environment, defaults) as JSON.",
        parents=[GLOBAL],
    )
    return parser


def load_settings(args: argparse.Namespace) -> config.Settings | None:
    """The settings, or None after printing what is wrong with them (file and key)."""
    try:
        return config.load(getattr(args, "config", None))
    except (FileNotFoundError, ValueError) as exc:
        print(f"hexcri: {exc}", file=sys.stderr)
        return None


def _play_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    play = _command(
        sub,
        "play",
        "run the pods of a Kubernetes manifest once, no daemon",
        "Run the Pods of a Kubernetes manifest file (with its ConfigMaps and Secrets) once, "
        "where no hexcri daemon runs: pull, create, start, print their states and pod IPs.",
    )
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
    from app import logs

    logs.setup("WARNING", settings.log_format)
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
    settings = load_settings(args)
    if settings is None:
        return 2
    if args.command == "config":
        print(settings.model_dump_json(indent=2))
        return 0
    if args.command == "check":
        from app.check import main as check

        return check(settings)
    if args.command == "play":
        return _play(args, settings)
    flags = {
        "backend": args.backend,
        "socket": args.socket,
        "log_level": args.log_level,
        "log_format": args.log_format,
        "metrics_address": args.metrics_address,
    }
    settings = settings.model_copy(update={k: v for k, v in flags.items() if v})
    from app import logs
    from app.lifecycle import serve

    logs.setup(settings.log_level, settings.log_format)
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
