"""What a result is computed on, and the global settings it is computed with.

Trained weights are bit-identical only on the same floating-point kernels, and torch, MKL and
oneDNN choose kernels from the CPU and from environment variables read at start-up
(rng-replay.md §12; measured on this project's machines: `ONEDNN_MAX_CPU_ISA=AVX2` changes
every trained model). So a result records, and its cache key includes, the CPU vendor, torch's
kernel capability, any kernel-choosing variable that is set, the torch version and the thread
count. `pinned()` runs library code with the settings results are made with and restores the
caller's afterwards.
"""

from __future__ import annotations

import contextlib
import os
import platform as _platform
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

# Results are made at one intra-op thread: no OpenMP parallel region runs while a model trains,
# so a second process on the machine costs training its fair share of the cores, not the
# tenfold a spinning second thread cost (bench/results-robustness.json). Upstream trained at two
# (torch's default on its 2-core machines); the one product whose bits depend on that count, on
# amd-avx512, is computed in the row blocks MKL's two threads used (repro.engine.rowsplit), so a seed
# still gives upstream's model. The training key records this count and that table.
THREADS = 1

# Variables that make MKL, oneDNN or ATen choose other kernels (each changes the trained bits).
KERNEL_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS",
                    "MKL_CBWR", "MKL_DEBUG_CPU_TYPE", "ONEDNN_DEFAULT_FPMATH_MODE")


def _cpuinfo(field: str) -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(field):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


@dataclass(frozen=True)
class Platform:
    """The CPU kind that decides which kernels torch runs, and so a trained model's bits."""

    vendor: str  # GenuineIntel, AuthenticAMD, ...
    capability: str  # torch's kernel capability: AVX512, AVX2, DEFAULT, ...
    kernel_env: tuple[tuple[str, str], ...]  # kernel-choosing variables that are set
    cpu: str  # model name (informational: not part of the key)
    machine: str

    @property
    def id(self) -> str:
        """e.g. 'intel-avx512', 'amd-avx2', 'amd-avx512+ONEDNN_MAX_CPU_ISA=AVX2'."""
        vendor = {"GenuineIntel": "intel", "AuthenticAMD": "amd"}.get(self.vendor, self.vendor.lower() or self.machine)
        base = f"{vendor}-{self.capability.lower()}"
        return "+".join([base, *(f"{k}={v}" for k, v in self.kernel_env)])


def current_platform() -> Platform:
    """This machine's platform, with the kernel-choosing variables that are set."""
    capability = torch.backends.cpu.get_cpu_capability()
    # ATen ignores an ATEN_CPU_CAPABILITY it cannot honour (a typo, or more than the CPU has); only
    # one that took effect (torch then reports it as its capability) changes the kernels.
    env = tuple((k, os.environ[k]) for k in KERNEL_VARIABLES if os.environ.get(k)
                and not (k == "ATEN_CPU_CAPABILITY" and os.environ[k].strip().lower() != capability.lower()))
    return Platform(_cpuinfo("vendor_id") or _platform.processor(), capability, env,
                    _cpuinfo("model name") or _platform.processor(), _platform.machine())


def cores() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Settings:
    """torch's intra-op thread count and deterministic-algorithms flag."""

    threads: int
    deterministic: bool


def current_settings() -> Settings:
    """torch's settings as they stand in this process."""
    return Settings(torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())


@contextlib.contextmanager
def pinned(threads: int = THREADS) -> Iterator[Settings]:
    """Run with `threads` intra-op threads and deterministic algorithms; restore the caller's
    settings afterwards (library calls must not change global state behind their caller)."""
    before = current_settings()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(threads)
    _deterministic(True)
    try:
        yield current_settings()
    finally:
        torch.set_num_threads(before.threads)
        _deterministic(before.deterministic, warn_only=warn_only)


def _deterministic(mode: bool, warn_only: bool = False) -> None:
    """torch.use_deterministic_algorithms without its import of torch._inductor (0.9 s of every
    process's start, to set a flag only torch.compile reads; repro never compiles). The eager
    kernels read the same flag either way; where the caller has loaded the compiler, its flag
    follows too."""
    torch._C._set_deterministic_algorithms(mode, warn_only=warn_only)
    inductor = sys.modules.get("torch._inductor.config")
    if inductor is not None:
        setattr(inductor, "deterministic", mode)  # noqa: B010 (a module attribute the stubs do not know)


def git_sha(root: Path) -> str | None:
    """The checked-out commit of `root`, or None outside a git checkout (an installed repro's
    folder may lie inside someone else's repository: only `root`'s own .git counts)."""
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(root: Path) -> dict:
    """Recorded beside every result."""
    p = current_platform()
    from repro import __version__

    return {
        "repro_version": __version__,
        "git_sha": git_sha(root),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "platform": p.id,
        **{k: v for k, v in asdict(p).items() if k != "kernel_env"},
        "kernel_env": dict(p.kernel_env),
        "python": _platform.python_version(),
    }
