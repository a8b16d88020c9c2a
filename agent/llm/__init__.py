"""A language model as the mind's optional helper for wording ("10 % a language model").

The scene machinery decides what to say; a model served over the OpenAI-compatible chat API
(llama.cpp's server, Ollama, vLLM, LM Studio — or the bundled SmolLM2-135M served by
llama.cpp through ``xllamacpp``) words it, streaming, sentence by sentence. A slow,
unreachable or rambling model falls back to the rule mind's own reply.

``options.py`` the ``[modules.mind.llm]`` table; ``prompt.py`` the scene as the model's
context; ``sentences.py`` tokens → checked sentences; ``client.py`` the streaming request;
``wording.py`` the stream onto the bus; ``bundled.py`` the bundled model's server process
(``serve.py`` is that process).
"""
