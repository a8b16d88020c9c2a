"""MemoryAnchor: the user's biography as a field — every scene kept, facts, recall."""

from modules.memory.module import MemoryAnchor

__all__ = ["MemoryAnchor"]
