"""``Record`` and ``NamedTuple``: record classes without ``dataclasses`` or ``typing``.

``@dataclass`` builds each class's methods with ``exec`` when the module is imported, and
its import pulls in ``inspect``; every command pays for that at start-up. A record here
names its fields in ``__slots__`` and writes its ``__init__``; equality and ``repr`` come
from the slots.

Importing ``typing`` costs every command about 3 ms. ``NamedTuple`` here turns the same
class syntax as ``typing.NamedTuple`` into the same ``collections.namedtuple`` class;
type checkers see ``typing``'s.
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


TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:

    class _NamedTupleMaker(type):
        """Makes ``class P(NamedTuple): x: int`` a ``collections.namedtuple``, as ``typing`` does.

        Fields are the annotated names in order, defaults their assigned values; methods,
        properties and the docstring are copied onto the tuple class.
        """

        def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, object]) -> type:
            if not bases:
                return super().__new__(mcs, name, bases, namespace)
            import collections  # already imported by the interpreter's own start-up

            annotations = namespace.get("__annotations__")
            if not isinstance(annotations, dict):  # evaluated lazily (PEP 649) and not written out here
                raise TypeError(f"{name}: a records.NamedTuple needs 'from __future__ import annotations'")
            fields = tuple(annotations)
            defaults = [namespace[f] for f in fields if f in namespace]
            cls = collections.namedtuple(name, fields, defaults=defaults, module=str(namespace["__module__"]))
            for key, value in namespace.items():
                if key not in fields and key not in ("__module__", "__qualname__", "__annotations__"):
                    setattr(cls, key, value)
            cls.__qualname__ = str(namespace.get("__qualname__", name))
            return cls

    class NamedTuple(metaclass=_NamedTupleMaker):
        """The base of a record tuple class; see ``_NamedTupleMaker``."""
