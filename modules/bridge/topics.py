"""The topic layout, every topic under the sending site's own ``scenevoice/<site>/``:

- ``scenevoice/<site>/scene/<kind>``: a scene for every site that takes ``kind`` (a turn
  for the hub, a smell from a window sensor);
- ``scenevoice/<site>/to/<room>/<kind>``: a scene for one site only — a reply goes back
  to the room whose turn it answers, not to the others;
- ``scenevoice/<site>/ack/<to>``: the ids a site confirms to another (and its answers to
  pings, for the round-trip time);
- ``scenevoice/<site>/ping``: a round-trip probe every ``keepalive_s``;
- ``scenevoice/<site>/status``: retained ``online``/``offline`` (the last will) — presence.

Why this layout: a site publishes only under its own prefix, so the broker's ACL says who
may write what in one line (``pattern readwrite scenevoice/%u/#``) and a forged sender is
refused by the broker, not trusted by the receiver; the kind is the last level, so a
receiver takes the kinds it wants with one wildcard each (``scenevoice/+/scene/turn``,
``scenevoice/+/to/kitchen/reply``) and never sees the others'.
"""

from __future__ import annotations

ROOT = "scenevoice"


def scene_topic(site: str, kind: str) -> str:
    return f"{ROOT}/{site}/scene/{kind}"


def scenes_of_kind(kind: str) -> str:
    """The filter for scenes of ``kind`` from every site."""
    return f"{ROOT}/+/scene/{kind}"


def room_topic(site: str, room: str, kind: str) -> str:
    """A scene of ``kind`` from ``site`` for ``room`` only."""
    return f"{ROOT}/{site}/to/{room}/{kind}"


def scenes_for_room(room: str, kind: str) -> str:
    """The filter for scenes of ``kind`` any site sends to ``room`` only."""
    return f"{ROOT}/+/to/{room}/{kind}"


def ping_topic(site: str) -> str:
    return f"{ROOT}/{site}/ping"


def pings() -> str:
    """The filter for every site's pings."""
    return f"{ROOT}/+/ping"


def statuses() -> str:
    """The filter for every site's presence."""
    return f"{ROOT}/+/status"


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


def what(topic: str) -> str:
    """What a topic of this layout carries: ``scene``, ``to`` (a scene for one room),
    ``ack``, ``ping``, ``status``; "" for anything else."""
    parts = topic.split("/")
    return parts[2] if len(parts) >= 3 and parts[0] == ROOT else ""
