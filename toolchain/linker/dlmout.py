"""dynld modules (``dynlink -u``): the generic core laid out from 0, written as Inferno's a.out variant.

Text (code and read-only data, padded to a page) comes first, then data (with the
export table the linker builds), then bss. Every absolute address in the image
becomes a mode-0 relocation; references to the host's symbols become imports with
mode-1 (address) or mode-2 (call) relocations. What the format cannot express is an
error naming the relocation and the compiler flag that avoids it.
"""

from __future__ import annotations

import struct

from toolchain import elf
from toolchain.dynld import module as dlm
from toolchain.errors import DynError
from toolchain.linker.core import Linker
from toolchain.linker.inputs import Symbol
from toolchain.linker.reloc import WORD32, WORD64, Kind, Overflow

PAGE = 4096
STUB_386 = 8  # jmp rel32 (mode 2) to an import, padded with int3

FLAG_HINT = {
    "386": "compile with -fno-pic (dyncc's default for 386)",
    "amd64": "compile with -fpie (dyncc's default for amd64)",
    "arm": "compile with -marm -mcpu=cortex_a7+no_movt (dyncc's default for arm)",
}


class ModuleLinker(Linker):
    """Links objects into a dynld module."""

    def link(self) -> bytes:
        sigs_in, sigs_out = self._manifest()
        self.resolve_all(tuple(sigs_out))
        self.mod_relocs: list[tuple[int, int]] = []
        self.stubs: list[Symbol] = []
        exports = self._exports(sigs_out)
        self.gc([(sym, f"export {name}") for name, sym, _sig in exports])
        self._imports(sigs_in)
        self.collect_sections()
        tls = next((s for o in (".tdata", ".tbss") if o in self.by_name for s in self.by_name[o].inputs), None)
        if tls is not None:
            raise DynError(f"thread-local storage ({tls.name}) cannot go into a dynld module", tls.file.name)
        self.scan_relocations(self._scan_import)
        word = self.arch.word
        if self.got or self.tls_got or self.got_base_needed:
            got = self.synthetic_section(".got", elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_WRITE, word)
            got.size = self.got_size()
        if self.stubs:
            st = self.synthetic_section(".stubs", elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_EXECINSTR, 8)
            st.size = len(self.stubs) * self._stub_size()
        table = self.synthetic_section(".exporttab", elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_WRITE, word)
        names = b"".join(n.encode() + b"\0" for n, _s, _g in exports)
        table.size = 3 * word * (len(exports) + 1) + len(names)
        self.base = 0
        # Lay out as if the header sat at address 0 (addresses are image offsets + the header's
        # size): sections are aligned as they will be in memory, and text ends where the file's
        # page ends, so the runtime can map text and data from the file. _encode shifts back.
        self.layout(0, dlm.header_size(self.arch), PAGE, pack_segments=True)
        self.define_linker_symbols()
        self.copy_contents()
        self.fill_got()
        self.fill_thunks()
        for _sym, kind, off in self.thunks.values():
            if kind == "arm-to-thumb":  # the stub holds the target's absolute address
                self.mod_relocs.append((self.synthetic[".text.thunks"].addr + off + 8, 0))
        self._fill_exports(table, exports)
        self._fill_stubs()
        self.apply_relocations(self._import_value)
        return self._encode(table.addr)

    # ------------------------------------------------------------ manifest
    def _manifest(self) -> tuple[dict[str, int] | None, dict[str, int]]:
        if not self.opts.manifest:
            return None, {}
        from toolchain.dynld.manifest import load_manifest

        m = load_manifest(self.opts.manifest)
        return {s.name: s.sig for s in m.imports}, {s.name: s.sig for s in m.exports}

    def _exports(self, sigs: dict[str, int]) -> list[tuple[str, Symbol, int]]:
        out: dict[str, tuple[str, Symbol, int]] = {}
        for name, sig in sigs.items():
            sym = self.globals.get(name)
            if sym is None or not (sym.defined or sym.is_common):
                raise DynError(f"manifest export {name} is not defined by any object", self.opts.manifest)
            out[name] = (name, sym, sig)
        for sym in self.dynexports:
            out[sym.dynexport] = (sym.dynexport, sym, sigs.get(sym.dynexport, sigs.get(sym.name, 0)))
        if not out:
            raise DynError("a module needs exports: give a manifest (-m) or #pragma dynexport")
        return [out[k] for k in sorted(out, key=lambda n: n.encode())]

    def _imports(self, sigs: dict[str, int] | None) -> None:
        names = sorted(self.undefined, key=lambda n: n.encode())
        if sigs is not None:
            missing = [n for n in names if n not in sigs]
            if missing:
                obj = self.undefined[missing[0]]
                raise DynError(
                    f"undefined symbol: {missing[0]} (not an import of manifest {self.opts.manifest})", obj.name
                )
        limit = dlm.MAX_IMPORTS if self.arch.name == "amd64" else 1 << 10  # index bits in the relocated word
        if len(names) > min(limit, dlm.MAX_IMPORTS):
            raise DynError(f"too many imports: {len(names)} (the relocation encoding allows {limit})")
        self.import_list = [(n, (sigs or {}).get(n, 0)) for n in names]
        for i, n in enumerate(names):
            self.globals[n].import_index = i
        self.undefined = {}

    # ---------------------------------------------------------- relocations
    def _scan_import(self, sec, r, sym: Symbol, howto) -> None:
        kind, a = howto.kind, self.arch.name
        if a == "amd64":
            if kind in (Kind.CALL, Kind.PC) and howto.field.size == 4:
                if sym.plt_index < 0:
                    sym.plt_index = len(self.stubs)
                    self.stubs.append(sym)
                    self.need_got(sym)
                return
            if kind is Kind.GOT_PC:
                self.need_got(sym)
                return
            if kind is Kind.ABS and howto.field is WORD64:
                return
        elif kind is Kind.ABS and howto.field is WORD32:
            return
        elif a == "386" and kind is Kind.CALL and howto.field.size == 4:
            # through a stub: the call sites stay unrelocated, one mode-2 word per import
            if sym.plt_index < 0:
                sym.plt_index = len(self.stubs)
                self.stubs.append(sym)
            return
        elif a == "386" and kind is Kind.GOT_386:  # -fPIC: the GOT slot is a mode-1 word
            self.need_got(sym)
            return
        elif kind is Kind.CALL and a == "arm" and howto.name in ("R_ARM_CALL", "R_ARM_JUMP24"):
            return
        elif kind in (Kind.CALL, Kind.PC) and a == "386" and howto.field.size == 4:
            return
        raise DynError(
            f"{howto.name} against import {sym.name} in section {sec.name} at offset {r[0]:#x} "
            f"cannot be expressed in a dynld module: {FLAG_HINT[a]}",
            sec.file.name,
        )

    def on_absolute(self, sec, P: int, sym: Symbol, howto, S: int, A: int) -> None:
        if sym.section is None:  # an absolute symbol, or an undefined weak one: no base to add
            return
        if howto.field is (WORD64 if self.arch.word == 8 else WORD32):
            self.mod_relocs.append((P, 0))
            return
        raise DynError(
            f"{howto.name} against {sym.name or sec.name} in section {sec.name} at offset "
            f"{P - sec.addr:#x} needs an absolute address the module format cannot relocate: "
            f"{FLAG_HINT[self.arch.name]}",
            sec.file.name,
        )

    def _import_value(self, sec, r, sym: Symbol, howto, P: int, A: int):
        i, kind, a = sym.import_index, howto.kind, self.arch.name
        img = self.image
        try:
            if a == "amd64":
                if kind in (Kind.CALL, Kind.PC):
                    return self._stub_addr(sym) + A - P
                if kind is Kind.GOT_PC:
                    return self.got_addr(sym) + A - P
                if not 0 <= A < 1 << 48:
                    raise Overflow(f"offset {A:#x} from an import must be in [0, 2^48)")
                struct.pack_into("<Q", img, P, (i << 48) | A)
                self.mod_relocs.append((P, 1))
                return None
            if a == "386" and kind is Kind.CALL:
                return self._stub_addr(sym) + A - P
            if a == "386" and kind is Kind.GOT_386:
                v = self.got_addr(sym) + A
                return v - self.synthetic[".got"].addr if self.rel.got_has_base_register(img, P) else v
            if kind is Kind.ABS:
                if not 0 <= A < 1 << 22:
                    raise Overflow(f"offset {A:#x} from an import must be in [0, 4 MiB)")
                struct.pack_into("<I", img, P, (i << 22) | A)
                self.mod_relocs.append((P, 1))
                return None
            if a == "386":
                if A != -4:
                    raise Overflow(f"call to an import with addend {A} (only -4 can be expressed)")
                struct.pack_into("<I", img, P, i << 22)
            else:
                if A != -8:
                    raise Overflow(f"branch to an import with addend {A} (only -8 can be expressed)")
                insn = struct.unpack_from("<I", img, P)[0]
                if (insn >> 28) == 0xF:
                    raise Overflow("BLX to an import cannot be expressed")
                struct.pack_into("<I", img, P, (insn & 0xFF000000) | i)
            self.mod_relocs.append((P, 2))
            return None
        except Overflow as e:
            raise DynError(
                f"{howto.name} against import {sym.name} in section {sec.name}: {e.msg}", sec.file.name
            ) from None

    def _stub_size(self) -> int:
        return STUB_386 if self.arch.name == "386" else self.rel.STUB_SIZE

    def _stub_addr(self, sym: Symbol) -> int:
        return self.synthetic[".stubs"].addr + sym.plt_index * self._stub_size()

    def fill_got(self) -> None:
        got = self.synthetic.get(".got")
        if got is None:
            return
        w = self.arch.word
        for sym in self.got:
            place = got.addr + sym.got_index * w
            if sym.import_index >= 0:
                if w == 8:
                    struct.pack_into("<Q", self.image, place, sym.import_index << 48)
                else:
                    struct.pack_into("<I", self.image, place, sym.import_index << 22)
                self.mod_relocs.append((place, 1))
            else:
                self.image[place : place + w] = self.sym_addr(sym).to_bytes(w, "little")
                if sym.section is not None or sym.shndx != elf.SHN_ABS:
                    self.mod_relocs.append((place, 0))

    def _fill_stubs(self) -> None:
        for sym in self.stubs:
            at = self._stub_addr(sym)
            if self.arch.name == "386":
                code = b"\xe9" + struct.pack("<I", sym.import_index << 22) + b"\xcc" * 3
                self.mod_relocs.append((at + 1, 2))
            else:
                code = self.rel.stub(at, self.got_addr(sym))
            self.image[at : at + len(code)] = code

    def _fill_exports(self, table, exports: list[tuple[str, Symbol, int]]) -> None:
        w = self.arch.word
        fmt = "<QQQ" if w == 8 else "<III"
        names_at = table.addr + 3 * w * (len(exports) + 1)
        out = bytearray()
        strings = bytearray()
        for n, (name, sym, sig) in enumerate(exports):
            entry = table.addr + n * 3 * w
            out += struct.pack(fmt, sig & 0xFFFFFFFF, self.sym_addr(sym), names_at + len(strings))
            strings += name.encode() + b"\0"
            self.mod_relocs += [(entry + w, 0), (entry + 2 * w, 0)]
        out += b"\0" * (3 * w) + strings
        self.image[table.addr : table.addr + len(out)] = out

    # -------------------------------------------------------------- output
    def _encode(self, entry: int) -> bytes:
        hdr = dlm.header_size(self.arch)
        rw = [o for o in self.outputs if o.flags & elf.SHF_WRITE]
        text_end = rw[0].addr if rw else (self.end_addr + PAGE - 1) // PAGE * PAGE
        data_end = max(text_end, self.data_end())
        img = bytearray(self.image[hdr:]) + b"\0" * max(0, text_end - len(self.image))
        w, mask = self.arch.word, (1 << (8 * self.arch.word)) - 1
        for place, mode in self.mod_relocs:  # image-relative addresses: offsets, not header + offsets
            if mode == 0:
                at = place - hdr
                v = int.from_bytes(img[at : at + w], "little")
                img[at : at + w] = ((v - hdr) & mask).to_bytes(w, "little")
        mod = dlm.Module(
            arch=self.arch.name,
            text=bytes(img[: text_end - hdr]),
            data=bytes(img[text_end - hdr : data_end - hdr]),
            bss=max(0, self.end_addr - data_end),
            entry=entry - hdr,
            imports=self.import_list,
            relocs=sorted((place - hdr, mode) for place, mode in self.mod_relocs),
        )
        return dlm.encode(mod, filename=self.opts.output)
