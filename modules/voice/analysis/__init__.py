"""The listening analyser: timbre and prosody measured from audio."""
