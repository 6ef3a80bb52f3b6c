"""`WasmPoolExecutor.map` and `amap`: batched calls, `Executor.map`'s semantics."""

import asyncio
import concurrent.futures as cf
import itertools

import pytest

import wpool
from conftest import closed_heavy_calc

# heavy_calc of this runs for seconds: with a pool timeout it always times out.
FOREVER = 20_000_000_000


def next_task_number(ex, calc):
    future = ex.submit(calc.heavy_calc, 1)
    future.result(timeout=60)
    return future.wpool_info.task


def test_many_tiny_calls_come_back_in_input_order(ex, calc):
    inputs = [i % 50 for i in range(20_000)]
    assert list(ex.map(calc.heavy_calc, inputs)) == [closed_heavy_calc(n) for n in inputs]
    # `chunksize` is accepted (and ignored: batches size themselves).
    assert list(ex.map(calc.heavy_calc, [5, 6, 7], chunksize=8)) == [
        closed_heavy_calc(n) for n in [5, 6, 7]
    ]


def test_no_inputs_give_no_results(ex, calc):
    # As `Executor.map` does: an empty iterator, not an error.
    assert list(ex.map(calc.heavy_calc, [])) == []
    assert list(ex.map(calc.heavy_calc, iter(()), timeout=0.001)) == []

    async def main():
        return [r async for r in ex.amap(calc.heavy_calc, [])], [
            r async for r in ex.amap(calc.heavy_calc, [], ordered=True)
        ]

    assert asyncio.run(main()) == ([], [])


def test_every_input_is_checked_before_anything_runs(ex, calc):
    before = next_task_number(ex, calc)
    with pytest.raises(TypeError, match=r"input 3: argument `n`: expected u64"):
        ex.map(calc.heavy_calc, [1, 2, 3, "four", 5])
    with pytest.raises(TypeError, match="takes 1 argument"):
        ex.map(calc.heavy_calc, [1, 2], [3, 4])
    with pytest.raises(TypeError, match="guest exports"):
        ex.map(len, ["abc"])
    # Nothing was queued: the next task's number follows the last one's.
    assert next_task_number(ex, calc) == before + 1


def test_a_failed_call_raises_at_its_place_and_ends_the_results(hostile):
    with wpool.WasmPoolExecutor(1, memory=32 << 20) as ex:
        results = ex.map(hostile.grow, [1, 2, 4096, 1, 1])
        assert next(results) == 1
        assert next(results) == 2
        with pytest.raises(wpool.MemoryLimit) as failure:
            next(results)
        assert failure.value.function == "grow"
        with pytest.raises(StopIteration):
            next(results)
        # The pool carries on.
        assert list(ex.map(hostile.ok, [1, 2])) == [2, 3]


def test_a_failure_cancels_the_calls_not_started(calc):
    # One worker, 0.3 s per call at most. Task numbers are given as tasks
    # are queued: had the map gone on queueing its 40 other calls, the
    # second task below would not be numbered right after the first.
    with wpool.WasmPoolExecutor(1, timeout=0.3) as ex:
        results = ex.map(calc.heavy_calc, [FOREVER] * 41)
        with pytest.raises(wpool.Timeout):
            next(results)
        first = next_task_number(ex, calc)
        assert next_task_number(ex, calc) == first + 1


def test_closing_or_dropping_read_results_cancels_the_rest(calc):
    with wpool.WasmPoolExecutor(1, timeout=0.3) as ex:
        closed = ex.map(calc.heavy_calc, [1] + [FOREVER] * 40)
        assert next(closed) == 0
        closed.close()
        with pytest.raises(StopIteration):
            next(closed)
        first = next_task_number(ex, calc)
        assert next_task_number(ex, calc) == first + 1
        dropped = ex.map(calc.heavy_calc, [1] + [FOREVER] * 40)
        assert next(dropped) == 0
        del dropped
        first = next_task_number(ex, calc)
        assert next_task_number(ex, calc) == first + 1


def test_results_read_after_shutdown_are_all_there(calc):
    inputs = [3_000_000, 10, 2_000_000, 5] * 5
    with wpool.WasmPoolExecutor(2) as ex:
        results = ex.map(calc.heavy_calc, inputs)
        unread = ex.map(calc.heavy_calc, [1_000_000] * 10)
    # `shutdown` (the `with`) waited for both maps' calls, read or not.
    assert list(results) == [closed_heavy_calc(n) for n in inputs]
    assert len(unread) == 10 and list(unread) == [closed_heavy_calc(1_000_000)] * 10
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.map(calc.heavy_calc, [1])


def test_shutdown_cancel_futures_cancels_a_map(calc):
    ex = wpool.WasmPoolExecutor(1)
    results = ex.map(calc.heavy_calc, [50_000_000] * 40)
    ex.shutdown(wait=True, cancel_futures=True)
    values = []
    with pytest.raises(cf.CancelledError):
        for value in results:
            values.append(value)
    assert len(values) < 40
    assert values == [closed_heavy_calc(50_000_000)] * len(values)
    with pytest.raises(StopIteration):
        next(results)


def test_timeout_counts_from_the_map_call(calc):
    with wpool.WasmPoolExecutor(1, timeout=3.0) as ex:
        results = ex.map(calc.heavy_calc, [1, FOREVER, 1], timeout=1.0)
        assert next(results) == 0
        with pytest.raises(TimeoutError):
            next(results)
        with pytest.raises(StopIteration):
            next(results)


def test_buffersize_reads_inputs_lazily(ex, calc):
    endless = ex.map(calc.heavy_calc, itertools.count(), buffersize=4)
    first = list(itertools.islice(endless, 100))
    assert first == [closed_heavy_calc(n) for n in range(100)]
    endless.close()
    with pytest.raises(ValueError, match="buffersize"):
        ex.map(calc.heavy_calc, [1], buffersize=0)


def test_amap_checks_its_inputs_when_called(ex, calc):
    # Before any iteration, with no event loop: as `map` does.
    before = next_task_number(ex, calc)
    with pytest.raises(TypeError, match="input 1"):
        ex.amap(calc.heavy_calc, [1, "x"])
    assert next_task_number(ex, calc) == before + 1


def test_amap_checks_first_and_stops_at_a_failure(hostile, calc):
    async def main():
        with wpool.WasmPoolExecutor(1, memory=32 << 20) as ex:
            with pytest.raises(TypeError, match="input 1"):
                async for _ in ex.amap(calc.heavy_calc, [1, "x"]):
                    pass
            seen = []
            with pytest.raises(wpool.MemoryLimit):
                async for mib in ex.amap(hostile.grow, [1, 2, 4096, 1], ordered=True):
                    seen.append(mib)
            many = [r async for r in ex.amap(calc.heavy_calc, range(5000), ordered=True)]
            return seen, many

    seen, many = asyncio.run(main())
    assert seen == [1, 2]
    assert many == [closed_heavy_calc(n) for n in range(5000)]
