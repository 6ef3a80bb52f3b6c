"""Hostile guests fail their own task with the right exception; others carry on."""

import subprocess
import sys
import textwrap

import pytest

import wpool
from conftest import GUESTS


def test_hostile_tasks_fail_alone(hostile):
    with wpool.WasmPoolExecutor(2, timeout=1.0, memory=64 << 20) as ex:
        spin = ex.submit(hostile.spin)
        trap = ex.submit(hostile.trap)
        bomb = ex.submit(hostile.grow, 512)
        oks = [ex.submit(hostile.ok, i) for i in range(100)]
        assert [f.result() for f in oks] == [i + 1 for i in range(100)]
        for future, cls, kind in [
            (spin, wpool.Timeout, "timeout"),
            (trap, wpool.Trap, "trap"),
            (bomb, wpool.MemoryLimit, "memory_limit"),
        ]:
            with pytest.raises(cls) as info:
                future.result()
            err = info.value
            assert isinstance(err, wpool.TaskError)
            assert err.kind == kind
            assert err.guest == "hostile"
            assert err.function in ("spin", "trap", "grow")
            assert isinstance(err.task, int) and err.task >= 0
            assert f"task {err.task}" in str(err)
        # The pool keeps working after all of that.
        assert ex.submit(hostile.ok, 1).result() == 2


def test_fuel_and_guest_errors(hostile, calc):
    with wpool.WasmPoolExecutor(1, fuel=100_000) as ex:
        with pytest.raises(wpool.OutOfFuel) as info:
            ex.submit(calc.heavy_calc, 10**9).result()
        assert info.value.function == "heavy-calc"
        with pytest.raises(wpool.GuestError, match="nope"):
            ex.submit(hostile.read_file, "/nope").result()
        assert ex.submit(hostile.ok, 5).result() == 6


def test_abort_interrupts_and_cancels(hostile):
    ex = wpool.WasmPoolExecutor(1)
    running = ex.submit(hostile.spin)
    queued = ex.submit(hostile.ok, 1)
    ex.abort()
    for future in (running, queued):
        with pytest.raises(wpool.Cancelled):
            future.result(timeout=120)


def test_task_error_pickles():
    import pickle

    err = wpool.Timeout("task 3 timed out", task=3, guest="g", function="f", detail="timed out")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is wpool.Timeout and back.task == 3 and back.kind == "timeout"


@pytest.mark.parametrize("shutdown", ["none", "default", "busy"])
def test_interpreter_exit_with_queued_tasks(shutdown):
    script = textwrap.dedent(
        f"""
        import wpool
        hostile = wpool.guest({str(GUESTS / "hostile.wasm")!r})
        ex = wpool.WasmPoolExecutor(1)
        futures = [ex.submit(hostile.spin)] + [ex.submit(hostile.ok, i) for i in range(100)]
        if {shutdown!r} == "default":
            calc = wpool.guest("heavy_calc")
            pending = [wpool.default_executor().submit(calc.heavy_calc, 10**9) for _ in range(50)]
        if {shutdown!r} == "busy":  # tasks finishing while the interpreter exits
            calc = wpool.guest("heavy_calc")
            busy = wpool.WasmPoolExecutor(2)
            pending = [busy.submit(calc.heavy_calc, i % 1000) for i in range(20000)]
        print("submitted", flush=True)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "submitted"
