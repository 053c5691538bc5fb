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
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

# Upstream's intra-op thread count: torch's default on its 2-core reference machines (each
# upstream run records torch_threads = 2). It is part of the arithmetic, not only of the speed:
# on amd-avx512, with 2 threads MKL splits the rows of some products between the threads and
# rounds them differently (the 5-D experiments' models change; measured, bench/probe_threads.py;
# on intel-avx512 1 and 2 threads give the same models). So results are made with this many
# threads whatever this machine's core count, and the training key records it.
THREADS = 2

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
    env = tuple((k, os.environ[k]) for k in KERNEL_VARIABLES if os.environ.get(k))
    return Platform(_cpuinfo("vendor_id") or _platform.processor(), torch.backends.cpu.get_cpu_capability(), env,
                    _cpuinfo("model name") or _platform.processor(), _platform.machine())


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def side_by_side_env(processes: int) -> dict[str, str]:
    """Extra environment for `processes` torch processes that will run side by side here.

    Each runs THREADS OpenMP threads, and by default an idle OpenMP thread spins, waiting for
    the next parallel region: with more threads than cores the spinning threads take the cores
    from the working ones (measured on the 2-core machine, two 15-seed chunks at 2 threads each:
    62-67 s side by side; with OMP_WAIT_POLICY=PASSIVE 20.3 s). Passive waiting slows a process
    that has the machine to itself (one ex-2.9.1 run: 7.2 s instead of 1.9 s), so it is only
    for oversubscribed processes. It changes no result: it decides how threads wait, not how the
    work is split. libgomp reads it when it loads, so it must be in the new process's
    environment; a value the user set is kept."""
    if processes * THREADS <= cores() or "OMP_WAIT_POLICY" in os.environ:
        return {}
    return {"OMP_WAIT_POLICY": "PASSIVE"}


@dataclass(frozen=True)
class Settings:
    threads: int
    deterministic: bool


def current_settings() -> Settings:
    return Settings(torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())


@contextlib.contextmanager
def pinned(threads: int = THREADS) -> Iterator[Settings]:
    """Run with `threads` intra-op threads and deterministic algorithms; restore the caller's
    settings afterwards (library calls must not change global state behind their caller)."""
    before = current_settings()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield current_settings()
    finally:
        torch.set_num_threads(before.threads)
        torch.use_deterministic_algorithms(before.deterministic, warn_only=warn_only)


def git_sha(root: Path) -> str | None:
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
