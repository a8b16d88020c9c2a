"""Home Assistant's speech protocol (Wyoming) in front of the agent: ``run.py wyoming``.

One concept per file, the ``wyoming`` package doing the protocol:

- :mod:`agent.wyoming.wire`: reading events with limits (a client cannot make the server
  hold more than :data:`~agent.wyoming.wire.MAX_BLOCK_BYTES` for one event).
- :mod:`agent.wyoming.info`: the ``info`` answer to ``describe`` (the ASR and TTS programs,
  from the engines the config uses).
- :mod:`agent.wyoming.recording`: one transcription's audio, checked, converted to what the
  agent hears (16 kHz mono 16-bit) and written to a temporary WAV as it arrives.
- :mod:`agent.wyoming.voice`: the agent's ears and voice over one :class:`~agent.session.Session`
  (``listen.turn`` → ``turn``; ``reply`` → ``spoken``).
- :mod:`agent.wyoming.handler`: one client connection (the ``AsyncEventHandler``).
- :mod:`agent.wyoming.server`: the server's life: the session, the socket, zeroconf, signals.
"""
