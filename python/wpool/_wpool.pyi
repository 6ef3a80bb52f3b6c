"""Type stubs for the extension module `wpool._wpool` (the Rust half)."""

from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Any, final

@final
class TaskInfo:
    """When and where a task ran (``future.wpool_info``)."""

    @property
    def task(self) -> int: ...
    @property
    def worker(self) -> int: ...
    @property
    def started(self) -> float:
        """On the ``time.monotonic()`` clock."""
    @property
    def elapsed(self) -> float:
        """Seconds."""
    @property
    def finished(self) -> float: ...

@final
class TaskHandle:
    def cancel(self) -> bool:
        """Cancels the task unless a worker started it; whether it is cancelled."""
    @property
    def started(self) -> bool:
        """Whether a worker has started the task."""
    @property
    def info(self) -> TaskInfo | None:
        """When and where it ran, once it succeeded."""

@final
class MapWaiter:
    """Waits for a map's calls (kept by the executor for ``shutdown``)."""

    def wait(self) -> None:
        """Waits until every call finished or the map was cancelled."""
    def cancel(self) -> None:
        """Cancels the calls no worker has started."""
    @property
    def done(self) -> bool: ...

@final
class MapResults(Iterator[Any]):
    """The results of ``Pool.map``, read in input (or completed) order."""

    def __iter__(self) -> MapResults: ...
    def __next__(self) -> Any: ...
    def __len__(self) -> int: ...
    def next_group(self) -> Awaitable[list[Any]]:
        """The next results that are here (at least one; ``[]`` at the end)."""
    def close(self) -> None:
        """Stops reading; cancels the calls not started."""
    def waiter(self) -> MapWaiter: ...

@final
class Guest:
    @property
    def name(self) -> str: ...
    @property
    def wit(self) -> str | None: ...
    def functions(self) -> list[tuple[str, list[str], list[str], list[str], str]]: ...

@final
class Pool:
    def __init__(
        self,
        make_error: Callable[[str, str, int, str, str, int | None, str], BaseException],
        workers: int | None = None,
        timeout: float | None = None,
        memory: int | None = None,
        fuel: int | None = None,
        instance: str = "reuse",
    ) -> None: ...
    @property
    def workers(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def load(
        self,
        spec: str,
        is_file: bool,
        dirs: list[tuple[str, str, bool]] = ...,
        env: list[tuple[str, str]] = ...,
        args: list[str] = ...,
        digest: bool = False,
    ) -> Guest: ...
    def submit(
        self,
        guest: Guest,
        func: str,
        args: tuple[Any, ...],
        future: Future[Any],
        timeout: float | None = None,
    ) -> TaskHandle: ...
    def call(
        self, guest: Guest, func: str, args: tuple[Any, ...], timeout: float | None = None
    ) -> Awaitable[Any]: ...
    def map(
        self,
        guest: Guest,
        func: str,
        inputs: Iterable[tuple[Any, ...]],
        timeout: float | None = None,
        ordered: bool = True,
    ) -> MapResults: ...
    def shutdown(self) -> None: ...
    def abort(self) -> None: ...

def builtins() -> list[str]:
    """The names of the built-in guests."""

def _at_exit() -> None: ...
