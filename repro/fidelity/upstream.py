"""Upstream's model fingerprints (registry/fingerprints.toml) for the platform at hand.

Trained weights depend on the kernels, so each platform has references of its own (upstream's
code run there); a platform without any has nothing to be checked against.
"""

from __future__ import annotations

from dataclasses import dataclass

from repro.base.machine import Platform, current_platform
from repro.fidelity.registry import load_fingerprints


@dataclass(frozen=True)
class References:
    """Upstream's trained-model fingerprints on one platform."""

    platform: str  # the platform whose upstream runs these are
    source: str
    trained: dict[str, str]  # experiment -> SHA-256 of the trained model


def initial() -> dict[str, str]:
    """Upstream's initial-model fingerprints (the same on every platform)."""
    return {k: v for k, v in load_fingerprints().get("initial", {}).items() if k != "source"}


def references(platform: Platform | None = None) -> References | None:
    """The upstream fingerprints this platform can be checked against, or None."""
    data = load_fingerprints()
    pid = (platform or current_platform()).id
    trained = data.get("trained", {})
    if pid not in trained:
        return None
    t = dict(trained[pid])
    return References(pid, t.pop("source", ""), t)


def known_platforms() -> list[str]:
    """The platforms upstream's code was run on."""
    return sorted(load_fingerprints().get("trained", {}))
