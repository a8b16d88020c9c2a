"""``run.py models``: each engine, where its weights are, whether it is ready."""

from __future__ import annotations

import argparse

from agent.cli.common import say
from agent.config import Config
from agent.errors import EXIT_MACHINE, EXIT_OK
from agent.plugins import discover


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("models", parents=[common], help="show each engine's weights and readiness")
    p.add_argument("--prepare", action="store_true", help="convert/cache bundled models now")


def run(config: Config, args: argparse.Namespace) -> int:
    plugins = discover()
    rows = []
    for name, plugin in plugins.items():
        if plugin.cls is None or not config.enabled(name):
            continue
        options = config.module_options(name)
        engines = plugin.cls.engines(options)
        if args.prepare and engines:
            say(f"preparing the models of {name} …")
            plugin.cls.prepare(options)
            engines = plugin.cls.engines(options)
        rows += [(name, r) for r in engines]
    if not rows:
        say("no enabled module uses a model")
        return EXIT_OK
    print(f"{'module':7} {'role':4} {'engine':15} {'model':17} {'use':7} {'ready':5}  where / detail")
    for name, r in rows:
        use = "default" if r.default else "option"
        ready = "yes" if r.ready else "NO"
        print(f"{name:7} {r.role:4} {r.engine:15} {r.model:17} {use:7} {ready:5}  {r.where}")
        if r.detail:
            print(f"{'':52}{r.detail}")
    missing = [r for _, r in rows if r.default and not r.ready]
    for r in missing:
        say(f"not ready: {r.role} engine {r.engine} ({r.model}): {r.detail}")
    return EXIT_MACHINE if missing else EXIT_OK
