"""Hearing: voice activity, end of turn, and audio → heard scenes."""
