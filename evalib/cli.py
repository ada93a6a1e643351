"""Small pieces the command lines share: integer arguments with a lower bound, KEY=VALUE option values, and\nerror text without tracebacks (standard library only)."""
from __future__ import annotations

import argparse
import sys
import traceback


def int_at_least(low: int):
    """An argparse type: an integer of at least `low` (argparse names the flag in its error and exits with 2)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


def option_value(text: str):
    """A KEY=VALUE option's value: '3' -> 3, '0.5' -> 0.5, 'none' -> None, 'true' -> True, else the string.

    >>> option_value("3"), option_value("2e-4"), option_value("None"), option_value("minmax")
    (3, 0.0002, None, 'minmax')
    """
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"none": None, "true": True, "false": False}.get(text.lower(), text)


def describe(err: BaseException) -> str:
    """An error's message for `error: ...` lines: an OSError without its "[Errno 13]" prefix, naming its file."""
    if isinstance(err, OSError) and err.strerror:
        return f"{err.strerror}: {err.filename}" if err.filename else err.strerror
    return str(err)


def fail(err: BaseException, code: int, debug: bool = False, unexpected: bool = False) -> int:
    """Print `err` as one `error: ...` line on stderr (the traceback too with `debug`) and return `code`.

    `unexpected`: an error no check foresaw; the line names its type and says how to see the traceback.
    """
    if debug:
        traceback.print_exception(err, file=sys.stderr)
    text = describe(err).strip() or type(err).__name__
    if unexpected:
        text = (f"unexpected {type(err).__name__}: {text.splitlines()[0][:300]}"
                + ("" if debug else " (rerun with --debug to see the traceback, and please report it)"))
    print(f"error: {text}", file=sys.stderr)
    return code
