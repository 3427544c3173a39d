"""The dynamic section of an executable: the seed's ``doelf``, for every arch at once.

Used by the ELF executable output: reads the link state's imports, exports and GOT;
makes the dynamic sections through ``add_synthetic_section`` and fills them in the image.

``.interp``, ``.dynsym``/``.dynstr``, SysV ``.hash`` and ``.gnu.hash``, symbol versions,
import relocations (GLOB_DAT, JUMP_SLOT through a lazy PLT, or symbolic words), and
``.dynamic``: ``DT_NEEDED`` for the libraries used (``hosted.used_libraries``), the
init/fini arrays, ``DT_RUNPATH`` (``-rpath``; ``DT_RPATH`` with ``--disable-new-dtags``) and ``DT_FLAGS`` (``-z now``).
"""

from __future__ import annotations

import struct

from .. import elf
from ..directives import DynImport
from ..elf import DT
from ..errors import DynError
from . import hosted
from .context import LinkState
from .inputs import Symbol
from .sections import add_synthetic_section

DF_BIND_NOW, DF_1_NOW = 8, 1  # DT_FLAGS and DT_FLAGS_1 bits of -z now

# Bucket counts GNU ld also uses: primes, each about twice the one before.
_BUCKETS = (1, 3, 17, 37, 67, 97, 131, 197, 263, 521, 1031, 2053, 4099, 8209, 16411, 32771, 65537, 131101, 262147)


def bucket_count(nsyms: int) -> int:
    """The largest count from the list that is not above the number of symbols (as GNU ld picks)."""
    best = 1
    for b in _BUCKETS:
        if b > nsyms:
            break
        best = b
    return best


class DynamicInfo:
    """Collects imports and exports during the link, then writes the dynamic tables."""

    def __init__(self, ctx: LinkState):
        self.lk = ctx
        self.arch = ctx.arch
        self.target = ctx.target
        self.word = ctx.arch.word
        self.rela = ctx.arch.rela
        self.plt: list[Symbol] = []
        self.imports: list[Symbol] = []  # symbols with an undefined .dynsym entry
        self.slots: list[Symbol] = []  # seed-style pointer slots the loader fills
        self.n_symbolic = 0
        self.symbolic: list[tuple[int, Symbol, int]] = []
        self.exports = list(ctx.dynexports)
        self.copies: list[Symbol] = []  # imported data copied into .dynbss
        self._library_symbols: dict[DynImport, tuple[int, int] | None] = {}
        self.interp = ""
        self.hash_style = ctx.opts.hash_style

    # ------------------------------------------------------------- scanning
    def need_plt(self, sym: Symbol) -> None:
        self._need_dynsym(sym)
        if sym.plt_index < 0:
            sym.plt_index = len(self.plt)
            self.plt.append(sym)

    def need_symbol(self, sym: Symbol) -> None:
        self._need_dynsym(sym)
        self.n_symbolic += 1

    def _need_dynsym(self, sym: Symbol) -> None:
        if sym.dyn_index < 0:
            sym.dyn_index = -2
            self.imports.append(sym)

    def add_slot_imports(self) -> None:
        for name in sorted(self.lk.globals):
            g = self.lk.globals[name]
            if g.dynimport is not None and g.defined and g.section is not None and g.section.live and not g.copy_reloc:
                self.slots.append(g)

    # imported data that non-PIC code uses directly lives in the executable (.dynbss):
    # the loader copies the library's initial value there, and the library uses our copy
    def library_symbol(self, sym: Symbol) -> tuple[int, int] | None:
        """(type, size) of an import's definition in its shared library, when the library is available."""
        key = _imported(sym)
        if key not in self._library_symbols:
            found = hosted.library_definition(self.lk, sym)
            self._library_symbols[key] = None if found is None else (found.type, found.size)
        return self._library_symbols[key]

    def need_copy(self, sym: Symbol) -> None:
        if not sym.copy_reloc:
            sym.copy_reloc = True
            self.copies.append(sym)

    def place_copies(self) -> None:
        if not self.copies:
            return
        sec = add_synthetic_section(self.lk, ".dynbss", elf.SHT_NOBITS, elf.SHF_ALLOC | elf.SHF_WRITE, self.word)
        for sym in self.copies:
            found = self.library_symbol(sym)
            assert found is not None  # scan asked for the copy because the library has the symbol
            size = found[1]
            align = min(16, 1 << max(size - 1, 0).bit_length()) if size else 1
            sec.align = max(sec.align, align)
            sec.size = (sec.size + align - 1) // align * align
            sym.section, sym.value, sym.size, sym.shndx = sec, sec.size, size, 1
            sym.type = elf.STT_OBJECT
            sec.size += size

    # ------------------------------------------------------------- sections
    def create_sections(self) -> None:
        lk, w = self.lk, self.word
        for g in self.lk.got:
            if lk.is_import(g):
                self._need_dynsym(g)
        remote_syms = self.imports + self.slots + self.copies
        hosted.check_against_machine(lk, remote_syms)
        # DT_NEEDED: the shared inputs used (or --no-as-needed), then the directives' libraries used
        self.libs = hosted.used_libraries(lk, remote_syms)
        if remote_syms or self.libs:
            self.interp = lk.opts.interp or self.arch.interp
        # dynsym entries: null, imports (by remote name), then the part .gnu.hash covers, sorted
        # by bucket: exports, and imports whose PLT entry stands for their address (the loader
        # must find those in the executable for function pointers to compare equal).
        self.entries: list[tuple[str, str, str, Symbol | None]] = []  # (name, version, lib, defined symbol)
        by_key: dict[tuple[str, str, str], list[Symbol]] = {}
        for sym in self.imports + self.slots:
            imp = _imported(sym)
            name, _, version = imp.remote.partition("#")
            by_key.setdefault((name, version, imp.path), []).append(sym)
        canonical = {
            key: next(s for s in syms if s.address_taken and s.plt_index >= 0)
            for key, syms in by_key.items()
            if any(s.address_taken and s.plt_index >= 0 for s in syms)
        }
        for key, syms in by_key.items():
            if key not in canonical:
                self.entries.append((*key, None))
                for sym in syms:
                    sym.dyn_index = len(self.entries)
        self.symoffset = len(self.entries) + 1
        seen: set[str] = set()
        hashed: list[tuple[tuple[str, str, str], Symbol | None, list[Symbol]]] = [
            (key, None, by_key[key]) for key in canonical
        ]
        for s in self.exports:
            assert s.dynexport is not None
            if s.dynexport in seen:
                raise DynError(f"two symbols dynexported as {s.dynexport}")
            seen.add(s.dynexport)
            hashed.append(((s.dynexport, "", ""), s, [s]))
        for s in self.copies:  # defined here, so that the library's own references find our copy
            imp = _imported(s)
            name, _, version = imp.remote.partition("#")
            hashed.append(((name, version, imp.path), s, [s]))
        self.nbucket = bucket_count(len(by_key) + len(self.exports) + len(self.copies) + 1)
        self.gnu_nbucket = bucket_count(max(len(hashed), 1))
        hashed.sort(key=lambda e: (elf.gnu_hash(e[0][0].encode()) % self.gnu_nbucket, e[0]))
        for key, defined, syms in hashed:
            self.entries.append((*key, defined))
            for sym in syms:
                sym.dyn_index = len(self.entries)
        self.canonical_plt = {s.dyn_index: s for s in canonical.values()}
        # strings
        self.dynstr = bytearray(b"\0")
        self.stroff: dict[str, int] = {}
        for lib in self.libs:
            self._str(lib)
        if lk.opts.rpath:
            self._str(":".join(lk.opts.rpath))
        for name, version, lib, _ in self.entries:
            self._str(name)
            if version:
                self._str(version)
                self._str(lib)
        # versions needed: lib -> [version], versym index per (lib, version)
        self.verneed: dict[str, list[str]] = {}
        self.version_index: dict[tuple[str, str], int] = {}
        for _name, version, lib, _ in self.entries:
            if version and (lib, version) not in self.version_index:
                self.version_index[(lib, version)] = len(self.version_index) + 2
                self.verneed.setdefault(lib, []).append(version)
        n = len(self.entries) + 1
        symsize = 24 if w == 8 else 16
        relsize = (24 if w == 8 else 12) if self.rela else (16 if w == 8 else 8)
        relname = ".rela" if self.rela else ".rel"
        A, AW = elf.SHF_ALLOC, elf.SHF_ALLOC | elf.SHF_WRITE

        def mk(name: str, type_: int, flags: int, align: int, entsize: int = 0):
            return add_synthetic_section(lk, name, type_, flags, align, entsize)

        if self.interp:
            s = mk(".interp", elf.SHT_PROGBITS, A, 1)
            s.size = len(self.interp) + 1
        if self.hash_style in ("sysv", "both"):
            s = mk(".hash", elf.SHT_HASH, A, 4, 4)
            s.size = 4 * (2 + self.nbucket + n)
        if self.hash_style in ("gnu", "both"):
            nhashed = n - self.symoffset
            self.maskwords = _pow2(max(1, (nhashed * 2 + w * 8 - 1) // (w * 8)))
            s = mk(".gnu.hash", elf.SHT_GNU_HASH, A, w, 4 if w == 4 else 0)
            s.size = 16 + self.maskwords * w + 4 * self.gnu_nbucket + 4 * nhashed
        s = mk(".dynsym", elf.SHT_DYNSYM, A, w, symsize)
        s.size = n * symsize
        s = mk(".dynstr", elf.SHT_STRTAB, A, 1)
        s.size = len(self.dynstr)
        if self.verneed:
            s = mk(".gnu.version", elf.SHT_GNU_VERSYM, A, 2, 2)
            s.size = 2 * n
            s = mk(".gnu.version_r", elf.SHT_GNU_VERNEED, A, w)
            s.size = 16 * (len(self.verneed) + sum(len(v) for v in self.verneed.values()))
        got_imports = [g for g in lk.got if lk.is_import(g)]
        self.n_dynrel = len(got_imports) + self.n_symbolic + len(self.slots) + len(self.copies)
        if self.n_dynrel:
            s = mk(relname + ".dyn", elf.SHT_RELA if self.rela else elf.SHT_REL, A, w, relsize)
            s.size = self.n_dynrel * relsize
        if self.plt:
            s = mk(relname + ".plt", elf.SHT_RELA if self.rela else elf.SHT_REL, A | elf.SHF_INFO_LINK, w, relsize)
            s.size = len(self.plt) * relsize
            r = self.target
            s = mk(".plt", elf.SHT_PROGBITS, A | elf.SHF_EXECINSTR, 16, r.plt_section_entsize)
            s.size = r.plt_header_size + len(self.plt) * r.plt_entry_size
            s = mk(".got.plt", elf.SHT_PROGBITS, AW, w, w)
            s.size = (3 + len(self.plt)) * w
        self.dyn_entries = self._dynamic_tags()
        s = mk(".dynamic", elf.SHT_DYNAMIC, AW, w, 2 * w)
        s.size = len(self.dyn_entries) * 2 * w
        self.relsize = relsize

    def _str(self, s: str) -> int:
        off = self.stroff.get(s)
        if off is None:
            off = self.stroff[s] = len(self.dynstr)
            self.dynstr.extend(s.encode("utf-8", "surrogateescape") + b"\0")
        return off

    def _dynamic_tags(self) -> list[list]:
        """(tag, value or section name to resolve) of each .dynamic entry."""
        tags: list[list] = [[elf.DT_NEEDED, self._str(lib)] for lib in self.libs]
        if self.hash_style in ("sysv", "both"):
            tags.append([elf.DT_HASH, ".hash"])
        if self.hash_style in ("gnu", "both"):
            tags.append([elf.DT_GNU_HASH, ".gnu.hash"])
        tags += [
            [elf.DT_STRTAB, ".dynstr"],
            [elf.DT_SYMTAB, ".dynsym"],
            [elf.DT_STRSZ, len(self.dynstr)],
            [elf.DT_SYMENT, 24 if self.word == 8 else 16],
        ]
        relname = ".rela" if self.rela else ".rel"
        relsize = (24 if self.word == 8 else 12) if self.rela else (16 if self.word == 8 else 8)
        if self.n_dynrel:
            if self.rela:
                tags += [
                    [elf.DT_RELA, ".rela.dyn"],
                    [elf.DT_RELASZ, self.n_dynrel * relsize],
                    [elf.DT_RELAENT, relsize],
                ]
            else:
                tags += [[elf.DT_REL, ".rel.dyn"], [elf.DT_RELSZ, self.n_dynrel * relsize], [elf.DT_RELENT, relsize]]
        if self.plt:
            tags += [
                [elf.DT_PLTGOT, ".got.plt"],
                [elf.DT_PLTRELSZ, len(self.plt) * relsize],
                [elf.DT_PLTREL, elf.DT_RELA if self.rela else elf.DT_REL],
                [elf.DT_JMPREL, relname + ".plt"],
            ]
        if self.verneed:
            tags += [
                [elf.DT_VERSYM, ".gnu.version"],
                [elf.DT_VERNEED, ".gnu.version_r"],
                [elf.DT_VERNEEDNUM, len(self.verneed)],
            ]
        # glibc's __libc_start_main runs the executable's DT_PREINIT/INIT_ARRAY, ld.so its DT_FINI_ARRAY
        for name, tag, size_tag in (
            (".preinit_array", DT.PREINIT_ARRAY, DT.PREINIT_ARRAYSZ),
            (".init_array", DT.INIT_ARRAY, DT.INIT_ARRAYSZ),
            (".fini_array", DT.FINI_ARRAY, DT.FINI_ARRAYSZ),
        ):
            out = self.lk.by_name.get(name)
            if out is not None and out.inputs:
                tags += [[tag, (out, "addr")], [size_tag, (out, "size")]]
        if self.lk.opts.rpath:
            tag = DT.RUNPATH if self.lk.opts.new_dtags else DT.RPATH
            tags.append([tag, self._str(":".join(self.lk.opts.rpath))])
        if self.lk.opts.bind_now:
            tags += [[DT.FLAGS, DF_BIND_NOW], [DT.FLAGS_1, DF_1_NOW]]
        tags += [[elf.DT_DEBUG, 0], [elf.DT_NULL, 0]]
        return tags

    def section_link(self, o) -> tuple[int, int]:
        """sh_link and sh_info of a dynamic output section."""
        by = self.lk.by_name

        def idx(name: str) -> int:
            return by[name].index if name in by else 0

        n = o.name
        if n == ".dynsym":
            return idx(".dynstr"), 1
        if n in (".hash", ".gnu.hash", ".gnu.version", ".rel.dyn", ".rela.dyn"):
            return idx(".dynsym"), 0
        if n in (".rel.plt", ".rela.plt"):
            return idx(".dynsym"), idx(".got.plt")
        if n == ".dynamic":
            return idx(".dynstr"), 0
        if n == ".gnu.version_r":
            return idx(".dynstr"), len(self.verneed)
        return 0, 0

    # ------------------------------------------------------------- contents
    def plt_addr(self, sym: Symbol) -> int:
        r = self.target
        return self.lk.synthetic[".plt"].addr + r.plt_header_size + sym.plt_index * r.plt_entry_size

    def add_symbolic_reloc(self, place: int, sym: Symbol, addend: int) -> None:
        self.symbolic.append((place, sym, addend))

    def _put(self, name: str, data: bytes) -> None:
        sec = self.lk.synthetic[name]
        if len(data) != sec.size:
            raise DynError(f"internal: {name} is {len(data)} bytes, expected {sec.size}")
        start = sec.addr - self.lk.base
        self.lk.image[start : start + len(data)] = data

    def fill(self) -> None:
        lk, w = self.lk, self.word
        syn = lk.synthetic
        if self.interp:
            self._put(".interp", self.interp.encode("utf-8", "surrogateescape") + b"\0")
        self._put(".dynstr", bytes(self.dynstr))
        self._put(".dynsym", self._dynsym())
        names = [b""] + [e[0].encode("utf-8", "surrogateescape") for e in self.entries]
        if ".hash" in syn:
            self._put(".hash", sysv_hash_table(names, self.nbucket))
        if ".gnu.hash" in syn:
            self._put(".gnu.hash", gnu_hash_table(names, self.symoffset, self.gnu_nbucket, self.maskwords, w))
        if self.verneed:
            self._put(".gnu.version", self._versym())
            self._put(".gnu.version_r", self._verneed())
        if self.plt:
            r = self.target
            plt, gotplt = syn[".plt"].addr, syn[".got.plt"].addr
            code = bytearray(r.plt_header(plt, gotplt))
            got = bytearray(struct.pack("<Q" if w == 8 else "<I", syn[".dynamic"].addr) + b"\0" * (2 * w))
            rel = bytearray()
            for i, sym in enumerate(self.plt):
                entry = plt + r.plt_header_size + i * r.plt_entry_size
                slot = gotplt + (3 + i) * w
                code += r.plt_entry(entry, slot, i, plt)
                got += r.plt_lazy_target(entry, plt).to_bytes(w, "little")
                rel += self._rel(slot, sym.dyn_index, r.r_jump_slot, 0)
            self._put(".plt", bytes(code))
            self._put(".got.plt", bytes(got))
            self._put((".rela" if self.rela else ".rel") + ".plt", bytes(rel))
        self._put(".dynamic", self._dynamic())

    def finish(self) -> None:
        """Write .rel(a).dyn once relocation has recorded every symbolic word."""
        if not self.n_dynrel:
            return
        lk, r = self.lk, self.target
        rel = bytearray()
        for g in lk.got:
            if lk.is_import(g):
                rel += self._rel(lk.got_addr(g), g.dyn_index, r.r_glob_dat, 0)
        for g in self.slots:
            place = lk.sym_addr(g)
            rel += self._rel(place, g.dyn_index, r.r_abs_word, 0)
            if not self.rela:  # the addend is the word itself: make it zero
                start = place - lk.base
                if start + self.word <= lk.data_end() - lk.base:  # not in .bss (nor the debug sections after the image)
                    lk.image[start : start + self.word] = b"\0" * self.word
        for place, sym, addend in self.symbolic:
            rel += self._rel(place, sym.dyn_index, r.r_abs_word, addend)
        for sym in self.copies:
            rel += self._rel(lk.sym_addr(sym), sym.dyn_index, r.r_copy, 0)
        if len(self.symbolic) != self.n_symbolic:
            raise DynError("internal: symbolic relocation count changed")
        self._put((".rela" if self.rela else ".rel") + ".dyn", bytes(rel))

    def _rel(self, place: int, symidx: int, type_: int, addend: int) -> bytes:
        if self.word == 8:
            return struct.pack("<QQq", place, (symidx << 32) | type_, addend)
        if self.rela:
            return struct.pack("<IIi", place, (symidx << 8) | type_, addend)
        return struct.pack("<II", place, (symidx << 8) | type_)

    def _dynsym(self) -> bytes:
        lk = self.lk
        out = bytearray(24 if self.word == 8 else 16)
        for name, _version, _lib, sym in self.entries:
            off = self.stroff[name]
            if sym is None:
                info, shndx, value, size = (elf.STB_GLOBAL << 4) | elf.STT_NOTYPE, 0, 0, 0
                canonical = self.canonical_plt.get(len(out) // (24 if self.word == 8 else 16))
                if canonical is not None:  # its address is taken in code: the PLT entry stands for it
                    info, value = (elf.STB_GLOBAL << 4) | elf.STT_FUNC, self.plt_addr(canonical)
            else:
                is_func = sym.type == elf.STT_FUNC or (
                    sym.section is not None and sym.section.flags & elf.SHF_EXECINSTR
                )
                info = (elf.STB_GLOBAL << 4) | (elf.STT_FUNC if is_func else elf.STT_OBJECT)
                value, size = lk.sym_addr(sym), sym.size
                shndx = sym.section.out.index if sym.section is not None and sym.section.out else elf.SHN_ABS
            if self.word == 8:
                out += struct.pack("<IBBHQQ", off, info, 0, shndx, value, size)
            else:
                out += struct.pack("<IIIBBH", off, value, size, info, 0, shndx)
        return bytes(out)

    def _versym(self) -> bytes:
        vals = [0]
        for _name, version, lib, _sym in self.entries:
            vals.append(self.version_index[(lib, version)] if version else 1)
        return struct.pack(f"<{len(vals)}H", *vals)

    def _verneed(self) -> bytes:
        out = bytearray()
        libs = list(self.verneed)
        for i, lib in enumerate(libs):
            versions = self.verneed[lib]
            nxt = 0 if i == len(libs) - 1 else 16 + 16 * len(versions)
            out += struct.pack("<HHIII", 1, len(versions), self.stroff[lib], 16, nxt)
            for j, v in enumerate(versions):
                vnext = 0 if j == len(versions) - 1 else 16
                out += struct.pack(
                    "<IHHII", elf.sysv_hash(v.encode()), 0, self.version_index[(lib, v)], self.stroff[v], vnext
                )
        return bytes(out)

    def _dynamic(self) -> bytes:
        out = bytearray()
        fmt = "<qQ" if self.word == 8 else "<iI"
        for tag, val in self.dyn_entries:
            if isinstance(val, str):
                val = self.lk.synthetic[val].addr
            elif isinstance(val, tuple):  # (output section, "addr" or "size"), known after layout
                val = getattr(val[0], val[1])
            out += struct.pack(fmt, tag, val)
        return bytes(out)


def _imported(sym: Symbol) -> DynImport:
    """The directive that imports ``sym`` (the caller knows there is one)."""
    assert sym.dynimport is not None
    return sym.dynimport


def _pow2(n: int) -> int:
    p = 1
    while p < n:
        p <<= 1
    return p


def sysv_hash_table(names: list[bytes], nbucket: int) -> bytes:
    """SysV .hash: nbucket, nchain, buckets, chains (symbol 0 is the null entry)."""
    buckets = [0] * nbucket
    chain = [0] * len(names)
    for i in range(1, len(names)):
        b = elf.sysv_hash(names[i]) % nbucket
        chain[i] = buckets[b]
        buckets[b] = i
    return struct.pack(f"<{2 + nbucket + len(names)}I", nbucket, len(names), *buckets, *chain)


def gnu_hash_table(names: list[bytes], symoffset: int, nbucket: int, maskwords: int, word: int) -> bytes:
    """GNU .gnu.hash over names[symoffset:], which must be sorted by bucket."""
    bits = word * 8
    shift = 6 if word == 8 else 5
    bloom = [0] * maskwords
    buckets = [0] * nbucket
    hashed = names[symoffset:]
    hashes = [elf.gnu_hash(n) for n in hashed]
    chain = []
    for i, h in enumerate(hashes):
        bloom[(h // bits) % maskwords] |= (1 << (h % bits)) | (1 << ((h >> shift) % bits))
        b = h % nbucket
        if buckets[b] == 0:
            buckets[b] = symoffset + i
        last = i + 1 == len(hashes) or hashes[i + 1] % nbucket != b
        chain.append((h & ~1) | (1 if last else 0))
    out = struct.pack("<4I", nbucket, symoffset, maskwords, shift)
    out += struct.pack(f"<{maskwords}{'Q' if word == 8 else 'I'}", *bloom)
    out += struct.pack(f"<{nbucket}I", *buckets)
    out += struct.pack(f"<{len(chain)}I", *chain)
    return out
