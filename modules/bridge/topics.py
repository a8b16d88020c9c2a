"""The topic layout: ``scenevoice/<site>/scene/<kind>`` for scenes (the site that sent
them), ``scenevoice/<site>/ack/<to>`` for the ids a site confirms to another, and
``scenevoice/<site>/status`` (retained ``online``/``offline``) for presence.

A site publishes only under its own ``scenevoice/<site>/`` (the broker's ACL can say so
with one pattern line, ``pattern write scenevoice/%u/#``), and a receiver filters by kind
with one wildcard (``scenevoice/+/scene/turn``).
"""

from __future__ import annotations

ROOT = "scenevoice"


def scene_topic(site: str, kind: str) -> str:
    return f"{ROOT}/{site}/scene/{kind}"


def scenes_of_kind(kind: str) -> str:
    """The filter for scenes of ``kind`` from every site."""
    return f"{ROOT}/+/scene/{kind}"


def ack_topic(site: str, to: str) -> str:
    return f"{ROOT}/{site}/ack/{to}"


def acks_to(site: str) -> str:
    """The filter for every site's confirmations to ``site``."""
    return f"{ROOT}/+/ack/{site}"


def status_topic(site: str) -> str:
    return f"{ROOT}/{site}/status"


def site_of(topic: str) -> str | None:
    """The sending site of a topic of this layout, or None."""
    parts = topic.split("/")
    return parts[1] if len(parts) >= 3 and parts[0] == ROOT else None
