"""Guests as Python objects: `guest()` and the callables for its exports."""

from __future__ import annotations

import inspect
import keyword
import os
import re
import typing
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["Guest", "Export", "guest"]

_INTS = {"u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64"}


def _split_top(text: str) -> list[str]:
    """Splits `a, list<b, c>, d` on the commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "<({":
            depth += 1
        elif ch in ">)}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    tail = text[start:].strip()
    if tail:
        parts.append(tail)
    return parts


def python_type(wit: str) -> Any:
    """The Python type a WIT type converts to (`list<u8>` → `bytes`, …)."""
    wit = wit.strip()
    if wit in _INTS:
        return int
    if wit in ("f32", "f64", "float32", "float64"):
        return float
    if wit == "bool":
        return bool
    if wit in ("string", "char"):
        return str
    if wit in ("list<u8>",) or re.fullmatch(r"list<u8,\s*\d+>", wit):
        return bytes
    m = re.fullmatch(r"(list|option|tuple|result)<(.*)>", wit)
    if m:
        kind, inner = m.group(1), m.group(2)
        args = _split_top(inner)
        if kind == "list":
            return list[python_type(args[0])]  # type: ignore[misc]
        if kind == "option":
            return typing.Optional[python_type(args[0])]
        if kind == "tuple":
            return tuple[tuple(python_type(a) for a in args)]  # type: ignore[misc]
        # result<T, E>: the ok value; an error raises GuestError.
        return python_type(args[0]) if args and args[0] != "_" else None
    if wit.startswith("result"):
        return None
    if wit.startswith("record"):
        return dict
    if wit.startswith("enum"):
        return str
    if wit.startswith("flags"):
        return list[str]
    return Any


def _docs(wit: str | None) -> dict[str, str]:
    """The `///` comments above each `export name: func` of a WIT world."""
    if not wit:
        return {}
    docs: dict[str, str] = {}
    pending: list[str] = []
    for line in wit.splitlines():
        stripped = line.strip()
        if stripped.startswith("///"):
            pending.append(stripped[3:].strip())
            continue
        m = re.match(r"export\s+([\w-]+)\s*:\s*func", stripped)
        if m and pending:
            docs[m.group(1)] = "\n".join(pending)
        if stripped:
            pending = []
    return docs


class Export:
    """A guest export as a Python callable, typed by its WIT signature.

    Calling it runs the export on the shared default pool and returns its
    result (blocking the calling thread, with the GIL released). Pass it to
    `WasmPoolExecutor.submit`, `map`, `call` or `loop.run_in_executor` to run
    it on that executor's pool instead.
    """

    def __init__(
        self,
        guest: Guest,
        wit_name: str,
        param_names: Sequence[str],
        param_types: Sequence[str],
        result_types: Sequence[str],
        signature: str,
        doc: str | None,
    ) -> None:
        self._guest = guest
        self._wit_name = wit_name
        self._params = [_python_name(n) for n in param_names]
        self.wit_signature = signature
        self.param_types = list(param_types)
        self.result_types = list(result_types)
        self.__name__ = self.__qualname__ = _python_name(wit_name.split("#")[-1])
        self.__module__ = "wpool.guests." + guest.name
        result: Any
        if not result_types:
            result = None
        elif len(result_types) == 1:
            result = python_type(result_types[0])
        else:
            result = tuple[tuple(python_type(t) for t in result_types)]  # type: ignore[misc]
        self.__signature__ = inspect.Signature(
            [
                inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=python_type(t))
                for n, t in zip(self._params, param_types)
            ],
            return_annotation=result,
        )
        text = f"{self.__name__}{self.__signature__}\n\nWIT: {wit_name}: {signature}"
        if doc:
            text += "\n\n" + doc
        self.__doc__ = text

    @property
    def guest(self) -> Guest:
        """The guest this export belongs to."""
        return self._guest

    @property
    def wit_name(self) -> str:
        """The export's WIT name (`heavy-calc`)."""
        return self._wit_name

    def _bind(self, args: tuple, kwargs: dict) -> tuple:
        """Positional arguments from a call with keyword arguments."""
        try:
            bound = self.__signature__.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self.__name__}(): {e}") from None
        return tuple(bound.arguments[n] for n in self._params if n in bound.arguments)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from ._executor import default_executor

        return default_executor().submit(self, *args, **kwargs).result()

    def __repr__(self) -> str:
        return f"<wpool export {self._guest.name}.{self.__name__}: {self.wit_signature}>"


def _python_name(wit_name: str) -> str:
    """A WIT parameter name as a Python parameter name: hyphens as
    underscores, and a trailing underscore after a Python keyword
    (``from`` → ``from_``), as PEP 8 suggests."""
    name = wit_name.replace("-", "_")
    return name + "_" if keyword.iskeyword(name) else name


class Guest:
    """A WebAssembly guest; its exports are attributes (hyphens as underscores).

    Made by `wpool.guest()`. A guest is compiled once per pool it runs on.
    """

    def __init__(self, spec: str, is_file: bool, grants: dict[str, Any]) -> None:
        from ._executor import default_executor

        self._spec = spec
        self._is_file = is_file
        self._grants = grants
        self._key = (
            spec,
            is_file,
            tuple(grants["dirs"]),
            tuple(grants["env"]),
            tuple(grants["args"]),
            grants["digest"],
        )
        loaded = default_executor()._loaded_guest(self)
        self.name: str = loaded.name
        self.wit: str | None = loaded.wit
        docs = _docs(self.wit)
        self._exports: dict[str, Export] = {}
        for wit_name, names, types, results, signature in loaded.functions():
            export = Export(self, wit_name, names, types, results, signature, docs.get(wit_name))
            self._exports[export.__name__] = export
            # An instance attribute, unless it would hide one of Guest's own
            # (then `exports[name]` reaches it): no __getattr__ per call.
            if not hasattr(type(self), export.__name__) and export.__name__ not in self.__dict__:
                self.__dict__[export.__name__] = export
        self.__doc__ = f"Guest `{self.name}`: " + ", ".join(
            f"{e.__name__}{e.__signature__}" for e in self._exports.values()
        )

    def _load_into(self, pool: Any) -> Any:
        g = self._grants
        return pool.load(self._spec, self._is_file, g["dirs"], g["env"], g["args"], g["digest"])

    @property
    def exports(self) -> dict[str, Export]:
        """The exports by Python name, in export order."""
        return dict(self._exports)

    def __getattr__(self, name: str) -> Export:
        exports = self.__dict__.get("_exports")
        if exports is None or name.startswith("__"):
            raise AttributeError(name)
        try:
            return exports[name]
        except KeyError:
            listed = ", ".join(exports) or "nothing"
            raise AttributeError(
                f"guest `{self.name}` has no export `{name}`; it exports {listed}", name=name, obj=self
            ) from None

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._exports))

    def __repr__(self) -> str:
        return f"<wpool guest {self.name!r}: {', '.join(self._exports)}>"


def guest(
    spec: str | os.PathLike[str],
    /,
    *,
    dirs: Mapping[str, str | os.PathLike[str]] | None = None,
    writable_dirs: Mapping[str, str | os.PathLike[str]] | None = None,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    digest: bool = False,
) -> Guest:
    """Loads a guest: a built-in by name (``"heavy_calc"``, ``"sha256"``) or
    any component or core module by path (a ``.wasm`` file).

    A guest gets no capabilities unless granted:

    - ``dirs``: directories it may read, as ``{guest_path: host_path}``
    - ``writable_dirs``: directories it may also write, the same way
    - ``env``: environment variables it can read
    - ``args``: its command-line arguments
    - ``digest``: whether it may call the host's SHA-256

    Raises ``ValueError`` for an unknown built-in, ``OSError`` for an
    unreadable file and ``RuntimeError`` for a guest that does not compile
    or link.
    """
    text = os.fspath(spec)
    is_file = isinstance(spec, os.PathLike) or text.endswith(".wasm") or os.sep in text or "/" in text
    grants = {
        "dirs": [(os.fspath(h), g, False) for g, h in (dirs or {}).items()]
        + [(os.fspath(h), g, True) for g, h in (writable_dirs or {}).items()],
        "env": sorted((str(k), str(v)) for k, v in (env or {}).items()),
        "args": [str(a) for a in args],
        "digest": bool(digest),
    }
    return Guest(text, is_file, grants)
