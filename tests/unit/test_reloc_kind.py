"""``reloc.Kind``: one instance per kind, compared with ``is``, which pickling keeps."""

from __future__ import annotations

import pickle

from toolchain.linker import arch_386, arch_amd64, arch_arm
from toolchain.linker.reloc import Kind
from toolchain.linker.target import Target

KINDS = [value for name, value in vars(Kind).items() if name.isupper()]


def test_kinds_are_distinct_and_named_after_themselves():
    assert len(KINDS) == len({k.value for k in KINDS}) == 15
    for k in KINDS:
        assert getattr(Kind, k.name) is k
        assert repr(k) == f"<Kind.{k.name}>"


def test_a_pickled_kind_is_the_same_kind():
    for k in KINDS:
        assert pickle.loads(pickle.dumps(k)) is k


def test_every_howto_has_one_of_the_kinds():
    for module in (arch_386, arch_amd64, arch_arm):
        targets = [
            v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Target) and v is not Target
        ]
        kinds = [h.kind for t in targets for h in t.howtos.values()]
        assert kinds and all(any(k is known for known in KINDS) for k in kinds)
