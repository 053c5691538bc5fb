"""Upstream's model fingerprints (registry/fingerprints.toml) for the platform at hand.

Trained weights depend on the kernels, so each platform has references of its own (upstream's
code run there); a platform without any has nothing to be checked against.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from repro.errors import ReproError
from repro.machine import Platform, current_platform
from repro.schema import Strict, first_problem


class Fingerprints(Strict):
    initial: dict[str, str] = {}
    trained: dict[str, dict[str, str]] = {}


def fingerprints_file() -> Path:
    from repro.verify import registry_dir

    return registry_dir() / "fingerprints.toml"


@dataclass(frozen=True)
class References:
    platform: str  # the platform whose upstream runs these are
    source: str
    trained: dict[str, str]  # experiment -> SHA-256 of the trained model


def load() -> dict:
    """The fingerprints, checked; {} when the registry has none (every platform then has none)."""
    from repro.files import read_text

    path = fingerprints_file()
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(read_text(path, "fingerprint registry"))
        Fingerprints.model_validate(data)
    except tomllib.TOMLDecodeError as e:
        raise ReproError(f"{path}: not valid TOML ({e})") from None
    except RecursionError:
        raise ReproError(f"{path}: nested too deeply to be a fingerprint registry") from None
    except ValidationError as e:
        where, message = first_problem(e, Fingerprints)
        raise ReproError(f"{path}: {where}: {message}") from None
    return data


def initial() -> dict[str, str]:
    return {k: v for k, v in load().get("initial", {}).items() if k != "source"}


def references(platform: Platform | None = None) -> References | None:
    """The upstream fingerprints this platform can be checked against, or None."""
    data = load()
    pid = (platform or current_platform()).id
    trained = data.get("trained", {})
    if pid not in trained:
        return None
    t = dict(trained[pid])
    return References(pid, t.pop("source", ""), t)


def known_platforms() -> list[str]:
    return sorted(load().get("trained", {}))
