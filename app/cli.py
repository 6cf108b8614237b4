"""The ``restyle`` command: serve the app, check the backends, and (from other modules) manage
the catalogue and run previews. Subcommands register themselves with ``register(subparsers)``."""

from __future__ import annotations

import argparse
import json
import sys

from app.settings import SettingsError, apply_offline_defaults, load_settings


def _cmd_doctor(args, settings) -> int:
    from app.backends import CAPABILITIES, choose, doctor

    statuses = doctor(settings)
    if args.json:
        print(json.dumps([s.to_dict() for s in statuses], indent=2))
        return 0
    print(f"restyle doctor  (data dir: {settings.data_dir}, device: {settings.device})")
    for cap in CAPABILITIES:
        try:
            chosen = choose(cap, settings, statuses)
        except ValueError:
            chosen = None
        print(f"\n{cap}  ->  {chosen or 'NOTHING READY'}")
        for s in (s for s in statuses if s.capability == cap):
            mark = "ready" if s.ready else "not ready"
            tag = " (CPU default)" if s.default else ""
            print(f"  [{mark:>9}] {s.backend}{tag}: {s.detail}")
    return 0


def _cmd_serve(args, settings) -> int:
    from app.server import serve

    serve(settings, demo=args.demo)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="restyle", description="Generative room redesign and makeup try-on.")
    p.add_argument("--config", help="TOML settings file (also RESTYLE_CONFIG)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="start the web app")
    s.add_argument("--demo", action="store_true", help="make sure the demo catalogue is imported first")
    s.add_argument("--host", help="bind address (RESTYLE_HOST)")
    s.add_argument("--port", type=int, help="port (RESTYLE_PORT)")
    s.add_argument("--share", action="store_true", default=None, help="Gradio's public share link (needs internet)")
    s.set_defaults(func=_cmd_serve)

    d = sub.add_parser("doctor", help="list every backend: ready, or exactly why not")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=_cmd_doctor)

    for register in _registrars():
        register(sub)
    return p


def _registrars():
    from catalog.cli import register as catalog_register
    from pipelines.preview.cli import register as preview_register

    return [catalog_register, preview_register]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides = {k: getattr(args, k) for k in ("host", "port", "share") if getattr(args, k, None) is not None}
    try:
        settings = load_settings(args.config, **overrides)
    except SettingsError as e:
        print(f"restyle: invalid settings: {e}", file=sys.stderr)
        return 2
    apply_offline_defaults(settings)
    try:
        return args.func(args, settings) or 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
