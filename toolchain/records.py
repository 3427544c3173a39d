"""``Record``: a base for small mutable records, without ``dataclasses``.

``@dataclass`` builds each class's methods with ``exec`` when the module is imported, and
its import pulls in ``inspect``; every command pays for that at start-up. A record here
names its fields in ``__slots__`` and writes its ``__init__``; equality and ``repr`` come
from the slots.
"""

from __future__ import annotations


class Record:
    """Equality (same class, equal fields) and ``repr`` from ``__slots__``; not hashable."""

    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Record)
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"
