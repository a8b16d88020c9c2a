#!/usr/bin/env python3
"""scenevoice's entry point: ``python run.py [COMMAND]`` (the same as the ``scenevoice`` script)."""

import sys

from agent.cli import main

if __name__ == "__main__":
    sys.exit(main())
