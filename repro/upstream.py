"""Upstream's model fingerprints (registry/fingerprints.toml) for the platform at hand.

A platform with references of its own is checked directly. A platform listed under
`[emulated.*]` is checked against another platform's references in a fresh process with the
listed kernel variables set (they are read at start-up), for the listed experiments only.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from repro.errors import ReproError
from repro.machine import Platform, current_platform
from repro.schema import Strict, first_problem


class Emulation(Strict):
    reproduces: str  # the platform whose references this one matches
    env: dict[str, str]  # with these kernel variables set
    experiments: list[str]  # for these experiments only


class Fingerprints(Strict):
    initial: dict[str, str] = {}
    trained: dict[str, dict[str, str]] = {}
    emulated: dict[str, Emulation] = {}


def fingerprints_file() -> Path:
    from repro.verify import registry_dir

    return registry_dir() / "fingerprints.toml"


@dataclass(frozen=True)
class References:
    platform: str  # the platform whose upstream runs these are
    source: str
    trained: dict[str, str]  # experiment -> SHA-256 of the trained model
    env: dict[str, str] = field(default_factory=dict)  # kernel variables to set (emulation)

    @property
    def emulated(self) -> bool:
        return bool(self.env)


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
    for name, em in data.get("emulated", {}).items():
        refs = data.get("trained", {}).get(em["reproduces"])
        if refs is None:
            raise ReproError(f"{path}: emulated.{name}.reproduces: {em['reproduces']!r} is not a platform under "
                             f"[trained]: {', '.join(data.get('trained', {})) or '(none)'}")
        missing = [x for x in em["experiments"] if x not in refs]
        if missing:
            raise ReproError(f"{path}: emulated.{name}.experiments: {', '.join(missing)} has no reference "
                             f"under [trained.{em['reproduces']}]")
    return data


def initial() -> dict[str, str]:
    return {k: v for k, v in load().get("initial", {}).items() if k != "source"}


def references(platform: Platform | None = None) -> References | None:
    """The upstream fingerprints this platform can be checked against, or None."""
    data = load()
    pid = (platform or current_platform()).id
    trained = data.get("trained", {})
    if pid in trained:
        t = dict(trained[pid])
        return References(pid, t.pop("source", ""), t)
    em = data.get("emulated", {}).get(pid)
    if em is not None:
        t = dict(trained[em["reproduces"]])
        source = t.pop("source", "")
        return References(em["reproduces"], f"{source}; this {pid} machine emulates it with "
                          + ", ".join(f"{k}={v}" for k, v in em["env"].items()),
                          {k: t[k] for k in em["experiments"]}, dict(em["env"]))
    return None


def known_platforms() -> list[str]:
    data = load()
    return sorted([*data.get("trained", {}), *data.get("emulated", {})])
