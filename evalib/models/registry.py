"""Networks looked up by name, so a notebook can say ``model="dnn2"``."""
from __future__ import annotations

import inspect
from typing import Callable

from torch import nn

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable:
    """Decorator: make a builder function available as ``create(name, **options)``."""
    def add(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _BUILDERS:
            raise ValueError(f"model name {name!r} is already registered")
        _BUILDERS[name] = builder
        return builder
    return add


def names() -> list[str]:
    """Names accepted by ``create``, in registration order."""
    return list(_BUILDERS)


def options(name: str) -> dict[str, object]:
    """The options ``create(name, ...)`` accepts, with their defaults."""
    params = inspect.signature(_builder(name)).parameters
    return {k: p.default for k, p in params.items()}


def create(name: str, **opts) -> nn.Module:
    """Build the network called ``name``; ``opts`` override its defaults (see ``options(name)``)."""
    allowed = options(name)
    unknown = sorted(set(opts) - set(allowed))
    if unknown:
        raise ValueError(f"model {name!r} has no option(s) {unknown}; "
                         f"it takes: {', '.join(f'{k}={v!r}' for k, v in allowed.items())}")
    for key, value in opts.items():
        _check_type(name, key, value, allowed[key])
    try:
        return _builder(name)(**opts)
    except (TypeError, ValueError, ArithmeticError, RuntimeError, KeyError) as err:
        shown = ", ".join(f"{k}={v!r}" for k, v in opts.items()) or "its defaults"
        raise ValueError(f"model {name!r} cannot be built with {shown}: {type(err).__name__}: {err}") from None


def _check_type(name: str, key: str, value, default) -> None:
    """A ValueError when `value` is plainly not the kind of value `default` is (an integer option given text; an
    integer option may take a tuple, as out_channels=(2, K) does)."""
    if default is None or default is inspect.Parameter.empty or value is None:
        return
    kinds = {bool: (bool,), int: (int, tuple, list), float: (int, float), str: (str,), tuple: (tuple, list), list: (tuple, list)}
    want = kinds.get(type(default))
    if want is None:
        return
    if isinstance(value, want) and not (isinstance(value, bool) and type(default) in (int, float)):
        return
    raise ValueError(f"model {name!r}: option {key} must be {type(default).__name__} like its default "
                     f"{default!r}; got {value!r} ({type(value).__name__})")


def _builder(name: str) -> Callable[..., nn.Module]:
    """The builder registered under ``name``, or a ValueError listing the valid names."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(names())}")
    return _BUILDERS[name]
