"""Executors in the shape of `concurrent.futures.Executor`: submit(fn, *args) -> Future.

inline  runs each task when submitted, in this process (debugging, tiny sweeps)
local   a pool of worker processes on this machine, each training at the thread count results
        are made with (repro.base.machine.THREADS: one)
dask    a Dask distributed cluster: a LocalCluster, or `--scheduler tcp://host:8786` for a
        cluster you started (dask-jobqueue on SLURM/PBS, Kubernetes, ...)

`running(...)` is how callers use one: on success it shuts down cleanly; on Ctrl-C or any
error it stops the workers at once (a sweep caches each chunk as it finishes, so nothing is
lost but the chunks in flight). Local workers ignore Ctrl-C (the driver stops them) and exit by
themselves when their driver dies, even by SIGKILL.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import warnings
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any, Protocol
from multiprocessing.managers import SyncManager

from repro.base import machine
from repro.base.errors import ReproError, first_line

EXECUTORS = ("inline", "local", "dask")


class Workers(Protocol):
    """What the pipeline asks of an executor: concurrent.futures' submit and shutdown, how many
    tasks run at once, a way to stop at once, and where workers can report progress."""

    jobs: int
    inline: bool  # tasks run in this process, one by one, when submitted

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Run fn(*args, **kwargs) on a worker; its Future holds the result."""
        ...

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Finish (or with cancel_futures drop) the queued tasks and release the workers."""
        ...

    def terminate(self) -> None:
        """Stop now: stop the workers, drop queued tasks."""
        ...

    def progress_queue(self) -> Any:
        """A queue workers can report progress on, or None where there is none."""
        ...


class InlineExecutor(Executor):
    """Each task runs in this process when it is submitted."""

    jobs = 1
    inline = True

    def submit(self, fn, /, *args, **kwargs) -> Future:
        """Run the task now, in this process; its Future is already done."""
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as e:
            if isinstance(e, KeyboardInterrupt):
                raise
            fut.set_exception(e)
        return fut

    def terminate(self) -> None:
        """Nothing runs in the background, so nothing to stop."""
        pass

    def progress_queue(self) -> None:
        """None: the caller sees progress directly."""
        return None


def _orphan_watchdog(parent: int) -> None:
    """Exit this process as soon as its parent is gone (re-parented), whatever killed it."""
    def watch():
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(0.25)

    threading.Thread(target=watch, daemon=True).start()


@contextlib.contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    """Processes started inside inherit "ignore Ctrl-C" (an ignored signal stays ignored across
    exec): Ctrl-C at a terminal reaches the whole process group, and the driver, not each
    worker, must handle it. Only the main thread may change signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def deferred_interrupt() -> Iterator:
    """Inside, Ctrl-C only records itself; the caller asks `interrupted()` where it is safe to
    stop. A second Ctrl-C stops at once."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    hits = []

    def handler(signum, frame):
        hits.append(signum)
        if len(hits) > 1:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(hits)
    finally:
        signal.signal(signal.SIGINT, previous)


def _worker_init(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    _orphan_watchdog(parent)


NO_MAIN_GUARD = ("local workers are spawned processes that import the calling script, and this script "
                 "starts repro's work when imported: call it under `if __name__ == \"__main__\":` (or use "
                 "executor=\"inline\")")


def _spawned_while_importing() -> bool:
    """True in a spawned process that is still importing its parent's main script."""
    # spawn sets this while the child runs its parent's main module, before its own work starts
    return bool(getattr(multiprocessing.current_process(), "_inheriting", False))


# After a driver is killed (kill -9, a closed terminal), multiprocessing's resource tracker, a
# child that outlives it, unlinks the semaphores the driver's queues held and then warns, two
# lines on the user's terminal seconds later ("There appear to be 5 leaked semaphore objects to
# clean up at shutdown"). The cleanup is the point and still happens; the warning is noise. The
# tracker is started with this interpreter's -W options: the filter is set for the moment it
# starts (here, before the first queue would start it), and taken back, so that nothing else in
# the caller's process or its later children changes. A tracker already running is left as it is.
TRACKER_QUIET = "ignore::UserWarning:multiprocessing.resource_tracker"


def _quiet_resource_tracker() -> None:
    from multiprocessing import resource_tracker

    added = TRACKER_QUIET not in sys.warnoptions
    if added:
        sys.warnoptions.append(TRACKER_QUIET)
    try:
        resource_tracker.ensure_running()
    finally:
        if added:
            sys.warnoptions.remove(TRACKER_QUIET)


class LocalExecutor(ProcessPoolExecutor):
    """Worker processes on this machine (spawned: forking a process whose torch thread pools
    have started can hang), and a queue the workers report their progress on."""

    def __init__(self, jobs: int):
        if _spawned_while_importing():
            # A worker re-running its parent's unguarded script: one line on its stderr, and it
            # exits; the parent says the same as a ReproError.
            raise SystemExit(f"error: {NO_MAIN_GUARD}")
        _quiet_resource_tracker()
        self._ctx = multiprocessing.get_context("spawn")
        super().__init__(max_workers=jobs, mp_context=self._ctx, initializer=_worker_init, initargs=(os.getpid(),))
        self.jobs = jobs
        self.inline = False
        self._manager: SyncManager | None = None

    def submit(self, fn, /, *args, **kwargs):
        """Queue a task (workers are spawned with Ctrl-C ignored: the driver decides when to stop)."""
        with _ctrl_c_ignored():  # workers are spawned here
            return super().submit(fn, *args, **kwargs)

    def progress_queue(self):
        """A queue the workers report progress on (its server starts on first use)."""
        if self._manager is None:
            manager = SyncManager(ctx=self._ctx)
            try:
                with _ctrl_c_ignored():
                    manager.start(_worker_init, (os.getpid(),))
            except EOFError:  # its process died while starting: above all, an unguarded script
                raise ReproError(NO_MAIN_GUARD) from None
            self._manager = manager  # only a started manager has a shutdown to call
        return self._manager.Queue()

    def shutdown(self, wait=True, *, cancel_futures=False):
        """Shut the pool and the progress queue's server down."""
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        if self._manager is not None:
            self._manager.shutdown()
            self._manager = None

    def terminate(self) -> None:
        """Stop now: kill the workers (and the progress queue's server), drop queued tasks."""
        for p in list((self._processes or {}).values()):
            with contextlib.suppress(OSError):
                p.kill()
        self.shutdown(wait=False, cancel_futures=True)



def make_executor(name: str, jobs: int | None = None, scheduler: str | None = None, log=None) -> Workers:
    """An executor by name: inline, local (worker processes, at most one per core) or dask."""
    if name == "inline":
        return InlineExecutor()
    if name == "local":
        n = machine.cores()
        if jobs and jobs > n:
            if log:
                log(f"--jobs {jobs} is more than the {n} cores here; using {n}")
            jobs = n
        return LocalExecutor(jobs or n)
    if name == "dask":
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ReproError("the dask executor needs the optional extra: pip install -e '.[dask]'") from None
        if scheduler:
            client = _connect(Client, scheduler)
        else:
            # Quiet workers (their connection errors while stopping are not the user's business),
            # and workers that close themselves if the scheduler in this process disappears.
            n = min(jobs or machine.cores(), machine.cores())
            # Its scheduler serves HTTP (health checks) even without a dashboard, on port 8787 or,
            # when another cluster holds that port, on another one with a UserWarning on stderr
            # (seen as a test's first progress line under load): nobody here uses that port.
            _quiet_resource_tracker()
            with _ctrl_c_ignored(), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=r"Port \d+ is already in use", category=UserWarning)
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.CRITICAL, death_timeout=10)
            client = Client(cluster)
        return _DaskExecutor(client, jobs or len(client.scheduler_info().get("workers", {})) or 1)
    raise ReproError(f"unknown executor {name!r}; use one of {', '.join(EXECUTORS)}")


CONNECT_S = 10  # how long a Dask scheduler may take to answer


def _connect(client_class, scheduler: str):
    """A client of the scheduler at `scheduler`, or one line within CONNECT_S (+5) seconds. The
    client's own timeout does not bound the handshake: a peer that accepts and never answers held
    it for minutes, and one that is no Dask scheduler ended in a MemoryError. So the connection is
    made in a thread that is abandoned (it is a daemon) when the deadline passes."""
    box: dict = {}

    def connect() -> None:
        try:
            box["client"] = client_class(scheduler, timeout=f"{CONNECT_S}s")
        except BaseException as e:  # noqa: BLE001 - any failure is the one line below
            box["error"] = e

    t = threading.Thread(target=connect, name="dask-connect", daemon=True)
    t.start()
    t.join(CONNECT_S + 5)
    if t.is_alive():
        raise ReproError(f"the Dask scheduler at {scheduler!r} did not answer within {CONNECT_S + 5} s "
                         "(is a Dask scheduler listening there? give tcp://host:port)")
    if "error" in box:
        e = box["error"]
        why = first_line(e)
        raise ReproError(f"cannot reach the Dask scheduler at {scheduler!r}: {type(e).__name__}: {why} "
                         "(give tcp://host:port of a running scheduler)")
    return box["client"]


@contextlib.contextmanager
def running(name: str, jobs: int | None = None, scheduler: str | None = None, log=None) -> Iterator[Workers]:
    """An executor for the block; stopped at once if the block raises (Ctrl-C too), shut down otherwise."""
    ex = make_executor(name, jobs, scheduler, log)
    try:
        yield ex
    except BaseException:
        ex.terminate()
        raise
    ex.shutdown()


class _DaskExecutor(Executor):
    """Dask's concurrent.futures view of a client, closing the client (and cluster) on shutdown."""

    def __init__(self, client, jobs: int):
        self.client, self.jobs = client, jobs
        self.inline = False
        self._ex = client.get_executor(pure=False)

    def submit(self, fn, /, *args, **kwargs):
        return self._ex.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, *, cancel_futures=False):
        self._ex.shutdown(wait=wait)
        self._close()

    def progress_queue(self) -> None:
        return None  # dask workers report nothing back while they work

    def terminate(self) -> None:
        logging.getLogger("distributed").setLevel(logging.CRITICAL)  # the closing connections are expected
        with contextlib.suppress(Exception):
            self.client.cancel(list(self._ex._futures), force=True)
        self._close(timeout=5)

    def _close(self, timeout: float = 30) -> None:
        cluster = getattr(self.client, "cluster", None)
        with contextlib.suppress(Exception):
            self.client.close(timeout=timeout)
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=timeout)
