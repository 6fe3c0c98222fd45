"""`gateway alerts run | demo-stream`: the alert worker, and the demo's simulated meter stream."""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from gateway.settings import Settings, load_settings


def _settings(args: argparse.Namespace) -> Settings:
    s = load_settings(Path(args.settings) if getattr(args, "settings", None) else None, None)
    if args.demo:  # the demo's SQL departments; its HTTP ones are not needed by the watch list
        from demo.launch import ENV_VARS, demo_environment
        from gateway.serve import PLACEHOLDER_URL

        os.environ.update(demo_environment(s.demo_dir, dict.fromkeys(ENV_VARS, PLACEHOLDER_URL)))
    return s


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.alerts.worker import AlertWorker, Shard
    from gateway.logs import setup

    s = _settings(args)
    setup(s.log_format)
    try:
        shard = Shard.parse(args.shard)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await AlertWorker(s, shard).run(stop)

    asyncio.run(main())
    return 0


def cmd_demo_stream(args: argparse.Namespace) -> int:
    from demo.water_stream import accounts_of, publish
    from gateway.alerts.worker import watched_now

    s = _settings(args)
    watch = asyncio.run(watched_now(s))
    accounts = sorted(watch)
    start = dt.datetime.fromisoformat(args.start) if args.start else \
        dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=args.hours)
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    silent = {a: start + dt.timedelta(hours=2) for a in accounts[:: max(1, len(accounts) // max(args.silent, 1))]
              [:args.silent]}
    for a, since in silent.items():
        print(f"silent from {since.isoformat()}: account {a}, house {watch[a].house}, "
              f"committee {watch[a].committee}")
    if args.all:
        accounts = sorted(set(accounts) | set(accounts_of(s.demo_dir)))
    sent = asyncio.run(publish(s.mqtt_url, s.mqtt_prefix, accounts, start, args.hours, silent, args.speed))
    print(f"published {sent} readings of {len(accounts)} meters over {args.hours} simulated hours")
    return 0


def alerts_parser(sub: Any) -> None:
    al = sub.add_parser("alerts", help="the 24-hour water alert: worker and demo stream",
                        description="Water alerts (docs/alerts.md): an elder living alone whose house used no water "
                                    "for 24 hours.")
    asub = al.add_subparsers(dest="action", required=True, metavar="ACTION", help="one of these")
    ar = asub.add_parser("run", help="run one alert worker", description="Read the meter stream from mqtt_url and "
                         "raise alerts into the alert store (alerts_url) until SIGTERM.")
    ar.add_argument("--shard", default="0/1", metavar="I/N", help="this worker's share of the meters: worker I of N "
                    "(default: %(default)s)")
    ar.set_defaults(fn=cmd_run)
    ad = asub.add_parser("demo-stream", help="publish the demo's simulated meter readings",
                         description="Publish hourly readings of the watched houses' meters, some of which stop "
                                     "using water two simulated hours in.")
    ad.add_argument("--hours", type=int, default=36, help="simulated hours (default: %(default)s)")
    ad.add_argument("--speed", type=float, default=3600.0, help="time compression: simulated seconds per real "
                    "second (default: %(default)s, an hour a second)")
    ad.add_argument("--silent", type=int, default=3, help="meters that stop using water (default: %(default)s)")
    ad.add_argument("--start", metavar="ISO-TIME", help="simulated start (default: --hours before now)")
    ad.add_argument("--all", action="store_true", help="publish every meter of the utility, not only the watched")
    ad.set_defaults(fn=cmd_demo_stream)
    for p in (ar, ad):
        p.add_argument("--demo", action="store_true", help="read the demo's department databases (var/demo)")
    logging.getLogger("aiomqtt").setLevel(logging.WARNING)
