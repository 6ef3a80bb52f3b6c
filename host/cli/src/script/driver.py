# wpool's driver for Python script guests, run as `python -c DRIVER` inside
# CPython for WASI. stdin holds one JSON request:
#   {"file": "seed.py", "source": "...", "call": "heavy_calc", "args": [...]}
# The script runs as a module named "__wpool__" (so `if __name__ ==
# "__main__":` blocks stay quiet), the function is called with the arguments,
# and its result is written to stdout as JSON. Bytes travel as
# {"$bytes": "<hex>"} both ways; an int beyond 64 bits comes back as its
# decimal string. What the script prints goes to stderr.
# A failure writes "Type: message" and the traceback to stderr, exit status 1.
import json
import sys


def _decode(v):
    if isinstance(v, dict):
        if len(v) == 1 and "$bytes" in v:
            return bytes.fromhex(v["$bytes"])
        return {k: _decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_decode(x) for x in v]
    return v


def _encode(v):
    if isinstance(v, int) and not isinstance(v, bool) and not -(2**63) <= v < 2**64:
        return str(v)  # exact, where a JSON number would lose digits
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"$bytes": bytes(v).hex()}
    if isinstance(v, dict):
        return {str(k): _encode(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_encode(x) for x in v]
    return v


def _main():
    request = json.loads(sys.stdin.buffer.read())
    out = sys.stdout
    sys.stdout = sys.stderr
    try:
        module = {"__name__": "__wpool__", "__file__": request["file"]}
        exec(compile(request["source"], request["file"], "exec"), module)
        result = module[request["call"]](*_decode(request["args"]))
        text = json.dumps(_encode(result), allow_nan=False)
    except BaseException as e:
        sys.stderr.write(f"{type(e).__name__}: {e}\n")
        import traceback  # only on failure: imports cost start-up time

        # The traceback from the script's own frames (the driver's is first).
        traceback.print_exception(type(e), e, e.__traceback__.tb_next)
        sys.stderr.flush()
        sys.exit(1)
    out.write(text)
    out.flush()


_main()
