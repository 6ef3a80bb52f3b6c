"""wpool for Python: run WebAssembly guests on an isolated worker pool.

``WasmPoolExecutor`` is a `concurrent.futures.Executor`: it drops into code
written for ``ThreadPoolExecutor``, ``ProcessPoolExecutor`` or
``InterpreterPoolExecutor``, and works with ``loop.run_in_executor``. The
callables it runs are the exports of WebAssembly guests::

    import wpool

    calc = wpool.guest("heavy_calc")
    with wpool.WasmPoolExecutor() as ex:
        print(list(ex.map(calc.heavy_calc, [50_000_000, 60_000_000])))

Every task runs in its own sandbox (no files, network or environment unless
granted), under optional time, memory and fuel limits, on OS threads that
never hold the GIL.
"""

from ._errors import (
    Cancelled,
    GuestError,
    InternalError,
    InvalidCall,
    MemoryLimit,
    OutOfFuel,
    OutputLimit,
    PoolClosed,
    TaskError,
    Timeout,
    Trap,
)
from ._executor import WasmPoolExecutor, default_executor
from ._guest import Export, Guest, guest
from ._wpool import TaskInfo, builtins

__all__ = [
    "WasmPoolExecutor",
    "default_executor",
    "guest",
    "Guest",
    "Export",
    "TaskInfo",
    "builtins",
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
