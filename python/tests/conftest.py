"""Shared fixtures: the built-in guests and the test guests built from `guest/`.

`python/test.sh` builds the test guests (`hostile`, `echo`) and points
`WPOOL_TEST_GUESTS` at them.
"""

import os
import pathlib

import pytest

import wpool

ROOT = pathlib.Path(__file__).resolve().parents[2]
GUESTS = pathlib.Path(
    os.environ.get("WPOOL_TEST_GUESTS", ROOT / "target/guests/wasm32-wasip2/release")
)


def pure_heavy_calc(n: int) -> int:
    """The seed's function, in plain Python."""
    return sum(i * i % 7 for i in range(n))


def closed_heavy_calc(n: int) -> int:
    """`pure_heavy_calc` without the loop: i*i % 7 repeats every 7 numbers."""
    return n // 7 * 14 + sum(i * i % 7 for i in range(n % 7))


def _test_guest(name: str) -> pathlib.Path:
    path = GUESTS / f"{name}.wasm"
    if not path.is_file():
        pytest.fail(f"test guest {path} is missing: run python/test.sh, which builds it")
    return path


@pytest.fixture(scope="session")
def calc():
    return wpool.guest("heavy_calc")


@pytest.fixture(scope="session")
def sha():
    return wpool.guest("sha256")


@pytest.fixture(scope="session")
def hostile():
    return wpool.guest(_test_guest("hostile"))


@pytest.fixture(scope="session")
def echo():
    return wpool.guest(_test_guest("echo"))


@pytest.fixture
def ex():
    with wpool.WasmPoolExecutor(2) as executor:
        yield executor
