"""The bundled model's server process: ``python -m agent.llm.serve --model FILE [--threads N]``.

llama.cpp's HTTP server (through ``xllamacpp``) on 127.0.0.1, on a free port; prints one
JSON line ``{"url": "http://127.0.0.1:PORT/v1"}`` once it listens, and exits when its stdin
closes (the agent that started it has stopped or died). Model id: ``smollm2``. It answers
only requests that carry the key in ``$SCENEVOICE_LLM_KEY`` (the agent makes one per run),
so that nothing else on the machine — a web page in a browser, another user — uses it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

#: the environment variable that carries the key (not the command line, which others can read).
KEY_ENV = "SCENEVOICE_LLM_KEY"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="the GGUF file")
    p.add_argument("--threads", type=int, default=1, help="threads that generate tokens")
    p.add_argument("--batch-threads", type=int, default=2, help="threads that read the prompt")
    p.add_argument("--ctx", type=int, default=2048, help="context length (tokens)")
    args = p.parse_args()
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = args.model
    params.model_alias = {"smollm2"}
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.n_ctx = args.ctx
    params.n_parallel = 1
    if os.environ.get(KEY_ENV):
        params.api_keys = [os.environ[KEY_ENV]]
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.batch_threads
    server = xlc.Server(params)
    print(json.dumps({"url": f"{server.listening_address}/v1"}), flush=True)
    sys.stdin.read()  # until the agent closes it (or dies)
    return 0


if __name__ == "__main__":
    sys.exit(main())
