"""The exceptions a failed task raises: one `TaskError` subclass per kind."""

from __future__ import annotations

__all__ = [
    "TaskError",
    "Timeout",
    "Trap",
    "MemoryLimit",
    "OutOfFuel",
    "GuestError",
    "OutputLimit",
    "InvalidCall",
    "Cancelled",
    "PoolClosed",
    "InternalError",
]


class TaskError(Exception):
    """A task failed. Only that task: the pool and every other task carry on.

    Raised by ``future.result()``, ``await``, and a direct call of a guest
    export. The subclass says what happened; the attributes say to what:

    - ``kind``: ``"timeout"``, ``"trap"``, ``"memory_limit"``, ``"out_of_fuel"``,
      ``"guest"``, ``"output_limit"``, ``"invalid_call"``, ``"cancelled"``,
      ``"pool_closed"`` or ``"internal"``
    - ``task``: the pool-wide task number
    - ``guest``, ``function``: the guest's name and the WIT name of the export
    - ``detail``: the explanation without the task prefix
    - ``worker``: the worker thread it ran on, or ``None``
    """

    kind: str = "task"

    def __init__(
        self,
        message: str,
        *,
        task: int = -1,
        guest: str = "",
        function: str = "",
        detail: str = "",
        worker: int | None = None,
    ) -> None:
        super().__init__(message)
        self.task = task
        self.guest = guest
        self.function = function
        self.detail = detail or message
        self.worker = worker

    def __reduce__(self):  # keep the attributes across pickling
        return (
            _rebuild,
            (type(self), str(self), self.task, self.guest, self.function, self.detail, self.worker),
        )


def _rebuild(cls, message, task, guest, function, detail, worker):
    return cls(message, task=task, guest=guest, function=function, detail=detail, worker=worker)


class Timeout(TaskError):
    """The task ran past its wall-clock timeout and was interrupted."""

    kind = "timeout"


class Trap(TaskError):
    """The guest trapped: ``unreachable``, a panic, a stack overflow, a bad access."""

    kind = "trap"


class MemoryLimit(TaskError):
    """The guest tried to grow its memory past the pool's limit."""

    kind = "memory_limit"


class OutOfFuel(TaskError):
    """The task used up its fuel budget."""

    kind = "out_of_fuel"


class GuestError(TaskError):
    """The guest returned a WIT ``result`` error (``detail`` holds it)."""

    kind = "guest"


class OutputLimit(TaskError):
    """The result is larger than the pool's output limit."""

    kind = "output_limit"


class InvalidCall(TaskError):
    """The call could not be made (arguments are checked before submitting,
    so this is rare: a ``TypeError`` is raised instead)."""

    kind = "invalid_call"


class Cancelled(TaskError):
    """The task was interrupted by ``WasmPoolExecutor.abort()``."""

    kind = "cancelled"


class PoolClosed(TaskError):
    """The pool was shut down before the task could run."""

    kind = "pool_closed"


class InternalError(TaskError):
    """wpool itself failed while running the task: a bug in wpool, not the guest's doing."""

    kind = "internal"


_BY_KIND: dict[str, type[TaskError]] = {
    cls.kind: cls
    for cls in (
        Timeout,
        Trap,
        MemoryLimit,
        OutOfFuel,
        GuestError,
        OutputLimit,
        InvalidCall,
        Cancelled,
        PoolClosed,
        InternalError,
    )
}


def _make_error(
    kind: str, detail: str, task: int, guest: str, function: str, worker: int | None, message: str
) -> TaskError:
    """Called by the extension for every failed task."""
    cls = _BY_KIND.get(kind, TaskError)
    return cls(message, task=task, guest=guest, function=function, detail=detail, worker=worker)
