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
    jobs = 1

    def submit(self, fn, /, *args, **kwargs) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as e:
            if isinstance(e, KeyboardInterrupt):
                raise
            fut.set_exception(e)
        return fut


class LocalExecutor(ProcessPoolExecutor):
    """Worker processes on this machine (spawned: forking a process whose torch thread pools
    have started can hang), and a queue the workers report their progress on."""

    def __init__(self, jobs: int):
        ctx = multiprocessing.get_context("spawn")
        super().__init__(max_workers=jobs, mp_context=ctx)
        self.jobs = jobs
        self._manager = None

    def progress_queue(self):
        if self._manager is None:
            self._manager = multiprocessing.get_context("spawn").Manager()
        return self._manager.Queue()

    def shutdown(self, wait=True, *, cancel_futures=False):
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        if self._manager is not None:
            self._manager.shutdown()
            self._manager = None


def progress_queue(executor):
    """A queue workers can report progress on, where the executor offers one (else None)."""
    make = getattr(executor, "progress_queue", None)
    return make() if make else None


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def make_executor(name: str, jobs: int | None = None, scheduler: str | None = None, log=None) -> Executor:
    if name == "inline":
        return InlineExecutor()
    if name == "local":
        n = cores()
        if jobs and jobs > n:
            if log:
                log(f"--jobs {jobs} is more than the {n} cores here; using {n} (each worker uses one core)")
            jobs = n
        return LocalExecutor(jobs or n)
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
            cluster = LocalCluster(n_workers=min(jobs or cores(), cores()), threads_per_worker=1,
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
