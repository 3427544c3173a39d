"""Shared libraries through the whole pipeline, with no compiler: automatic imports, DT_NEEDED, checks.

The shared object is ``test_shlib``'s hand-built one (``libdemo.so.1``: ``puts@@V1``,
``memcpy@V1``/``memcpy@@V2``, ``environ@@V1`` data...); objects come from ``elfbuild``;
outputs are read back with pyelftools.
"""

from __future__ import annotations

import io

import pytest
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

from tests.unit import elfbuild as eb
from tests.unit.test_shlib import DEMO, build_shared_object
from toolchain.arch import get_arch
from toolchain.directives import Directives, DynImport, format_directives
from toolchain.errors import DynError
from toolchain.linker import outputs
from toolchain.linker.context import LinkOptions
from toolchain.linker.libsearch import InputArg

PLT32, GOTPCREL = 4, 9  # R_X86_64_*


def caller(*names: str, pragma: Directives | None = None, entry: str = "_start") -> eb.Obj:
    """An amd64 object whose function ``entry`` calls each of ``names`` (R_X86_64_PLT32)."""
    relocs = [eb.Rel(".text", 1 + 5 * i, PLT32, n, -4) for i, n in enumerate(names)]
    sections = [eb.Sec(".text", b"\xe8\0\0\0\0" * len(names) + b"\xc3", eb.SHF_ALLOC | eb.SHF_EXECINSTR)]
    if pragma is not None:
        sections.append(eb.Sec(".dynpragma", format_directives(pragma), 0))
    syms = [eb.Sym(entry, ".text", type=eb.STT_FUNC), *(eb.Sym(n, None) for n in names)]
    return eb.Obj("amd64", sections, syms, relocs)


def link(tmp_path, objs: list[eb.Obj], libs: list[tuple[str, bytes, bool]]) -> ELFFile:
    """Link objects and (file name, bytes, as_needed) shared libraries, in that order."""
    args = []
    for i, obj in enumerate(objs):
        p = tmp_path / f"o{i}.o"
        p.write_bytes(eb.build(obj))
        args.append(InputArg(str(p)))
    for name, data, as_needed in libs:
        p = tmp_path / name
        p.write_bytes(data)
        args.append(InputArg(str(p), as_needed=as_needed))
    opts = LinkOptions(arch=get_arch("amd64"), output=str(tmp_path / "out"), inputs=[], input_args=args)
    data, _ctx = outputs.link(opts)
    return ELFFile(io.BytesIO(data))


def needed(f: ELFFile) -> list[str]:
    dyn = next(s for s in f.iter_sections() if isinstance(s, DynamicSection))
    return [t.needed for t in dyn.iter_tags() if t.entry.d_tag == "DT_NEEDED"]


def dynamic_imports(f: ELFFile) -> dict[str, str]:
    """Undefined .dynsym names -> version name (from .gnu.version_r)."""
    verneed = next(s for s in f.iter_sections() if isinstance(s, GNUVerNeedSection))
    names = {aux["vna_other"]: aux.name for _v, auxes in verneed.iter_versions() for aux in auxes}
    versym = f.get_section_by_name(".gnu.version")
    out = {}
    for i, sym in enumerate(f.get_section_by_name(".dynsym").iter_symbols()):
        if sym.name and sym["st_shndx"] == "SHN_UNDEF":
            out[sym.name] = names.get(versym.get_symbol(i)["ndx"], "")
    return out


DEMO_SO = build_shared_object(DEMO, ["V1", "V2"])
OTHER_SO = build_shared_object([("other_fn", 1, 2, 7, 2, 0)], ["O1"], soname="libother.so.3")


def test_undefined_symbols_become_versioned_imports(tmp_path):
    f = link(tmp_path, [caller("puts", "memcpy")], [("libdemo.so.1", DEMO_SO, True)])
    assert needed(f) == ["libdemo.so.1"]
    assert dynamic_imports(f) == {"puts": "V1", "memcpy": "V2"}  # memcpy's default version, not the old one
    assert f.get_section_by_name(".plt") is not None
    assert any(seg["p_type"] == "PT_GNU_RELRO" for seg in f.iter_segments())


def test_dt_needed_follows_as_needed(tmp_path):
    libs = [("libdemo.so.1", DEMO_SO, True), ("libother.so.3", OTHER_SO, True)]
    assert needed(link(tmp_path, [caller("puts")], libs)) == ["libdemo.so.1"]
    libs[1] = ("libother.so.3", OTHER_SO, False)  # --no-as-needed
    assert needed(link(tmp_path, [caller("puts")], libs)) == ["libdemo.so.1", "libother.so.3"]


def test_pragma_checked_against_the_library_named(tmp_path):
    pragma = Directives("amd64", [DynImport("frob", "frobnicate", "libdemo.so.1")])
    with pytest.raises(DynError, match=r"o0.o: #pragma dynimport frob frobnicate \"libdemo.so.1\": .*does not define"):
        link(tmp_path, [caller("frob", pragma=pragma)], [("libdemo.so.1", DEMO_SO, True)])
    pragma = Directives("amd64", [DynImport("old", "memcpy#V1", "libdemo.so.1")])  # a hidden version is fine
    f = link(tmp_path, [caller("old", pragma=pragma)], [("libdemo.so.1", DEMO_SO, True)])
    assert dynamic_imports(f) == {"memcpy": "V1"}


def test_every_undefined_symbol_is_reported(tmp_path):
    with pytest.raises(DynError) as e:
        objs = [caller("puts", "nowhere1", "helper"), caller("nowhere2", "nowhere1", entry="helper")]
        link(tmp_path, objs, [("libdemo.so.1", DEMO_SO, True)])
    lines = str(e.value).splitlines()
    assert lines[0].endswith("o0.o: undefined symbol: nowhere1 (also referenced by " + str(tmp_path / "o1.o") + ")")
    assert lines[1].endswith("o1.o: undefined symbol: nowhere2")
    assert lines[2] == "2 undefined symbols"


def test_a_module_cannot_link_a_shared_library(tmp_path):
    p = tmp_path / "libdemo.so.1"
    p.write_bytes(DEMO_SO)
    o = tmp_path / "o.o"
    o.write_bytes(eb.build(caller("puts")))
    opts = LinkOptions(
        arch=get_arch("amd64"), output=str(tmp_path / "m"), inputs=[], input_args=[InputArg(str(o)), InputArg(str(p))]
    )
    opts.module = True
    with pytest.raises(DynError, match="a dynld module cannot link against a shared library"):
        outputs.link(opts)


def test_definitions_a_library_expects_are_exported(tmp_path):
    """A library that calls back into the program (an undefined ``callback`` in its .dynsym) finds it exported."""
    lib = build_shared_object([*DEMO, ("callback", 1, 2, 0, 0, 0)], ["V1", "V2"], soname="libcb.so.1")
    prog = caller("puts", "callback")
    prog.sections.append(eb.Sec(".text.cb", b"\xc3", eb.SHF_ALLOC | eb.SHF_EXECINSTR))
    prog.symbols = [s for s in prog.symbols if s.name != "callback"] + [
        eb.Sym("callback", ".text.cb", type=eb.STT_FUNC),
        eb.Sym("not_expected", ".text.cb", type=eb.STT_FUNC),
    ]
    f = link(tmp_path, [prog], [("libcb.so.1", lib, True)])
    defined = {s.name for s in f.get_section_by_name(".dynsym").iter_symbols() if s["st_shndx"] != "SHN_UNDEF"}
    assert "callback" in defined and "not_expected" not in defined
