"""The runnable examples in python/examples (the seed's two programs)."""

import pathlib
import subprocess
import sys

from conftest import closed_heavy_calc

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def run(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=EXAMPLES
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_program_2_heavy_calc():
    out = run("heavy_calc.py")
    expected = [closed_heavy_calc(n) for n in [50_000_000, 60_000_000, 70_000_000, 80_000_000]]
    assert out.strip() == str(expected)


def test_program_1_fetch_and_hash():
    out = run("fetch_hash.py", "--count", "40", "--concurrency", "8").splitlines()
    assert len(out) == 41
    assert out[-1].startswith("40 bodies,")
