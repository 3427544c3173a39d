"""Output: ELF executables, static or dynamically linked with the seed's dynimport/dynexport.

Plugs into the pipeline (``toolchain.linker.pipeline``): roots at the entry point and
the dynexports; imports become PLT entries, GOT slots, symbolic words or copies
(``toolchain.linker.dynamic``); writes the ELF header, program headers, ``.symtab``
and the relocated DWARF of the link state.
"""

from __future__ import annotations

import os
import struct

from .. import elf
from ..errors import DynError
from ..records import TYPE_CHECKING
from .context import LinkState, OutputSection
from .inputs import InputSection, Symbol
from .pipeline import Output
from .reloc import Howto, Kind
from .relocate import collect_debug, compute_value, need_got, place_debug, write_debug
from .sections import add_synthetic_section, output_section_name

if TYPE_CHECKING:
    from .dynamic import DynamicInfo

# -z relro: what ld.so may make read-only once it has relocated it (first in the writable segment).
RELRO_SECTIONS = (".tdata", ".tbss", ".preinit_array", ".init_array", ".fini_array", ".dynamic", ".got")
BUILD_ID_SECTION = ".note.gnu.build-id"
NT_GNU_BUILD_ID = 3
BUILD_ID_SIZES = {"sha1": 20, "md5": 16, "uuid": 16}


def build_id_size(style: str) -> int:
    """Bytes of the build ID ``--build-id=style`` asks for (0 for none)."""
    if style == "none":
        return 0
    if style.lower().startswith("0x"):
        return len(style) // 2 - 1
    return BUILD_ID_SIZES[style]


def build_id(style: str, image: bytes | bytearray, size: int) -> bytes:
    """The build ID: a hash of the whole output (written with the ID zero), random (uuid), or given (0xHEX)."""
    if style.lower().startswith("0x"):
        return bytes.fromhex(style[2:])
    if style == "uuid":
        raw = bytearray(os.urandom(16))
        raw[6] = (raw[6] & 0x0F) | 0x40  # RFC 4122 version 4
        raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
        return bytes(raw)
    import hashlib

    return hashlib.new(style, image).digest()[:size]


class ElfExecutable(Output):
    """An ET_EXEC: dynamic as soon as any directive imports or exports."""

    def __init__(self, ctx: LinkState) -> None:
        super().__init__(ctx)
        #: the dynamic section's builder (None for a static executable)
        self.dyn: DynamicInfo | None = None
        #: program headers, counted before layout so the first section can follow them
        self.nphdr = 0
        #: the debug output sections (``collect_debug``), placed before relocation
        self.debug: list[OutputSection] = []

    def roots(self) -> list[tuple[Symbol, str]]:
        ctx = self.ctx
        entry = ctx.opts.entry or "_start"
        sym = ctx.globals.get(entry)
        if sym is None or not sym.defined:
            raise DynError(f"entry symbol {entry} is not defined")
        ctx.entry_sym = sym
        return [(sym, f"entry point {entry}")] + [(s, f"dynexport {s.name}") for s in ctx.dynexports]

    def wanted_names(self) -> tuple[str, ...]:
        return (self.ctx.opts.entry or "_start",)

    def bind_undefined(self) -> None:
        ctx = self.ctx
        if (
            ctx.auto_imports
            or any(not s.as_needed for s in ctx.shared)
            or any(o.directives is not None and (o.directives.imports or o.directives.exports) for o in ctx.objects)
        ):
            from .dynamic import DynamicInfo  # imported by dynamic executables only

            self.dyn = DynamicInfo(ctx)

    # imports: a call goes through the PLT, a GOT reference through a GLOB_DAT slot,
    # an absolute word in writable data gets a symbolic dynamic relocation.
    def scan_import(self, sec: InputSection, offset: int, sym: Symbol, howto: Howto) -> None:
        kind, dyn, ctx = howto.kind, self.dyn, self.ctx
        if sym.copy_reloc or dyn is None:
            return
        assert howto.field is not None
        in_code = not sec.flags & elf.SHF_WRITE or howto.field.size != ctx.arch.word
        if kind is Kind.CALL:
            dyn.need_plt(sym)
        elif kind in (Kind.GOT_PC, Kind.GOT_386):
            need_got(ctx, sym)
            ctx.got_base_needed = True
        elif kind is Kind.ABS and not in_code:
            dyn.need_symbol(sym)  # a pointer in writable data: a symbolic dynamic relocation
        elif kind in (Kind.ABS, Kind.PC):
            found = dyn.library_symbol(sym)
            if found is not None and found[0] == elf.STT_OBJECT and found[1] > 0:
                dyn.need_copy(sym)  # data used directly by non-PIC code: copy it into the executable
            elif kind is Kind.PC and howto.field.size == 4:
                dyn.need_plt(sym)  # a call (386 calls are plain PC32)
            elif kind is Kind.ABS and found is not None:
                sym.address_taken = True
                dyn.need_plt(sym)  # a function's address in code: the PLT entry is its address here
            else:
                lib = sym.dynimport.path if sym.dynimport is not None else "its library"
                raise DynError(
                    f"{howto.name} against imported symbol {sym.name} in section {sec.name}: cannot "
                    f"tell code from data without {lib} (not found; give -L DIR), or import it "
                    f"through a dynimport slot",
                    sec.file.name,
                )
        else:
            raise DynError(
                f"{howto.name} against imported symbol {sym.name} in section {sec.name} cannot be "
                f"bound at load time: import it through a dynimport slot, or compile with -fPIC",
                sec.file.name,
            )

    def create_sections(self) -> None:
        ctx = self.ctx
        if self.dyn is not None:
            self.dyn.add_slot_imports()
            self.dyn.place_copies()
            self.dyn.create_sections()
            if ctx.opts.relro:
                ctx.relro_sections = (*RELRO_SECTIONS, ".got.plt") if ctx.opts.bind_now else RELRO_SECTIONS
        size = build_id_size(ctx.opts.build_id)
        if size:
            note = add_synthetic_section(ctx, BUILD_ID_SECTION, elf.SHT_NOTE, elf.SHF_ALLOC, 4)
            note.size = 16 + size
        # The debug sections' places, before relocation: the allocated sections' pass then
        # works out their symbols' values too, and the debug sections' pass reuses them.
        self.debug = collect_debug(ctx) if not ctx.opts.strip_debug else []

    def layout_start(self) -> tuple[int, int, int, bool]:
        self.nphdr = self._count_phdrs()
        ehsize, phentsize = (52, 32) if self.ctx.arch.bits == 32 else (64, 56)
        return self.ctx.arch.base_addr, ehsize + self.nphdr * phentsize, self.ctx.arch.page, False

    def image_tail(self) -> int:
        """The debug sections follow the image: placed now, they are written in place (no copy)."""
        image_end = self.ctx.data_end() - self.ctx.base
        return place_debug(self.debug, image_end) - image_end

    def fill_sections(self) -> None:
        if self.dyn is not None:
            self.dyn.fill()
        note = self.ctx.synthetic.get(BUILD_ID_SECTION)
        if note is not None:
            at = note.addr - self.ctx.base
            self.ctx.image[at : at + 16] = struct.pack("<III4s", 4, note.size - 16, NT_GNU_BUILD_ID, b"GNU\0")

    def import_value(self, sec: InputSection, offset: int, sym: Symbol, howto: Howto, P: int, A: int) -> int | None:
        ctx, dyn, kind = self.ctx, self.dyn, howto.kind
        assert dyn is not None and howto.field is not None
        if kind in (Kind.CALL, Kind.PC):
            return dyn.plt_addr(sym) + A - P
        if kind in (Kind.GOT_PC, Kind.GOT_386):  # the import's GOT slot, which the loader fills
            return compute_value(ctx, kind, sym, 0, A, P, ctx.image, P - ctx.base)
        if sec.flags & elf.SHF_WRITE and howto.field.size == ctx.arch.word:
            dyn.add_symbolic_reloc(P, sym, A)
            return A if not ctx.arch.rela else 0
        return dyn.plt_addr(sym) + A

    def write(self) -> bytearray:
        if self.dyn is not None:
            self.dyn.finish()
        out = self._write(self.nphdr)  # the image itself, grown into the file: not copied
        note = self.ctx.synthetic.get(BUILD_ID_SECTION)
        if note is not None:
            at = note.addr - self.ctx.base + 16
            desc = build_id(self.ctx.opts.build_id, out, note.size - 16)
            out[at : at + len(desc)] = desc
        return out

    def has_tls(self) -> bool:
        return any(
            output_section_name(sec) in (".tdata", ".tbss")
            for sec in self.ctx.live_sections()
            if sec.flags & elf.SHF_TLS
        )

    def _count_phdrs(self) -> int:
        n = 4 + (1 if self.has_tls() else 0)  # three PT_LOAD at most, PT_GNU_STACK, PT_TLS
        if self.dyn is not None:
            n += 1 + (2 if self.dyn.interp else 0)  # PT_DYNAMIC, PT_PHDR + PT_INTERP
            n += 1 if self.ctx.relro_sections else 0  # PT_GNU_RELRO
        return n + (1 if build_id_size(self.ctx.opts.build_id) else 0)  # PT_NOTE

    # ---------------------------------------------------------------- write
    def _write(self, nphdr: int) -> bytearray:
        a = self.ctx.arch
        is64 = a.bits == 64
        ehsize, phentsize, shentsize = (64, 56, 64) if is64 else (52, 32, 40)
        out = self.ctx.image
        # section header string table, symbol table
        shnames = bytearray(b"\0")

        def shname(n: str) -> int:
            off = len(shnames)
            shnames.extend(n.encode() + b"\0")
            return off

        for i, o in enumerate(self.ctx.outputs, start=1):
            o.index = i
        strip_all = self.ctx.opts.strip_all
        symtab, strtab, nlocal = self._symtab(is64) if not strip_all else (b"", b"", 0)
        debug = self.debug
        write_debug(self.ctx, debug, out)  # releases every input: the output holds their bytes now
        assert not debug or len(out) == debug[-1].offset + debug[-1].size
        out.extend(b"\0" * (-len(out) % 8))
        symtab_off = len(out)
        out += symtab
        strtab_off = len(out)
        out += strtab
        names = [shname(o.name) for o in self.ctx.outputs]
        debug_names = [shname(o.name) for o in debug]
        n_symtab, n_strtab = (shname(".symtab"), shname(".strtab")) if not strip_all else (0, 0)
        n_shstr = shname(".shstrtab")
        shstr_off = len(out)
        out += shnames
        out.extend(b"\0" * (-len(out) % 8))
        shoff = len(out)
        nsec = len(self.ctx.outputs) + len(debug) + (2 if strip_all else 4)
        sh = bytearray(shentsize)  # null section
        for o, nm in zip(self.ctx.outputs, names, strict=True):
            link, info = self._section_link(o)
            sh += _shdr(
                is64, nm, o.type, o.flags, o.addr, o.addr - self.ctx.base, o.size, link, info, o.align, o.entsize
            )
        for o, nm in zip(debug, debug_names, strict=True):
            sh += _shdr(is64, nm, o.type, o.flags, 0, o.offset, o.size, 0, 0, o.align, o.entsize)
        if not strip_all:
            sym_index = len(self.ctx.outputs) + len(debug) + 1
            sh += _shdr(
                is64,
                n_symtab,
                elf.SHT_SYMTAB,
                0,
                0,
                symtab_off,
                len(symtab),
                sym_index + 1,
                nlocal,
                8 if is64 else 4,
                24 if is64 else 16,
            )
            sh += _shdr(is64, n_strtab, elf.SHT_STRTAB, 0, 0, strtab_off, len(strtab), 0, 0, 1, 0)
        sh += _shdr(is64, n_shstr, elf.SHT_STRTAB, 0, 0, shstr_off, len(shnames), 0, 0, 1, 0)
        out += sh
        phdrs = self._phdrs(ehsize, nphdr, phentsize)
        entry = self.ctx.sym_addr(self.ctx.entry_sym) if self.ctx.entry_sym else 0
        ident = b"\x7fELF" + bytes([2 if is64 else 1, 1, 1, 0]) + b"\0" * 8
        fmt = "<HHIQQQIHHHHHH" if is64 else "<HHIIIIIHHHHHH"  # e_entry, e_phoff, e_shoff are words
        fields = (elf.ET_EXEC, a.machine, 1, entry, ehsize, shoff, a.e_flags, ehsize, phentsize, nphdr, shentsize)
        hdr = ident + struct.pack(fmt, *fields, nsec, nsec - 1)
        out[0 : len(hdr)] = hdr
        out[ehsize : ehsize + len(phdrs)] = phdrs
        return out

    def _section_link(self, o: OutputSection) -> tuple[int, int]:
        if self.dyn is None:
            return 0, 0
        return self.dyn.section_link(o)

    def _phdrs(self, ehsize: int, nphdr: int, phentsize: int) -> bytes:
        is64 = self.ctx.arch.bits == 64
        ph: list[tuple[int, int, int, int, int, int, int]] = []  # type, flags, off, vaddr, filesz, memsz, align
        page = self.ctx.arch.page
        if self.dyn is not None and self.dyn.interp:
            size = nphdr * phentsize
            ph.append((elf.PT_PHDR, elf.PF_R, ehsize, self.ctx.base + ehsize, size, size, self.ctx.arch.word))
            interp = self.ctx.by_name[".interp"]
            ph.append((elf.PT_INTERP, elf.PF_R, interp.addr - self.ctx.base, interp.addr, interp.size, interp.size, 1))
        for i, (flags, outs) in enumerate(self.ctx.segments):
            start = self.ctx.base if i == 0 else outs[0].addr
            filesz = max((o.addr + o.filesize for o in outs if o.filesize), default=start) - start
            memsz = outs[-1].addr + outs[-1].size - start
            relro = self.ctx.relro_range
            if relro is not None and start == relro[0]:
                memsz = max(memsz, relro[1] - start)  # the padding after a relro-only segment is its own
            ph.append((elf.PT_LOAD, flags, start - self.ctx.base, start, filesz, memsz, page))
        if self.ctx.tls is not None:
            start, memsz, align = self.ctx.tls
            tdata = self.ctx.by_name.get(".tdata")
            filesz = tdata.addr + tdata.size - start if tdata is not None and tdata.inputs else 0
            ph.append((elf.PT_TLS, elf.PF_R, start - self.ctx.base, start, filesz, memsz, align))
        if self.dyn is not None:
            d = self.ctx.by_name[".dynamic"]
            ph.append(
                (
                    elf.PT_DYNAMIC,
                    elf.PF_R | elf.PF_W,
                    d.addr - self.ctx.base,
                    d.addr,
                    d.size,
                    d.size,
                    self.ctx.arch.word,
                )
            )
        note = self.ctx.synthetic.get(BUILD_ID_SECTION)
        if note is not None:
            ph.append((elf.PT_NOTE, elf.PF_R, note.addr - self.ctx.base, note.addr, note.size, note.size, 4))
        exec_stack = self.ctx.opts.exec_stack
        if exec_stack is None:
            exec_stack = any(o.exec_stack for o in self.ctx.objects)
        stack = elf.PF_R | elf.PF_W | (elf.PF_X if exec_stack else 0)
        ph.append((elf.PT_GNU_STACK, stack, 0, 0, 0, 0, 16))
        if self.ctx.relro_range is not None:
            start, end = self.ctx.relro_range
            ph.append((elf.PT.GNU_RELRO, elf.PF_R, start - self.ctx.base, start, end - start, end - start, 1))
        while len(ph) < nphdr:
            ph.append((elf.PT_NULL, 0, 0, 0, 0, 0, 0))
        out = bytearray()
        for t, f, off, va, fs, ms, al in ph:
            if is64:
                out += struct.pack("<IIQQQQQQ", t, f, off, va, va, fs, ms, al)
            else:
                out += struct.pack("<IIIIIIII", t, off, va, va, fs, ms, f, al)
        return bytes(out)

    def _symtab(self, is64: bool) -> tuple[bytes, bytes, int]:
        """``.symtab`` (locals first), ``.strtab`` and the number of locals."""
        ctx = self.ctx
        names: list[bytes] = [b""]  # .strtab's strings, each followed by a NUL
        name_end = 1  # where the next name goes in .strtab
        entries: list[bytes] = []
        tls_start = ctx.tls[0] if ctx.tls else 0
        entry64, entry32 = struct.Struct("<IBBHQQ").pack, struct.Struct("<IIIBBH").pack
        STT_TLS, SHN_ABS, COMMON = elf.STT_TLS, elf.SHN_ABS, elf.STT_COMMON

        def add(name: str, value: int, size: int, info: int, shndx: int) -> None:
            nonlocal name_end
            if info & 0xF == STT_TLS:
                value -= tls_start  # st_value of a TLS symbol: its offset in the TLS template
            off = 0
            if name:
                encoded = name.encode("utf-8", "surrogateescape")
                off = name_end
                names.append(encoded)
                name_end += len(encoded) + 1
            if is64:
                entries.append(entry64(off, info, 0, shndx, value, size))
            else:
                entries.append(entry32(off, value, size, info, 0, shndx))

        def shndx_of(sym: Symbol) -> int:
            sec = sym.section.merged or sym.section if sym.section is not None else None
            if sec is not None and sec.out is not None:
                return sec.out.index
            if sym.section is not None:
                return self._out_of(sym.section)
            return SHN_ABS if sym.shndx == SHN_ABS else elf.SHN_UNDEF

        add("", 0, 0, 0, 0)
        sym_addr = ctx.sym_addr
        unnamed_types = (elf.STT_SECTION, elf.STT_FILE)
        for obj in ctx.objects:
            for sym in obj.symbols[1 : obj.first_global]:
                if sym.type in unnamed_types or not sym.name or sym.name.startswith(".L"):
                    continue
                sec = sym.section
                if sec is None or not sec.live or sec.discarded:
                    continue
                add(sym.name, sym_addr(sym), sym.size, (elf.STB_LOCAL << 4) | sym.type, shndx_of(sym))
        nlocal = len(entries)
        globals_ = ctx.globals
        for name in sorted(globals_):
            g = globals_[name]
            sec = g.section
            if sec is not None and (sec.live or sec.name == "COMMON"):
                t = g.type if g.type != COMMON else elf.STT_OBJECT
                if sec.merged is None and sec.out is not None:  # the common case, inline
                    add(name, sec.addr + g.value, g.size, (g.bind << 4) | t, sec.out.index)
                else:
                    add(name, sym_addr(g), g.size, (g.bind << 4) | t, shndx_of(g))
            elif g.shndx == SHN_ABS:
                add(name, g.value, g.size, (g.bind << 4) | g.type, SHN_ABS)
            elif g.dynimport is not None and not g.defined and g.referenced_by is not None:
                add(name, 0, 0, (elf.STB_GLOBAL << 4) | elf.STT_NOTYPE, 0)
        names.append(b"")
        return b"".join(entries), b"\0".join(names), nlocal

    def _out_of(self, sec) -> int:
        for o in self.ctx.outputs:
            if sec in o.inputs:
                return o.index
        return elf.SHN_ABS


def _shdr(
    is64: bool,
    name: int,
    type_: int,
    flags: int,
    addr: int,
    off: int,
    size: int,
    link: int,
    info: int,
    align: int,
    entsize: int,
) -> bytes:
    if is64:
        return struct.pack("<IIQQQQIIQQ", name, type_, flags, addr, off, size, link, info, align, entsize)
    return struct.pack("<IIIIIIIIII", name, type_, flags, addr, off, size, link, info, align, entsize)
