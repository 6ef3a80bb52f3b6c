"""Guests as callables: attributes, signatures, values both ways, bad calls."""

import inspect

import pytest

import wpool


def test_exports_are_attributes_with_signatures(calc, sha):
    assert callable(calc.heavy_calc)
    assert str(inspect.signature(calc.heavy_calc)) == "(n: int) -> int"
    assert str(inspect.signature(sha.hex)) == "(data: bytes) -> str"
    assert "func(n: u64) -> u64" in calc.heavy_calc.__doc__
    assert "heavy_calc" in dir(calc)
    assert set(sha.exports) == {"digest", "hex"}


def test_unknown_export_lists_the_exports(sha):
    with pytest.raises(AttributeError, match="has no export `sha512`; it exports digest, hex"):
        sha.sha512


def test_unknown_builtin_and_missing_file():
    with pytest.raises(ValueError, match="heavy_calc"):
        wpool.guest("heavy_calcc")
    with pytest.raises(OSError):
        wpool.guest("/nonexistent/guest.wasm")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ten",), "argument `n`: expected u64"),
        ((-1,), "argument `n`: -1 is out of range for u64"),
        ((2**64,), "argument `n`: expected u64"),
        ((1.5,), "argument `n`: expected u64"),
        ((object(),), "argument `n`: expected u64, found an object of type `object`"),
        ((1, 2), r"takes 1 argument \(n: u64\), got 2"),
    ],
)
def test_bad_arguments_raise_type_error_before_running(ex, calc, args, message):
    with pytest.raises(TypeError, match=message):
        ex.submit(calc.heavy_calc, *args)


def test_bad_keyword_and_non_export(ex, calc):
    with pytest.raises(TypeError, match="heavy_calc"):
        calc.heavy_calc(m=3)
    with pytest.raises(TypeError, match="guest exports"):
        ex.submit(lambda: 1)


def test_values_both_ways(echo):
    assert echo.add(2, -5) == -3
    assert echo.echo_point({"x": 1, "y": -2, "label": "p"}) == {"x": 1, "y": -2, "label": "p"}
    assert echo.maybe_double(None) is None
    assert echo.maybe_double(21) == 42
    assert echo.swap(("a", 3)) == (3, "a")
    assert echo.swap(["b", 4]) == (4, "b")
    extremes = echo.extremes()
    assert type(extremes) is tuple and len(extremes) == 6
    assert extremes[0] == 2**64 - 1 and extremes[2] == -128
    assert echo.sum([1.5, 2.5]) == pytest.approx(4.0)
    assert echo.upper("héllo") == "HÉLLO"
    assert echo.negate(True) is False
    assert echo.reverse_bytes(bytearray(b"abc")) == b"cba"
    assert echo.slice("wasm pool", 5, 9) == "pool"


def test_a_parameter_named_like_a_python_keyword_gets_an_underscore(echo):
    # WIT `slice: func(text: string, from: u32, to: u32)`.
    assert str(inspect.signature(echo.slice)) == "(text: str, from_: int, to: int) -> str"
    assert echo.slice("héllo", from_=1, to=3) == "él"
    with pytest.raises(TypeError, match="from_"):
        echo.slice("héllo", to=3)


def test_text_and_bytes_do_not_stand_in_for_each_other(ex, sha, echo):
    # As hashlib.sha256("abc") is: a TypeError, before anything runs.
    with pytest.raises(TypeError, match=r"argument `data`: expected list<u8>, found a str"):
        ex.submit(sha.hex, "abc")
    with pytest.raises(TypeError, match=r"argument `s`: expected string, found bytes"):
        echo.upper(b"abc")
    with pytest.raises(TypeError, match=r"argument `s`: expected string, found bytes"):
        echo.upper(memoryview(b"abc"))
    assert echo.upper("abc") == "ABC" and sha.hex(memoryview(b"abc")) == sha.hex(b"abc")
    assert echo.next_color("red") == "green"
    assert echo.area({"circle": 1.0}) == pytest.approx(3.14159, rel=1e-4)
    assert echo.checked_div(7, 2) == 3
    with pytest.raises(TypeError, match="argument `p.x`: expected s32, found a string"):
        echo.echo_point({"x": "one", "y": 2, "label": "p"})


def test_wit_docs_and_types_in_signatures(echo):
    sig = inspect.signature(echo.maybe_double)
    assert sig.parameters["x"].annotation == (int | None)
    assert "func(x: option<u32>) -> option<u32>" in echo.maybe_double.__doc__


def test_grants_as_keyword_arguments(tmp_path):
    from conftest import _test_guest

    (tmp_path / "hello.txt").write_text("hi from the host")
    path = _test_guest("hostile")
    sandboxed = wpool.guest(path)
    assert sandboxed.env_var("GREETING") is None
    with pytest.raises(wpool.GuestError):
        sandboxed.read_file("/data/hello.txt")
    granted = wpool.guest(path, dirs={"/data": tmp_path}, env={"GREETING": "hello"})
    assert granted.env_var("GREETING") == "hello"
    assert granted.read_file("/data/hello.txt") == "hi from the host"
    with pytest.raises(wpool.GuestError):
        granted.write_file("/data/new.txt", "no")  # read-only
    writable = wpool.guest(path, writable_dirs={"/data": tmp_path})
    assert writable.write_file("/data/new.txt", "yes") is None
    assert (tmp_path / "new.txt").read_text() == "yes"
