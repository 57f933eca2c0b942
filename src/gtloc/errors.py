"""The one exception family that users see: a message saying what is wrong and where (file, row, field, parameter).

Two kinds carry what they name as attributes, so that callers need not parse messages:
:class:`InvalidValueError` (a value that fails validation: ``field``, ``value``, ``reason``, ``where``) and
:class:`ParameterError` (a bad argument: ``parameter``; apps re-word it with their own names, e.g. CLI flags).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

_E = TypeVar("_E", bound="InvalidValueError")


class GtlocError(Exception):
    """A user-facing error: bad input, a missing file, an incompatible checkpoint. The CLI prints it and exits 2."""


class InvalidValueError(GtlocError, ValueError):
    """A value that fails validation.

    ``field``: what the value is (``"lat"``, ``"month"``, ...; ``None`` when a whole array is refused, e.g. for its
    shape); ``value``: the value as given; ``reason``: why it is refused; ``where``: where it came from (a file and
    row, an argument; ``""`` when not known). The message is ``"<where>: invalid <field> <value!r>: <reason>"``.
    """

    def __init__(self, reason: str, field: str | None = None, value: object = None, where: str = ""):
        self.reason, self.field, self.value, self.where = reason, field, value, where
        what = reason if field is None else f"invalid {field} {value!r}: {reason}"
        super().__init__(f"{where}: {what}" if where else what)

    def located(self: _E, where: str) -> _E:
        """The same error (same type and field) with ``where`` put in front of its location."""
        return type(self)(self.reason, self.field, self.value, f"{where}: {self.where}" if self.where else where)


@dataclass(frozen=True)
class Param:
    """A Python parameter named in a :class:`ParameterError` message.

    ``example``: a value shown with it: ``name=example`` in Python (``overwrite=True``, ``model_path=DIR``);
    ``--flag example`` on a command line, or ``--flag`` alone for ``True``.
    """

    name: str
    example: object = None

    def python(self) -> str:
        return self.name if self.example is None else f"{self.name}={self.example}"

    def flag(self, flag: str) -> str:
        return flag if self.example is None or self.example is True else f"{flag} {self.example}"


class ParameterError(GtlocError, ValueError):
    """A bad argument to a library function: the message is text and :class:`Param` parts, so it names the Python
    parameters (``str(exc)``); an app re-words it with its own names (:meth:`spelled`, e.g. the CLI's flags)."""

    def __init__(self, *parts: str | Param):
        self.parts = parts
        super().__init__(self.spelled())

    @property
    def parameters(self) -> tuple[str, ...]:
        """The names of the parameters the message names, in order."""
        return tuple(p.name for p in self.parts if isinstance(p, Param))

    @property
    def parameter(self) -> str:
        """The parameter at fault (the first one the message names)."""
        return self.parameters[0]

    def spelled(self, flag: Callable[[str], str] | None = None) -> str:
        """The message; with ``flag`` (parameter name -> command-line flag) each parameter is written as its flag."""
        return "".join(
            p if isinstance(p, str) else p.python() if flag is None else p.flag(flag(p.name)) for p in self.parts
        )
