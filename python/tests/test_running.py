"""Futures move PENDING → RUNNING → FINISHED: a task a worker has started
cannot be cancelled, as with `ThreadPoolExecutor`.

A task is held running, deterministically, by a guest opening a FIFO for
reading: `open` blocks on its worker until the test opens the writing end.
(Reading a FIFO then fails inside WASI, so such a task ends in a
`GuestError`: its own outcome, not a `CancelledError`.)
"""

import concurrent.futures as cf
import errno
import os
import threading
import time

import pytest

import wpool


class Gate:
    """A FIFO that a guest blocks on until `open` is called."""

    def __init__(self, folder):
        self.folder = folder
        self.path = os.path.join(folder, "gate")
        os.mkfifo(self.path)
        self.opened = False

    def open(self):
        """Lets the blocked guest go (once its `open` is waiting)."""
        if self.opened:
            return
        deadline = time.monotonic() + 60
        while True:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as e:  # ENXIO: no reader yet
                if e.errno != errno.ENXIO or time.monotonic() > deadline:
                    raise
                time.sleep(0.001)
        os.close(fd)
        self.opened = True


@pytest.fixture
def gate(tmp_path, hostile):
    g = Gate(str(tmp_path))
    yield g, wpool.guest(hostile._spec, dirs={"/gate": tmp_path})
    if not g.opened:
        try:
            g.open()
        except OSError:
            pass


def wait_running(future):
    """Polls until a worker has started `future`'s task (a state, not a
    time: the 60 s bound only keeps a broken build from hanging)."""
    deadline = time.monotonic() + 60
    while not future.running():
        assert not future.done(), future.exception()
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.001)


def test_a_running_future_cannot_be_cancelled(gate, hostile):
    g, blocking = gate
    with wpool.WasmPoolExecutor(1) as ex:
        ex.preload(blocking, hostile)
        running = ex.submit(blocking.read_file, "/gate/gate")
        queued = ex.submit(hostile.ok, 1)
        wait_running(running)
        assert "state=running" in repr(running)
        assert not queued.running()
        assert not running.cancel()
        assert running.running() and not running.cancelled()
        assert queued.cancel() and queued.cancel()  # idempotent
        assert queued.cancelled() and not queued.running()
        g.open()
        with pytest.raises(wpool.GuestError):  # its own outcome arrives
            running.result(timeout=60)
        assert not running.running() and not running.cancel()
        with pytest.raises(cf.CancelledError):
            queued.result()
        after = ex.submit(hostile.ok, 41)
        assert after.result(timeout=60) == 42
        assert not after.cancel()


def test_shutdown_cancel_futures_lets_running_tasks_finish(gate, hostile):
    g, blocking = gate
    ex = wpool.WasmPoolExecutor(1)
    ex.preload(blocking, hostile)
    running = ex.submit(blocking.read_file, "/gate/gate")
    wait_running(running)
    # No timeout: if a spin ever ran, the single worker would never be free.
    spins = [ex.submit(hostile.spin) for _ in range(20)]
    finished = threading.Event()

    def shut():
        ex.shutdown(wait=True, cancel_futures=True)
        finished.set()

    t = threading.Thread(target=shut, daemon=True)
    t.start()
    done, _ = cf.wait(spins, timeout=60)  # cancelled ones wake waiters at once
    assert done == set(spins) and all(s.cancelled() for s in spins)
    assert running.running() and not finished.is_set()  # shutdown waits for it
    g.open()
    if not finished.wait(120):
        ex.abort()
        pytest.fail("shutdown(cancel_futures=True) ran a queued task")
    assert not running.cancelled()
    with pytest.raises(wpool.GuestError):
        running.result()
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(hostile.ok, 1)
