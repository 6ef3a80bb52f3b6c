"""The executor: results, ordering, overlap, cancellation, shutdown, threads."""

import concurrent.futures as cf
import hashlib
import sys
import threading
import time

import pytest

import wpool
from conftest import closed_heavy_calc, pure_heavy_calc

SEED_INPUTS = [50_000_000, 60_000_000, 70_000_000, 80_000_000]


def test_closed_form_matches_the_loop():
    for n in [0, 1, 6, 7, 8, 100, 9_999, 123_457]:
        assert closed_heavy_calc(n) == pure_heavy_calc(n)


def test_seed_program_2_matches_python(calc):
    with wpool.WasmPoolExecutor() as ex:
        assert isinstance(ex, cf.Executor)
        results = list(ex.map(calc.heavy_calc, SEED_INPUTS))
    assert results == [closed_heavy_calc(n) for n in SEED_INPUTS]


def test_small_inputs_match_the_python_loop(ex, calc):
    inputs = [0, 1, 7, 100_003, 250_000]
    assert list(ex.map(calc.heavy_calc, inputs)) == [pure_heavy_calc(n) for n in inputs]


def test_submit_returns_a_real_future(ex, calc):
    future = ex.submit(calc.heavy_calc, 1000)
    assert isinstance(future, cf.Future)
    assert future.result() == pure_heavy_calc(1000)
    assert future.wpool_info.worker in (0, 1)


def test_sha256_matches_hashlib(ex, sha):
    assert sha.hex(b"abc") == hashlib.sha256(b"abc").hexdigest()
    body = bytes(range(256)) * (10 * 4096)  # 10 MiB
    assert len(body) == 10 << 20
    assert ex.submit(sha.hex, body).result() == hashlib.sha256(body).hexdigest()
    assert ex.submit(sha.digest, bytearray(body)).result() == hashlib.sha256(body).digest()
    view = memoryview(body)[5:1005]
    assert sha.hex(view) == hashlib.sha256(body[5:1005]).hexdigest()


def test_big_bytes_are_shared_with_the_tasks_and_released_after(ex, sha):
    # bytes of 4 KiB and more reach the guest from their own buffer: each
    # task holds a reference, given back once the task is done.
    payloads = [bytes([i]) * (64 << 10) for i in range(8)] + [b"small" * 10]
    before = [sys.getrefcount(p) for p in payloads]
    for _ in range(3):
        assert list(ex.map(sha.hex, payloads * 4)) == [
            hashlib.sha256(p).hexdigest() for p in payloads * 4
        ]
    # References dropped on a worker are released when Python next runs the
    # extension's code: a direct call does.
    deadline = time.monotonic() + 5
    while [sys.getrefcount(p) for p in payloads] != before and time.monotonic() < deadline:
        sha.hex(b"")
        time.sleep(0.01)
    assert [sys.getrefcount(p) for p in payloads] == before


def test_two_tasks_overlap_on_two_workers(calc):
    with wpool.WasmPoolExecutor(2) as ex:
        a = ex.submit(calc.heavy_calc, 150_000_000)
        b = ex.submit(calc.heavy_calc, 150_000_000)
        cf.wait([a, b])
    ia, ib = a.wpool_info, b.wpool_info
    assert {ia.worker, ib.worker} == {0, 1}
    # Each started before the other finished.
    assert ia.started < ib.finished and ib.started < ia.finished


def test_map_keeps_input_order_and_honours_timeout(calc):
    with wpool.WasmPoolExecutor(2) as ex:
        inputs = [3_000_000, 10, 2_000_000, 5, 1_000_000, 0]
        assert list(ex.map(calc.heavy_calc, inputs)) == [closed_heavy_calc(n) for n in inputs]
    with wpool.WasmPoolExecutor(1) as ex:
        results = ex.map(calc.heavy_calc, [2_000_000_000, 1], timeout=0.05)
        with pytest.raises(cf.TimeoutError):
            list(results)
        ex.abort()


def test_cancelling_a_queued_future_cancels_its_task(hostile, calc):
    ex = wpool.WasmPoolExecutor(1)
    ex.preload(hostile, calc)  # so that no compile delays the submits below
    try:
        blocker = ex.submit(calc.heavy_calc, 100_000_000)
        # No timeout: if `spin` ever ran, the single worker would never be free again.
        spin = ex.submit(hostile.spin)
        assert spin.cancel()
        assert spin.cancelled()
        done, _ = cf.wait([spin], timeout=60)  # cancelled futures wake waiters
        assert spin in done
        after = ex.submit(hostile.ok, 41)
        assert after.result(timeout=120) == 42
        assert blocker.result() == closed_heavy_calc(100_000_000)
        with pytest.raises(cf.CancelledError):
            spin.result()
    finally:
        ex.abort()


def test_shutdown_waits_for_submitted_tasks(calc):
    ex = wpool.WasmPoolExecutor(1)
    futures = [ex.submit(calc.heavy_calc, 1_000_000 + i) for i in range(20)]
    ex.shutdown(wait=True)
    assert all(f.done() for f in futures)
    assert [f.result() for f in futures] == [closed_heavy_calc(1_000_000 + i) for i in range(20)]


def test_shutdown_without_waiting_returns_and_the_workers_exit_after(hostile, calc):
    ex = wpool.WasmPoolExecutor(1, timeout=2.0)
    spin = ex.submit(hostile.spin)  # runs until the 2 s timeout
    rest = [ex.submit(calc.heavy_calc, n) for n in range(5)]
    ex.shutdown(wait=False)
    assert not spin.done()  # it returned while the task still ran
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(calc.heavy_calc, 1)
    with pytest.raises(wpool.Timeout):
        spin.result(timeout=60)
    assert [f.result(timeout=60) for f in rest] == [closed_heavy_calc(n) for n in range(5)]
    # The pool closes by itself once the tasks are done.
    for _ in range(600):
        if ex._pool.closed:
            break
        threading.Event().wait(0.05)
    assert ex._pool.closed


def test_many_python_threads_submit_at_once(calc):
    with wpool.WasmPoolExecutor(2) as ex:
        barrier = threading.Barrier(8)
        results: dict[int, list] = {}

        def submitter(k: int):
            barrier.wait()
            futures = [ex.submit(calc.heavy_calc, k * 1000 + i) for i in range(500)]
            results[k] = [f.result(timeout=300) for f in futures]

        threads = [threading.Thread(target=submitter, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(results) == list(range(8))
    for k, got in results.items():
        assert got == [closed_heavy_calc(k * 1000 + i) for i in range(500)]


def test_waiters_racing_completions_are_all_woken(calc):
    # A future's Condition is made on first use; the completer sets results
    # directly only while there is none. Threads that start waiting (result,
    # wait, as_completed, callbacks) while tasks finish must all be woken.
    with wpool.WasmPoolExecutor(2) as ex:
        for _ in range(20):
            futures = [ex.submit(calc.heavy_calc, 20_000 + i) for i in range(200)]
            called = []
            for f in futures[::7]:
                f.add_done_callback(called.append)
            got: dict[str, list] = {}

            def by_result():
                got["result"] = [f.result(timeout=60) for f in reversed(futures)][::-1]

            def by_wait():
                done, pending = cf.wait(futures[1::2], timeout=60)
                got["wait"] = [len(done), len(pending)]

            def by_completion():
                got["as_completed"] = sorted(f.result() for f in cf.as_completed(futures[::3], timeout=60))

            threads = [threading.Thread(target=t) for t in (by_result, by_wait, by_completion)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
                assert not t.is_alive(), "a waiter was never woken"
            want = [closed_heavy_calc(20_000 + i) for i in range(200)]
            assert got["result"] == want
            assert got["wait"] == [100, 0]
            assert got["as_completed"] == sorted(want[::3])
            assert sorted(map(id, called)) == sorted(map(id, futures[::7]))


def test_a_future_nobody_waited_on_never_makes_a_condition(ex, calc):
    # The cheap path: no Condition while nobody waits (see _TaskFuture);
    # the first waiter or callback makes one, and results still arrive.
    futures = [ex.submit(calc.heavy_calc, 1000 + i) for i in range(50)]
    cf.wait(futures[-1:])  # makes a Condition for the last one only
    while not all(f.done() for f in futures):
        pass
    assert [f.result() for f in futures] == [pure_heavy_calc(1000 + i) for i in range(50)]
    assert sum(f._wpool_cond is None for f in futures) >= 49
    assert futures[-1]._wpool_cond is not None


def test_task_futures_set_every_field_a_future_has():
    # _TaskFuture skips Future.__init__ (its Condition is made lazily): a
    # Python that gives Future another field must show up here.
    from wpool._executor import _TaskFuture

    plain = set(vars(cf.Future())) - {"_condition"}
    assert set(vars(_TaskFuture())) == plain


def test_direct_calls_run_on_the_default_pool(calc):
    assert calc.heavy_calc(10_000) == pure_heavy_calc(10_000)
    assert calc.heavy_calc(n=7) == 14
    assert wpool.default_executor().max_workers >= 1


def test_executor_settings_are_checked():
    with pytest.raises(ValueError):
        wpool.WasmPoolExecutor(0)
    with pytest.raises(ValueError, match="instance mode"):
        wpool.WasmPoolExecutor(1, instance="sometimes")
    with pytest.raises(ValueError, match="timeout"):
        wpool.WasmPoolExecutor(1, timeout=-1)
