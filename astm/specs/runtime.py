"""What spec modules use at run time: ``@astm.magic``, ``@astm.test``, ``NotBuiltError``.

A magic function forwards each call to its generated implementation, imported on first
call from ``<package>.__generated__.<module>``. A magic class is replaced at import by the
generated class (given the spec's ``__module__``), or by a placeholder that raises
``NotBuiltError`` on use. A test spec is marked so pytest never collects it. Standard
library only: spec modules import this in production.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["GENERATED_DIR", "NotBuiltError", "generated_module", "magic", "spec_ref", "test"]

# The generated package's name; ``[tool.astm.build] generated`` may change it, and then
# programs must export ASTM_GENERATED_DIR with the same name (astm test does).
GENERATED_DIR = os.environ.get("ASTM_GENERATED_DIR") or "__generated__"
BUILD_HINT = "run `astm build` (or `astm build --write`)"


class NotBuiltError(RuntimeError):
    """A spec was used before its implementation was generated."""

    def __init__(self, ref: str, why: str = "") -> None:
        detail = f" ({why})" if why else ""
        super().__init__(f"{ref} is not built yet{detail}: {BUILD_HINT}")
        self.ref = ref


def spec_ref(module: str, qualname: str) -> str:
    """A spec's identity, stable across runs: ``module:qualname``."""
    return f"{module}:{qualname}"


def generated_module(module: str, generated: str = GENERATED_DIR) -> str:
    """``shop.pricing`` -> ``shop.__generated__.pricing``; ``tool`` -> ``__generated__.tool``."""
    package, _, name = module.rpartition(".")
    return f"{package}.{generated}.{name}" if package else f"{generated}.{name}"


def _check_placement(obj: Any, what: str) -> str:
    """The spec's ref; TypeError naming it when it is not a top-level function or class."""
    qualname = getattr(obj, "__qualname__", "")
    module = getattr(obj, "__module__", "") or "?"
    ref = spec_ref(module, qualname)
    parts = qualname.split(".")
    if len(parts) > 1 and parts[-2] != "<locals>":
        raise TypeError(f"{what}: {ref} is a method; specs must be top-level functions or classes")
    if "<locals>" in parts:
        raise TypeError(f"{what}: {ref} is defined inside a function (a closure); "
                        "specs must be top-level functions or classes")
    if not callable(obj):
        raise TypeError(f"{what}: {ref} is not a function or a class")
    if isinstance(obj, type) and type(obj) is not type:
        raise TypeError(f"{what}: {ref} has a custom metaclass ({type(obj).__name__}); "
                        "astm cannot generate it")
    return ref


def _load(module: str, name: str, ref: str) -> Any:
    """The generated ``name`` of spec module ``module``; NotBuiltError if it is not there."""
    target = generated_module(module)
    try:
        mod = importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == target or target.startswith(exc.name + ".")):
            raise NotBuiltError(ref, f"no module {target}") from None
        raise
    try:
        return getattr(mod, name)
    except AttributeError:
        raise NotBuiltError(ref, f"{target} does not define {name}") from None


def _forwarder(fn: Callable[..., Any], ref: str) -> Callable[..., Any]:
    impl: list[Callable[..., Any]] = []

    @functools.wraps(fn)
    def forward(*args: Any, **kwargs: Any) -> Any:
        if not impl:
            impl.append(_load(fn.__module__, fn.__name__, ref))
        return impl[0](*args, **kwargs)

    setattr(forward, "__astm_spec__", ref)  # noqa: B010 - a marker tools read
    return forward


class _Unbuilt(type):
    """Metaclass of placeholders: any use of the class says which command to run."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise NotBuiltError(cls.__astm_spec__)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        raise NotBuiltError(cls.__astm_spec__)


def _replace_class(cls: type, ref: str) -> type:
    try:
        generated = _load(cls.__module__, cls.__name__, ref)
    except NotBuiltError:
        return _Unbuilt(cls.__name__, (), {
            "__module__": cls.__module__, "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__, "__astm_spec__": ref,
        })
    except ImportError as exc:
        # The generated module imports this spec module while it is half imported (a
        # circular import): the class cannot be swapped in now.
        return _Unbuilt(cls.__name__, (), {
            "__module__": cls.__module__, "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__, "__astm_spec__": f"{ref} (import failed: {exc})",
        })
    if not isinstance(generated, type):
        raise TypeError(f"{ref}: the generated {cls.__name__} is not a class")
    generated.__module__ = cls.__module__
    setattr(generated, "__astm_spec__", ref)  # noqa: B010 - a marker tools read
    return generated


def magic(
    deps: Iterable[Any] | Callable[..., Any] = (), prompt: str | None = None,
    infer_deps: bool = True,
) -> Any:
    """Mark a top-level function or class as a spec whose implementation astm generates.

    ``deps``: other specs or objects the implementation builds on (their APIs are shown
    to the model and their changes make this spec stale); ``prompt``: extra instructions;
    ``infer_deps``: also follow names the spec mentions. The arguments are read by
    ``astm build`` from the source; at run time they only mark the spec.
    """
    del prompt, infer_deps  # read statically by the build
    def decorate(obj: Any) -> Any:
        ref = _check_placement(obj, "astm.magic")
        if isinstance(obj, type):
            return _replace_class(obj, ref)
        return _forwarder(obj, ref)

    if callable(deps):  # used bare: ``@astm.magic``
        return decorate(deps)
    return decorate


def test(deps: Iterable[Any] | Callable[..., Any] = (), prompt: str | None = None) -> Any:
    """Mark a test spec: ``astm test`` generates the test from its docstring. The stub
    itself is never collected by pytest."""
    del prompt
    def decorate(obj: Any) -> Any:
        ref = _check_placement(obj, "astm.test")
        obj.__test__ = False
        obj.__astm_spec__ = ref
        return obj

    if callable(deps):  # used bare: ``@astm.test``
        return decorate(deps)
    return decorate
