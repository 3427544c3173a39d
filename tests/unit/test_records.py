"""toolchain.records.NamedTuple: the same classes as typing.NamedTuple, without importing typing."""

from __future__ import annotations

import pickle
import typing

from toolchain import records


class Point(records.NamedTuple):
    """A point."""

    x: int
    y: int
    label: str = "origin"
    tags: tuple[str, ...] = ()

    @property
    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)

    def moved(self, dx: int) -> Point:
        return self._replace(x=self.x + dx)


class TypingPoint(typing.NamedTuple):
    """A point."""

    x: int
    y: int
    label: str = "origin"
    tags: tuple[str, ...] = ()

    @property
    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)

    def moved(self, dx: int) -> TypingPoint:
        return self._replace(x=self.x + dx)


def test_not_typing_at_run_time():
    assert records.NamedTuple is not typing.NamedTuple


def test_behaves_as_typing_namedtuple():
    for cls in (Point, TypingPoint):
        p = cls(1, -2)
        assert p == (1, -2, "origin", ())
        assert cls._fields == ("x", "y", "label", "tags")
        assert cls._field_defaults == {"label": "origin", "tags": ()}
        assert p.norm1 == 3
        assert p.moved(2) == cls(3, -2)
        assert type(p.moved(2)) is cls
        assert cls(y=5, x=4, label="a").label == "a"
        assert hash(p) == hash((1, -2, "origin", ()))
        assert cls.__doc__ == "A point."
        assert cls.__module__ == __name__
        assert cls.__qualname__ == cls.__name__
        assert repr(p) == f"{cls.__name__}(x=1, y=-2, label='origin', tags=())"
        assert pickle.loads(pickle.dumps(p)) == p
        assert isinstance(p, tuple)
        assert not hasattr(p, "__dict__")
