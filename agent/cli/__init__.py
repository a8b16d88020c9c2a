"""scenevoice's command line: ``python run.py [COMMAND]`` (or the ``scenevoice`` script).

One file per command (``analyze``, ``say``, ``talk``, ``plot``, ``models``, ``modules``),
each with ``add_parser`` and ``run``; :mod:`agent.cli.main` parses the options shared by
every command and maps errors to exit codes through :mod:`agent.errors`.

Commands publish request scenes on the bus and print what comes back; they know no
module by name. Scenes go to stdout as JSON lines; messages for people go to stderr.
Exit codes: 0 done; 1 internal error; 2 bad input (a file that is not usable audio, no
speech to answer, a wrong config); 3 the machine lacks something (a model, a device, a
module).
"""

from agent.cli.main import main

__all__ = ["main"]
