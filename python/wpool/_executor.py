"""`WasmPoolExecutor`: a `concurrent.futures.Executor` over wpool's workers."""

from __future__ import annotations

import asyncio
import atexit
import collections
import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from concurrent.futures import wait as _wait_all
from concurrent.futures._base import CANCELLED as _CANCELLED
from concurrent.futures._base import CANCELLED_AND_NOTIFIED as _CANCELLED_AND_NOTIFIED
from concurrent.futures._base import FINISHED as _FINISHED
from concurrent.futures._base import PENDING as _PENDING
from concurrent.futures._base import RUNNING as _RUNNING
from typing import Any

from . import _wpool
from ._errors import _make_error
from ._guest import Export, Guest

__all__ = ["WasmPoolExecutor", "default_executor"]

# A future's `_state` while it may still change (it only moves forward).
_UNFINISHED = frozenset((_PENDING, _RUNNING))
_DONE = frozenset((_CANCELLED, _CANCELLED_AND_NOTIFIED, _FINISHED))


class _TaskFuture(Future):
    """A `concurrent.futures.Future` whose state follows its pool task.

    A worker starting the task is recorded in Rust (an atomic, no GIL); the
    future shows it as RUNNING when asked (`running()`, `cancel()`, repr).

    Its `threading.Condition` is made on first use (waiting, a callback,
    cancelling): most tiny tasks finish before anyone waits, and a
    Condition costs more than the rest of a task's Python objects. While
    a future has none, nobody waits on it and the completer (holding the
    GIL, running no Python code) sets its result directly; once it has
    one, results go through `set_result` as for any future. (That needs
    the GIL: the wheel is abi3, for GIL builds of CPython only.)
    """

    _wpool_handle: Any = None
    _wpool_cond: threading.Condition | None = None

    def __init__(self) -> None:  # Future.__init__ without the Condition
        self._state = _PENDING
        self._result = None
        self._exception = None
        self._waiters: list[Any] = []
        self._done_callbacks: list[Callable[[Future[Any]], object]] = []

    @property  # type: ignore[override]
    def _condition(self) -> threading.Condition:
        cond = self._wpool_cond
        if cond is None:
            # dict.setdefault is atomic: two threads get the same Condition.
            cond = self.__dict__.setdefault("_wpool_cond", threading.Condition())
        return cond

    def result(self, timeout: float | None = None) -> Any:
        """The task's result, waiting for it up to ``timeout`` seconds."""
        if self._state == _FINISHED and self._exception is None:
            return self._result
        return super().result(timeout)

    def done(self) -> bool:
        """Whether the task finished or was cancelled."""
        return self._state in _DONE

    def _sync_running(self) -> None:
        """Moves a PENDING future whose task a worker started to RUNNING."""
        handle = self._wpool_handle
        if handle is not None and handle.started:
            with self._condition:
                if self._state == _PENDING:
                    self._state = _RUNNING

    def cancel(self) -> bool:
        """Cancels the task if no worker has started it: it then never runs.

        Returns ``False`` for a task that is running or finished, as
        `concurrent.futures` does: its result still arrives.
        """
        handle = self._wpool_handle
        if handle is not None and not handle.cancel():
            self._sync_running()
            return False
        if not super().cancel():
            return False
        with self._condition:
            if self._state == _CANCELLED:
                # Wake `concurrent.futures.wait`/`as_completed` waiters, as a
                # ThreadPoolExecutor does when its worker picks the item up.
                self.set_running_or_notify_cancel()
        return True

    def running(self) -> bool:
        """Whether a worker is running the task now."""
        self._sync_running()
        return super().running()

    def __repr__(self) -> str:
        self._sync_running()
        return super().__repr__()

    @property
    def wpool_info(self) -> _wpool.TaskInfo:
        """When and where the task ran (task number, worker, start time on
        the ``time.monotonic()`` clock, elapsed seconds), once it succeeded:
        before that, `AttributeError`."""
        handle = self._wpool_handle
        info = handle.info if handle is not None else None
        if info is None:
            raise AttributeError("wpool_info: the task has not succeeded")
        return info


class WasmPoolExecutor(Executor):
    """An executor whose workers run WebAssembly guests, isolated.

    Like `ThreadPoolExecutor`, but the callables it runs are guest exports
    (``wpool.guest("heavy_calc").heavy_calc``), and every task runs in its
    own sandbox on a pool of OS threads, on every core, without the GIL:

    - ``max_workers``: worker threads (default: one per core)
    - ``timeout``: wall-clock limit per task, in seconds (default: none)
    - ``memory``: linear-memory ceiling per instance, in bytes
    - ``fuel``: deterministic instruction budget per task
    - ``instance``: ``"reuse"`` (one instance per worker, thrown away after a
      failure) or ``"fresh"`` (a new instance for every task)

    A failed task raises a `wpool.TaskError` subclass (`Timeout`, `Trap`,
    `MemoryLimit`, …) from its future; the pool carries on. Every future
    also has ``future.wpool_info`` (task number, worker, start time on the
    ``time.monotonic()`` clock, elapsed seconds) once it succeeds.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        *,
        timeout: float | None = None,
        memory: int | None = None,
        fuel: int | None = None,
        instance: str = "reuse",
    ) -> None:
        if max_workers is not None and max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        self._pool = _wpool.Pool(_make_error, max_workers, timeout, memory, fuel, instance)
        self._guests: dict[tuple, _wpool.Guest] = {}  # by what was loaded
        self._by_guest: dict[Guest, _wpool.Guest] = {}  # by Guest object, for speed
        self._lock = threading.Lock()
        # Submitted futures, finished ones pruned now and then (cheaper per
        # task than a set and a done-callback).
        self._live: list[_TaskFuture] = []
        self._prune_at = 1024
        # Maps' waiters (their calls run without futures), for `shutdown`.
        self._maps: list[_wpool.MapWaiter] = []
        self._shutdown = False

    @property
    def max_workers(self) -> int:
        """The number of worker threads."""
        return self._pool.workers

    def _loaded_guest(self, guest: Guest) -> _wpool.Guest:
        """The guest compiled for this pool (compiled on first use)."""
        loaded = self._guests.get(guest._key)
        if loaded is None:
            loaded = guest._load_into(self._pool)
            self._guests.setdefault(guest._key, loaded)
        return loaded

    def _loaded_export(self, fn: Any) -> _wpool.Guest:
        """The loaded guest of an export; `TypeError` for anything else."""
        if not isinstance(fn, Export):
            raise TypeError(
                "WasmPoolExecutor runs guest exports such as "
                f"wpool.guest('heavy_calc').heavy_calc, not {fn!r}"
            )
        loaded = self._by_guest.get(fn._guest)
        if loaded is None:
            loaded = self._by_guest[fn._guest] = self._loaded_guest(fn._guest)
        return loaded

    def preload(self, *guests: Guest) -> None:
        """Compiles guests for this pool now rather than on their first
        submit (a first submit otherwise waits for the compile)."""
        for g in guests:
            self._loaded_guest(g)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Schedules ``fn(*args, **kwargs)`` and returns its `Future`.

        ``fn`` must be a guest export (`wpool.Export`). Arguments are
        converted and checked against the export's WIT signature first: a wrong one raises `TypeError` here and nothing
        runs. Never blocks.
        """
        loaded = self._loaded_export(fn)
        if kwargs:
            args = fn._bind(args, kwargs)
        future = _TaskFuture()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            future._wpool_handle = self._pool.submit(loaded, fn._wit_name, args, future)
            live = self._live
            live.append(future)
            if len(live) >= self._prune_at:
                self._prune()
        return future

    def _prune(self) -> None:
        """Drops finished futures from `_live` (under `_lock`): amortised
        O(1) per submit, as the list at least doubles between prunes."""
        self._live = [f for f in self._live if f._state in _UNFINISHED]
        self._prune_at = max(1024, 2 * len(self._live))

    async def call(self, fn: Export, /, *args: Any, **kwargs: Any) -> Any:
        """Runs ``fn(*args, **kwargs)`` on the pool and awaits its result.

        The task's result reaches the event loop straight from Rust
        (pyo3-async-runtimes), without a `concurrent.futures.Future`.
        Cancelling the awaiting task cancels the pool task if it has not
        started. Arguments are checked as for `submit`.
        """
        if isinstance(fn, Export) and fn._guest not in self._by_guest:
            # The first use compiles the guest (seconds for a big one, a
            # fraction of one from the compile cache): not on the event loop.
            loaded = await asyncio.get_running_loop().run_in_executor(
                None, self._loaded_export, fn
            )
        else:
            loaded = self._loaded_export(fn)
        if kwargs:
            args = fn._bind(args, kwargs)
        # Queued under the lock, as `submit` does: a call racing `shutdown`
        # is either queued before it (and runs) or refused here.
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            result = self._pool.call(loaded, fn._wit_name, args)
        return await result

    asubmit = call

    def map(
        self,
        fn: Callable[..., Any],
        /,
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
        buffersize: int | None = None,
    ) -> Iterator[Any]:
        """Returns an iterator of ``fn(*args)`` over the zipped iterables,
        in input order, as `Executor.map` does.

        Every input is converted and checked first: a bad one raises
        `TypeError` (naming it) and nothing runs. The calls then travel to
        the workers in batches sized from what the calls take (``chunksize``
        is accepted and ignored, as `ThreadPoolExecutor` does), not as one
        `Future` each: tiny calls go many times faster than through
        `submit`. Reading a result past ``timeout`` seconds from this call
        raises `TimeoutError`; a failed call raises its `wpool.TaskError`
        when its result is reached, and the calls not started then never
        run (also when the iterator is closed or dropped after reading
        began). ``buffersize`` (as in Python 3.14) reads the inputs lazily,
        keeping at most that many calls submitted ahead of the results.
        """
        loaded = self._loaded_export(fn)
        if buffersize is not None:
            if not isinstance(buffersize, int):
                raise TypeError("buffersize must be an integer or None")
            if buffersize < 1:
                raise ValueError("buffersize must be None or > 0")
            return self._map_lazily(fn, zip(*iterables), timeout, buffersize)
        return self._map(loaded, fn, iterables, timeout, ordered=True)

    def _map(
        self,
        loaded: _wpool.Guest,
        fn: Export,
        iterables: tuple[Iterable[Any], ...],
        timeout: float | None,
        ordered: bool,
    ) -> _wpool.MapResults:
        """Starts a batched map (see `map`)."""
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            results = self._pool.map(loaded, fn._wit_name, zip(*iterables), timeout, ordered)
            maps = self._maps
            maps.append(results.waiter())
            if len(maps) >= 64:
                self._maps = [m for m in maps if not m.done]
        return results

    def _map_lazily(
        self, fn: Export, inputs: Iterator[tuple[Any, ...]], timeout: float | None, buffersize: int
    ) -> Iterator[Any]:
        """`map` with ``buffersize``: one future per call, at most
        ``buffersize`` of them ahead of the result being read."""
        end = None if timeout is None else time.monotonic() + timeout
        pending = collections.deque(
            self.submit(fn, *args) for args in itertools.islice(inputs, buffersize)
        )

        def results() -> Iterator[Any]:
            try:
                while pending:
                    future = pending.popleft()
                    for args in itertools.islice(inputs, 1):
                        pending.append(self.submit(fn, *args))
                    yield future.result(None if end is None else end - time.monotonic())
            finally:
                for future in pending:
                    future.cancel()

        return results()

    def amap(
        self, fn: Export, /, *iterables: Iterable[Any], ordered: bool = False
    ) -> AsyncIterator[Any]:
        """Runs ``fn`` over the zipped iterables, in batches as `map` does,
        and returns an async iterator of the results as they complete (in
        input order with ``ordered=True``).

        Every input is checked here, when `amap` is called (`TypeError`,
        nothing runs), as `map` does. The first failure raises from the
        iterator; leaving the loop early cancels the calls that have not
        started.
        """
        return _results_as_they_come(
            self._map(self._loaded_export(fn), fn, iterables, None, ordered)
        )

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuses new tasks, then (with ``wait``) waits for every submitted
        task and for the workers to exit. With ``wait=False`` it returns at
        once; the tasks still finish, and the workers exit after them.

        ``cancel_futures=True`` first cancels every task no worker has
        started (they never run); running ones finish. It covers `submit`'s
        futures and `map`'s calls; a `call` awaited on an event loop is
        cancelled by cancelling its asyncio task.
        """
        with self._lock:
            self._shutdown = True
            live = [f for f in self._live if f._state in _UNFINISHED]
            maps = self._maps
            self._live = []
            self._maps = []
        if cancel_futures:
            for f in live:
                f.cancel()
            for m in maps:
                m.cancel()
        if wait:
            self._finish(live, maps)
        else:
            threading.Thread(
                target=self._finish, args=(live, maps), name="wpool-shutdown", daemon=True
            ).start()

    def _finish(self, live: list[_TaskFuture], maps: list[_wpool.MapWaiter]) -> None:
        """Waits for `live` and `maps`, then for the workers to exit (every
        task submitted before is queued by then: none is refused)."""
        _wait_all(live)
        for m in maps:
            m.wait()
        self._pool.shutdown()

    def abort(self) -> None:
        """Interrupts running tasks and cancels queued ones: their futures
        raise `wpool.Cancelled`. The executor accepts no more work."""
        with self._lock:
            self._shutdown = True
        self._pool.abort()

    def __repr__(self) -> str:
        state = "shut down" if self._shutdown else "running"
        return f"<WasmPoolExecutor workers={self.max_workers} {state}>"


async def _results_as_they_come(results: _wpool.MapResults) -> AsyncIterator[Any]:
    """`amap`'s iterator: the results of a started map, group by group."""
    try:
        while True:
            group = await results.next_group()
            if not group:
                return
            for value in group:
                yield value
    finally:
        results.close()


_default: WasmPoolExecutor | None = None
_default_lock = threading.Lock()


def default_executor() -> WasmPoolExecutor:
    """The shared executor that direct calls of guest exports run on (one
    worker per core, no limits), created on first use."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = WasmPoolExecutor()
    return _default


# From here on, finished tasks no longer touch the interpreter.
atexit.register(_wpool._at_exit)
