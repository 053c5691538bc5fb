"""Executors in the shape of `concurrent.futures.Executor`: submit(fn, *args) -> Future.

inline  runs each task when submitted, in this process (debugging, tiny sweeps)
local   a pool of worker processes on this machine, one intra-op thread each
dask    a Dask distributed cluster: a LocalCluster, or `--scheduler tcp://host:8786` for a
        cluster you started (dask-jobqueue on SLURM/PBS, Kubernetes, ...)
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor

from repro.errors import ReproError

EXECUTORS = ("inline", "local", "dask")


class InlineExecutor(Executor):
    def submit(self, fn, /, *args, **kwargs) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as e:
            if isinstance(e, KeyboardInterrupt):
                raise
            fut.set_exception(e)
        return fut


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def make_executor(name: str, jobs: int | None = None, scheduler: str | None = None) -> Executor:
    if name == "inline":
        return InlineExecutor()
    if name == "local":
        # spawn, not fork: forking a process that has started torch's thread pools can hang.
        return ProcessPoolExecutor(max_workers=jobs or os.cpu_count() or 1,
                                   mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker)
    if name == "dask":
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ReproError("the dask executor needs the optional extra: pip install -e '.[dask]'") from None
        if scheduler:
            try:
                client = Client(scheduler, timeout="10s")
            except OSError as e:
                raise ReproError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
        else:
            cluster = LocalCluster(n_workers=jobs or os.cpu_count() or 1, threads_per_worker=1,
                                   processes=True, dashboard_address=None)
            client = Client(cluster)
        return _DaskExecutor(client, jobs or len(client.scheduler_info().get("workers", {})) or 1)
    raise ReproError(f"unknown executor {name!r}; use one of {', '.join(EXECUTORS)}")


class _DaskExecutor(Executor):
    """Dask's concurrent.futures view of a client, closing the client (and cluster) on shutdown."""

    def __init__(self, client, jobs: int):
        self.client, self.jobs = client, jobs
        self._ex = client.get_executor(pure=False)

    def submit(self, fn, /, *args, **kwargs):
        return self._ex.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, **kwargs):
        self._ex.shutdown(wait=wait)
        cluster = getattr(self.client, "cluster", None)
        self.client.close()
        if cluster is not None:
            cluster.close()
