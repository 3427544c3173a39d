"""Output: dynld modules (``dynlink -u``), laid out from 0 and written as Inferno's a.out variant.

Plugs into the pipeline (``toolchain.linker.pipeline``): roots at the module's exports
(manifest and ``#pragma dynexport``); every undefined symbol becomes an import. Text
(code and read-only data) comes first, laid out as if the header sat at address 0 so
that header and text fill whole pages of the file and the runtime can map text and data
from it; then data (with the export table the linker builds), then bss. Every absolute address in the image becomes a
mode-0 relocation; references to the host's symbols become imports with mode-1
(address) or mode-2 (call) relocations, as the arch's target encodes them. What the
format cannot express is an error naming the relocation and the compiler flag that
avoids it.
"""

from __future__ import annotations

import struct

from .. import elf
from ..dynld import module as dlm
from ..errors import DynError
from .context import LinkState, SyntheticSection
from .inputs import InputSection, Symbol
from .pipeline import Output
from .reloc import WORD32, WORD64, Howto, Overflow
from .relocate import AbsoluteHook, compute_value, need_got
from .sections import add_synthetic_section
from .undefined import undefined_symbols

PAGE = 4096


class DynldModule(Output):
    """A dynld module: exports, imports with signatures, compact relocations."""

    supports_tls = False

    def __init__(self, ctx: LinkState):
        super().__init__(ctx)
        #: signatures of the manifest's imports (None: no manifest, every import allowed) and exports
        self.import_sigs: dict[str, int] | None = None
        self.export_sigs: dict[str, int] = {}
        #: (export name, symbol, signature), sorted by name as the loader's binary search needs
        self.exports: list[tuple[str, Symbol, int]] = []
        #: (import name, signature), in import index order
        self.imports: list[tuple[str, int]] = []
        #: (address, mode) of every word the loader relocates
        self.relocs: list[tuple[int, int]] = []
        #: imports called through a stub (amd64), in stub order
        self.stubs: list[Symbol] = []
        self.table: SyntheticSection | None = None
        if ctx.opts.manifest:
            from ..dynld.manifest import load_manifest

            m = load_manifest(ctx.opts.manifest)
            self.import_sigs = {s.name: s.sig for s in m.imports}
            self.export_sigs = {s.name: s.sig for s in m.exports}

    def wanted_names(self) -> tuple[str, ...]:
        return tuple(self.export_sigs)

    def roots(self) -> list[tuple[Symbol, str]]:
        ctx = self.ctx
        found: dict[str, tuple[str, Symbol, int]] = {}
        for name, sig in self.export_sigs.items():
            sym = ctx.globals.get(name)
            if sym is None or not (sym.defined or sym.is_common):
                raise DynError(f"manifest export {name} is not defined by any object", ctx.opts.manifest)
            found[name] = (name, sym, sig)
        for sym in ctx.dynexports:
            assert sym.dynexport is not None
            sig = self.export_sigs.get(sym.dynexport, self.export_sigs.get(sym.name, 0))
            found[sym.dynexport] = (sym.dynexport, sym, sig)
        if not found:
            raise DynError("a module needs exports: give a manifest (-m) or #pragma dynexport")
        self.exports = [found[k] for k in sorted(found, key=_name_bytes)]
        return [(sym, f"export {name}") for name, sym, _sig in self.exports]

    def bind_undefined(self) -> None:
        """Every undefined symbol becomes an import (each must be in the manifest when one is given)."""
        ctx = self.ctx
        undefined = undefined_symbols(ctx)
        names = sorted(undefined, key=_name_bytes)
        if self.import_sigs is not None:
            missing = [n for n in names if n not in self.import_sigs]
            if missing:
                raise DynError(
                    f"undefined symbol: {missing[0]} (not an import of manifest {ctx.opts.manifest})",
                    undefined[missing[0]].name,
                )
        limit = min(ctx.target.module_import_limit, dlm.MAX_IMPORTS)
        if len(names) > limit:
            raise DynError(f"too many imports: {len(names)} (the relocation encoding allows {limit})")
        self.imports = [(n, (self.import_sigs or {}).get(n, 0)) for n in names]
        for i, n in enumerate(names):
            ctx.globals[n].import_index = i

    def scan_import(self, sec: InputSection, offset: int, sym: Symbol, howto: Howto) -> None:
        use = self.ctx.target.module_import_use(howto)
        if use == "stub":
            if sym.plt_index < 0:
                sym.plt_index = len(self.stubs)
                self.stubs.append(sym)
                if self.ctx.target.module_stub_needs_slot:
                    need_got(self.ctx, sym)
        elif use == "got":
            need_got(self.ctx, sym)
        elif use is None:
            raise DynError(
                f"{howto.name} against import {sym.name} in section {sec.name} at offset {offset:#x} "
                f"cannot be expressed in a dynld module: {self.ctx.target.module_flag_hint}",
                sec.file.name,
            )

    def create_sections(self) -> None:
        ctx, word = self.ctx, self.ctx.arch.word
        if self.stubs:
            st = add_synthetic_section(ctx, ".stubs", elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_EXECINSTR, 8)
            st.size = len(self.stubs) * ctx.target.module_stub_size
        self.table = add_synthetic_section(ctx, ".exporttab", elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_WRITE, word)
        names = b"".join(_name_bytes(n) + b"\0" for n, _s, _g in self.exports)
        self.table.size = 3 * word * (len(self.exports) + 1) + len(names)

    def layout_start(self) -> tuple[int, int, int, bool]:
        """Addresses are offsets in the image plus the header's size; ``write`` shifts them back."""
        return 0, dlm.header_size(self.ctx.arch), PAGE, True

    def fill_got(self) -> None:
        """Import slots hold the import's mode-1 word; others the address, with a mode-0 relocation."""
        ctx = self.ctx
        got = ctx.synthetic.get(".got")
        if got is None:
            return
        w = ctx.arch.word
        for sym in ctx.got:
            place = got.addr + sym.got_index * w
            if sym.import_index >= 0:
                word = ctx.target.module_import_word(sym.import_index, 0)
                ctx.image[place : place + w] = word.to_bytes(w, "little")
                self.relocs.append((place, 1))
            else:
                ctx.image[place : place + w] = ctx.sym_addr(sym).to_bytes(w, "little")
                if sym.section is not None or sym.shndx != elf.SHN_ABS:
                    self.relocs.append((place, 0))

    def fill_sections(self) -> None:
        ctx = self.ctx
        for _sym, kind, off in ctx.thunks.values():
            word_at = ctx.target.thunk_absolute_word(kind)
            if word_at is not None:  # the thunk holds its target's absolute address
                self.relocs.append((ctx.synthetic[".text.thunks"].addr + off + word_at, 0))
        self._fill_exports()
        for sym in self.stubs:
            at = self._stub_addr(sym)
            slot = ctx.got_addr(sym) if sym.got_index >= 0 else 0
            code, mode2 = ctx.target.module_stub(at, slot, sym.import_index)
            ctx.image[at : at + len(code)] = code
            if mode2 is not None:
                self.relocs.append((at + mode2, 2))

    def absolute_hook(self) -> AbsoluteHook:
        return self._record_absolute

    def _record_absolute(self, sec: InputSection, P: int, sym: Symbol, howto: Howto, S: int, A: int) -> None:
        """Every absolute address of a symbol in the module is a mode-0 relocation."""
        if sym.section is None:  # an absolute symbol, or an undefined weak one: no base to add
            return
        if howto.field is (WORD64 if self.ctx.arch.word == 8 else WORD32):
            self.relocs.append((P, 0))
            return
        raise DynError(
            f"{howto.name} against {sym.name or sec.name} in section {sec.name} at offset "
            f"{P - sec.addr:#x} needs an absolute address the module format cannot relocate: "
            f"{self.ctx.target.module_flag_hint}",
            sec.file.name,
        )

    def import_value(self, sec: InputSection, offset: int, sym: Symbol, howto: Howto, P: int, A: int) -> int | None:
        ctx, i = self.ctx, sym.import_index
        target = ctx.target
        use = target.module_import_use(howto)
        try:
            if use == "stub":
                return self._stub_addr(sym) + A - P
            if use == "got":
                return compute_value(ctx, howto.kind, sym, 0, A, P, ctx.image, P)
            if use == "word":
                w = ctx.arch.word
                ctx.image[P : P + w] = target.module_import_word(i, A).to_bytes(w, "little")
                self.relocs.append((P, 1))
                return None
            target.module_import_call(ctx.image, P, i, A)
            self.relocs.append((P, 2))
            return None
        except Overflow as e:
            raise DynError(
                f"{howto.name} against import {sym.name} in section {sec.name}: {e.msg}", sec.file.name
            ) from None

    def write(self) -> bytes:
        """Shift the image back by the header's size (addresses become offsets) and encode it."""
        ctx = self.ctx
        hdr = dlm.header_size(ctx.arch)
        rw = [o for o in ctx.outputs if o.flags & elf.SHF_WRITE]
        text_end = rw[0].addr if rw else (ctx.end_addr + PAGE - 1) // PAGE * PAGE
        data_end = max(text_end, ctx.data_end())
        img = bytearray(ctx.image[hdr:]) + b"\0" * max(0, text_end - len(ctx.image))
        w, mask = ctx.arch.word, (1 << (8 * ctx.arch.word)) - 1
        for place, mode in self.relocs:
            if mode == 0:  # an image address: now an offset, not header + offset
                at = place - hdr
                img[at : at + w] = ((int.from_bytes(img[at : at + w], "little") - hdr) & mask).to_bytes(w, "little")
        assert self.table is not None
        mod = dlm.Module(
            arch=ctx.arch.name,
            text=bytes(img[: text_end - hdr]),
            data=bytes(img[text_end - hdr : data_end - hdr]),
            bss=max(0, ctx.end_addr - data_end),
            entry=self.table.addr - hdr,
            imports=self.imports,
            relocs=sorted((place - hdr, mode) for place, mode in self.relocs),
        )
        return dlm.encode(mod, filename=ctx.opts.output)

    def _stub_addr(self, sym: Symbol) -> int:
        return self.ctx.synthetic[".stubs"].addr + sym.plt_index * self.ctx.target.module_stub_size

    def _fill_exports(self) -> None:
        ctx, table = self.ctx, self.table
        assert table is not None
        w = ctx.arch.word
        fmt = "<QQQ" if w == 8 else "<III"
        names_at = table.addr + 3 * w * (len(self.exports) + 1)
        out = bytearray()
        strings = bytearray()
        for n, (name, sym, sig) in enumerate(self.exports):
            entry = table.addr + n * 3 * w
            out += struct.pack(fmt, sig & 0xFFFFFFFF, ctx.sym_addr(sym), names_at + len(strings))
            strings += _name_bytes(name) + b"\0"
            self.relocs += [(entry + w, 0), (entry + 2 * w, 0)]
        out += b"\0" * (3 * w) + strings
        ctx.image[table.addr : table.addr + len(out)] = out


def _name_bytes(name: str) -> bytes:
    """A symbol name's bytes as the object held them (names are read with surrogateescape)."""
    return name.encode("utf-8", "surrogateescape")
