"""``run.py modules``: installed and enabled channel modules."""

from __future__ import annotations

import argparse

from agent.config import Config
from agent.errors import EXIT_OK
from agent.plugins import discover


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    sub.add_parser("modules", parents=[common], help="list installed and enabled modules")


def run(config: Config, args: argparse.Namespace) -> int:
    plugins = discover()
    configured = set(config.modules())
    width = max([len(n) for n in plugins | dict.fromkeys(configured)] + [6])
    print(f"{'module':{width}}  enabled  entry point / summary")
    for name, plugin in plugins.items():
        enabled = "yes" if config.enabled(name) else "no"
        what = plugin.error or f"{plugin.target} — {plugin.summary}"
        print(f"{name:{width}}  {enabled:7}  {what}")
    for name in sorted(configured - set(plugins)):
        state = "yes" if config.enabled(name) else "no"
        print(f"{name:{width}}  {state:7}  configured but NOT INSTALLED")
    return EXIT_OK
