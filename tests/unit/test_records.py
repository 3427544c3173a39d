"""toolchain.records.NamedTuple: the same classes as typing.NamedTuple, without importing typing."""

from __future__ import annotations

import pickle
import typing

from toolchain import records


def point_class(base):
    """The same record class on ``base``: toolchain.records.NamedTuple or typing.NamedTuple."""

    class Point(base):
        """A point."""

        x: int
        y: int
        label: str = "origin"
        tags: tuple[str, ...] = ()

        @property
        def norm1(self) -> int:
            return abs(self.x) + abs(self.y)

        def moved(self, dx: int):
            return self._replace(x=self.x + dx)

    return Point


def test_not_typing_at_run_time():
    assert records.NamedTuple is not typing.NamedTuple


def test_behaves_as_typing_namedtuple():
    for cls in (point_class(records.NamedTuple), point_class(typing.NamedTuple)):
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
        assert cls.__qualname__ == "point_class.<locals>.Point"
        assert repr(p) == "Point(x=1, y=-2, label='origin', tags=())"
        assert isinstance(p, tuple)
        assert not hasattr(p, "__dict__")


class Module(records.NamedTuple):
    """At module level: pickled by name."""

    name: str
    size: int = 0


def test_pickles_by_name():
    m = Module("lua", 3)
    assert pickle.loads(pickle.dumps(m)) == m and type(pickle.loads(pickle.dumps(m))) is Module
