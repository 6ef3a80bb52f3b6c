"""The seed's program 2 on wpool: heavy_calc over four inputs, on every core.

    python examples/heavy_calc.py [N ...]
"""

import sys

import wpool

calc = wpool.guest("heavy_calc")
inputs = [int(a) for a in sys.argv[1:]] or [50_000_000, 60_000_000, 70_000_000, 80_000_000]

with wpool.WasmPoolExecutor() as ex:
    print(list(ex.map(calc.heavy_calc, inputs)))
