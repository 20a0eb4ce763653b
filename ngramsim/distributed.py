"""Sweeps on a Dask cluster: ``ngramsim reproduce --scheduler ADDRESS|local``.

Needs the optional extra ``ngramsim[distributed]`` (``dask.distributed``);
``import ngramsim`` never imports this module nor Dask.  :func:`dask_executor`
connects to a running scheduler (or starts a ``LocalCluster`` on this machine)
and yields an executor for :func:`ngramsim.sweep.run_sweep`::

    from ngramsim.distributed import dask_executor
    from ngramsim.experiments import warm_kernels
    from ngramsim.sweep import run_sweep

    with dask_executor("tcp://scheduler:8786", initializer=warm_kernels) as executor:
        records = run_sweep(cells, compute, "out", seed=0, executor=executor, retries=2)

What travels to the workers: each cell's job, ``(job, compute, cell, seed)``,
pickled (``compute`` by reference, so it must be a module-level function of a
module the workers can import), and, once per worker, the ``initializer``.  The
workers send the records back; the client writes every cell file, so the
output directory is only on the client and the records are those of any other
executor.  The workers need ngramsim installed at the client's version (checked
when the workers are set up).

Worker failures: the scheduler reruns a task whose worker died, up to its
``distributed.scheduler.allowed-failures`` times, then fails it with
``KilledWorker``; :func:`~ngramsim.sweep.run_sweep` then resubmits the cell up
to ``retries`` times and reports a cell that still fails.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import signal
import threading
import uuid

from ngramsim._validation import check_int
from ngramsim._version import __version__
from ngramsim.sweep import _numba_threads

try:
    from distributed import WorkerPlugin as _WorkerPlugin
except ImportError:  # dask_executor says what to install; the module itself stays importable
    _WorkerPlugin = object

__all__ = ["dask_executor", "require_distributed", "DEFAULT_LOCAL_WORKERS"]

#: Workers of ``dask_executor("local")`` when ``workers`` is not given.
DEFAULT_LOCAL_WORKERS = 2

# Seconds; longer than any sweep.
_NEVER = 10**9


def require_distributed():
    """The ``distributed`` module, or an ``ImportError`` saying which extra to install."""
    try:
        import distributed
    except ImportError:
        raise ImportError("dask.distributed is not installed: pip install 'ngramsim[distributed]'") from None
    return distributed


class _WorkerSetup(_WorkerPlugin):
    """Set up each worker once, when it joins: check ngramsim's version, then run the initializer.

    With ``ignore_interrupt`` (workers of a local cluster, in the terminal's
    process group) the worker ignores SIGINT: Ctrl-C reaches the whole
    foreground group, and the client alone handles it (it cancels the sweep and
    closes the cluster) rather than every worker dying with a traceback.
    """

    def __init__(self, version: str, initializer, ignore_interrupt: bool):
        self.version = version
        self.initializer = initializer
        self.ignore_interrupt = ignore_interrupt

    async def setup(self, worker):
        import ngramsim

        if ngramsim.__version__ != self.version:
            raise ValueError(
                f"worker {worker.address} runs ngramsim {ngramsim.__version__}, the client {self.version}: "
                "install the same version on every worker"
            )
        # Signal handlers can only be set from the main thread, where a worker process runs its event loop.
        if self.ignore_interrupt and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if self.initializer is not None:
            # On the worker's task thread pool rather than its event loop: compiling
            # the kernels can take minutes, during which the worker must keep talking
            # to the scheduler; and a per-thread setting made by the initializer then
            # holds for the cells (one task thread per worker by default).
            await asyncio.get_running_loop().run_in_executor(worker.executor, self.initializer)


class _DaskExecutor:
    """``submit(fn, *args) -> concurrent.futures.Future`` on a Dask client, for :func:`~ngramsim.sweep.run_sweep`.

    ``client.get_executor()`` is not used: its futures never finish when a
    result is lost with a dead worker and its recomputation then fails (the
    exception escapes the coroutine that should pass it on).  Here every outcome
    of the Dask future, its exceptions included, reaches the returned future.
    """

    def __init__(self, client):
        self.client = client

    def submit(self, fn, /, *args):
        # pure=False: a retried cell gets a new task, not the failed one's outcome.
        task = self.client.submit(fn, *args, pure=False)
        future = concurrent.futures.Future()
        # run_sweep cancels the futures it leaves (Ctrl-C): the cluster drops the task too.
        future.add_done_callback(lambda done: task.cancel() if done.cancelled() else None)
        self.client.loop.add_callback(_relay, task, future)
        return future


async def _relay(task, future) -> None:
    """Give ``future`` the outcome of the Dask future ``task`` (run on the client's event loop)."""
    try:
        result = await task._result()
    except BaseException as exc:  # KilledWorker, the compute function's error, a cancellation: all reported
        outcome = future.set_exception, exc
    else:
        outcome = future.set_result, result
    if future.set_running_or_notify_cancel():  # False if run_sweep cancelled it meanwhile
        outcome[0](outcome[1])


def _connect(distributed, scheduler, workers, stack):
    """A client of ``scheduler`` (a ``Client``, ``"local"`` or an address), closed by ``stack``."""
    if isinstance(scheduler, distributed.Client):
        if workers is not None:
            raise ValueError(f"workers must be None with a Client (its cluster has its own workers), got {workers!r}")
        return scheduler
    if not isinstance(scheduler, str) or not scheduler:
        raise TypeError(
            f"scheduler must be 'local', a scheduler address or a distributed.Client, got {scheduler!r}"
        )
    if scheduler != "local":
        if workers is not None:
            raise ValueError(
                f"workers must be None for the scheduler at {scheduler!r} (its cluster has its own workers), "
                f"got {workers!r}"
            )
        return stack.enter_context(distributed.Client(scheduler))
    workers = DEFAULT_LOCAL_WORKERS if workers is None else check_int(workers, "workers", minimum=1)
    # A local cluster closes the nanny of a worker that has been gone for this
    # long (default 15 s, meant for batch-job workers): a cell that kills its
    # worker again and again could then close every nanny, and the sweep would
    # wait forever for workers.  The nannies restart their workers instead.
    import dask

    stack.enter_context(dask.config.set({"distributed.deploy.lost-worker-timeout": _NEVER}))
    # One single-threaded worker process per job, like the process pool of
    # run_sweep(jobs=K): numba's threads share the cores among the workers (read
    # by numba when a worker imports it), and no dashboard port is taken.
    cluster = stack.enter_context(
        distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env={"NUMBA_NUM_THREADS": str(_numba_threads(workers))},
        )
    )
    return stack.enter_context(distributed.Client(cluster))


@contextlib.contextmanager
def dask_executor(scheduler, *, workers=None, initializer=None):
    """Run sweep cells on a Dask cluster: yield an executor for :func:`ngramsim.sweep.run_sweep`.

    Parameters
    ----------
    scheduler : str or distributed.Client
        The address of a running scheduler (``"tcp://host:8786"``), ``"local"``
        to start a ``LocalCluster`` of ``workers`` single-threaded worker
        processes on this machine (closed on exit), or a connected
        ``distributed.Client`` (left open).
    workers : int, optional
        Workers of the local cluster (default :data:`DEFAULT_LOCAL_WORKERS`);
        must be None otherwise.
    initializer : callable, optional
        Called once in every worker process before its first cell, including
        workers that join or restart later (e.g.
        :func:`ngramsim.experiments.warm_kernels`, so that numba compiles or
        loads the kernels once per worker, not once per cell).  Picklable.

    Yields
    ------
    executor
        Its ``submit(fn, *args)`` submits a new Dask task (``pure=False``: a
        cell submitted again, a retry, runs again) and returns a
        ``concurrent.futures.Future`` that gets the task's result or exception;
        its ``client`` attribute is the ``distributed.Client``.

    Raises
    ------
    ImportError
        Without dask.distributed (``pip install 'ngramsim[distributed]'``).
    ValueError
        If a worker runs another version of ngramsim.
    OSError
        If the scheduler cannot be reached.
    """
    distributed = require_distributed()
    if initializer is not None and not callable(initializer):
        raise TypeError(f"initializer must be a callable or None, got {type(initializer).__name__}")
    with contextlib.ExitStack() as stack:
        client = _connect(distributed, scheduler, workers, stack)
        # register_plugin replaced register_worker_plugin in distributed 2023.9.2.
        register = getattr(client, "register_plugin", None) or client.register_worker_plugin
        local = isinstance(scheduler, str) and scheduler == "local"
        # A name of its own, so that sweeps sharing a cluster keep their own setups.
        name = f"ngramsim-setup-{uuid.uuid4().hex}"
        register(_WorkerSetup(__version__, initializer, ignore_interrupt=local), name=name)
        # Leave a shared cluster as it was: workers joining it later must not set up ngramsim.
        stack.callback(_unregister, client, name)
        yield _DaskExecutor(client)


def _unregister(client, name: str) -> None:
    if client.status == "running":
        client.unregister_worker_plugin(name)
