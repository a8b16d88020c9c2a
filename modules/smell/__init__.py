"""SmellNet stub: sensor readings or nose labels → smell scenes through a rule table (no learned model)."""

from modules.smell.module import SmellNet

__all__ = ["SmellNet"]
