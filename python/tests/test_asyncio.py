"""asyncio: run_in_executor, gather, wrap_future, the native awaitable, amap."""

import asyncio

import pytest

import wpool
from conftest import closed_heavy_calc


def test_run_in_executor_and_gather(ex, calc):
    async def main():
        loop = asyncio.get_running_loop()
        one = await loop.run_in_executor(ex, calc.heavy_calc, 1000)
        many = await asyncio.gather(*(loop.run_in_executor(ex, calc.heavy_calc, n) for n in range(300)))
        return one, many

    one, many = asyncio.run(main())
    assert one == closed_heavy_calc(1000)
    assert many == [closed_heavy_calc(n) for n in range(300)]


def test_wrap_future_and_native_awaitable(ex, sha):
    async def main():
        wrapped = await asyncio.wrap_future(ex.submit(sha.hex, b"abc"))
        native = await ex.call(sha.hex, b"abc")
        keyword = await ex.asubmit(sha.hex, data=b"abc")
        return wrapped, native, keyword

    wrapped, native, keyword = asyncio.run(main())
    assert wrapped == native == keyword
    assert native.startswith("ba7816bf")


def test_amap_yields_as_completed_and_in_order(ex, calc):
    inputs = [5_000_000, 3, 1_000_000, 0, 7]

    async def main():
        unordered = [r async for r in ex.amap(calc.heavy_calc, inputs)]
        ordered = [r async for r in ex.amap(calc.heavy_calc, inputs, ordered=True)]
        return unordered, ordered

    unordered, ordered = asyncio.run(main())
    expected = [closed_heavy_calc(n) for n in inputs]
    assert ordered == expected
    assert sorted(unordered) == sorted(expected)


def test_awaiting_a_failed_task_raises_its_error(hostile):
    async def main():
        with wpool.WasmPoolExecutor(1) as ex:
            with pytest.raises(wpool.Trap):
                await ex.call(hostile.trap)
            return await ex.call(hostile.ok, 1)

    assert asyncio.run(main()) == 2


def test_cancelling_the_awaiting_task_cancels_the_pool_task(hostile, calc):
    ex = wpool.WasmPoolExecutor(1)
    ex.preload(hostile, calc)

    async def main():
        blocker = asyncio.ensure_future(ex.call(calc.heavy_calc, 200_000_000))
        spin = asyncio.ensure_future(ex.call(hostile.spin))
        await asyncio.sleep(0)
        spin.cancel()
        with pytest.raises(asyncio.CancelledError):
            await spin
        after = await asyncio.wait_for(ex.call(hostile.ok, 1), 120)
        return await blocker, after

    try:
        assert asyncio.run(main()) == (closed_heavy_calc(200_000_000), 2)
    finally:
        ex.abort()


def test_native_awaitable_checks_arguments_and_shutdown(calc):
    ex = wpool.WasmPoolExecutor(1)

    async def bad():
        return await ex.call(calc.heavy_calc, "ten")

    with pytest.raises(TypeError, match="argument `n`: expected u64"):
        asyncio.run(bad())
    ex.shutdown()

    async def late():
        return await ex.call(calc.heavy_calc, 1)

    with pytest.raises(RuntimeError, match="after shutdown"):
        asyncio.run(late())


def test_native_awaitable_converts_results_as_submit_does(ex, echo):
    async def main():
        return await ex.call(echo.swap, ("a", 3)), await ex.call(echo.echo_point, {"x": 1, "y": 2, "label": ""})

    assert asyncio.run(main()) == ((3, "a"), {"x": 1, "y": 2, "label": ""})
