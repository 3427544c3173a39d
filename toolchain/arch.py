"""The one table of per-architecture facts.

Everything the generic code needs to know about 386, amd64 and arm lives here;
relocation logic lives in ``toolchain.linker.arch_<name>``, each a ``Target``
(``toolchain.linker.target``).
"""

from __future__ import annotations

import os
import sys

from .errors import DynError, UsageError
from .records import NamedTuple

# e_machine numbers of the ELF specification (``toolchain.elf.EM``, which a unit test checks
# these against): written out so that reading this table does not import the ELF reader,
# which tools that only need the table (the SCons tool, at every build) would pay for.
EM_386, EM_ARM, EM_X86_64 = 3, 40, 62


def _aout_magic(b: int, flags: int = 0) -> int:
    """Plan 9 ``_MAGIC(f, b)``."""
    return flags | ((4 * b + 0) * b + 7)


HDR_MAGIC = 0x8000


class Arch(NamedTuple):
    """Facts about one target architecture (a record: ``_replace`` makes a changed copy)."""

    name: str  # our name: 386, amd64, arm
    letter: str  # Plan 9 letter: 8, 6, 5
    bits: int  # ELF class: 32 or 64
    machine: int  # ELF e_machine
    e_flags: int  # ELF e_flags written into executables
    word: int  # pointer size in bytes
    rela: bool  # dynamic relocations carry addends (.rela) or not (.rel)
    cc_target: str  # zig cc -target for objects
    gnu_triple: str  # zig's name of the arch's glibc target, without the version
    cc_flags: tuple[str, ...]  # default code-generation flags (dyncc adds them first; hosted unless -ffreestanding)
    interp: str  # dynamic loader path
    sysroot: str | None  # where the target's libc lives for running here
    base_addr: int  # where the first PT_LOAD goes
    aout_magic: int  # Plan 9 a.out magic of the arch (dynld modules)
    page: int = 0x1000
    max_page: int = 0x10000  # alignment of segment file offsets vs addresses
    aliases: tuple[str, ...] = ()
    lib_dirs: tuple[str, ...] = ()  # where this machine keeps the arch's shared libraries
    glibc_version: str = "2.36"  # the C library version programs are built against (Debian 12's)
    gnu_machine: str = ""  # the machine as gcc's -dumpmachine spells it
    emulator: str | None = None  # the user-mode emulator that runs the arch's programs here (None: natively)
    # dynld module encoding (toolchain.dynld.module, the C runtime):
    dlm_index_bits: int = 10  # bits of a mode-1/2 word that hold the import index
    dlm_addr_shift: int = 0  # relocation addresses are stored in units of 1 << shift bytes
    dlm_call: str = "rel32"  # mode 2: "rel32" (a 32-bit PC-relative call field) or "branch24" (B/BL imm24)

    @property
    def glibc_target(self) -> str:
        """``zig cc -target`` for programs and libraries linked against glibc: the one place for it."""
        return f"{self.gnu_triple}.{self.glibc_version}"

    @property
    def endian(self) -> str:
        return "<"

    def runner(self) -> list[str]:
        """The command prefix that runs a program of this arch on this machine."""
        if self.emulator is None:
            return []
        from shutil import which

        cmd = [which(self.emulator) or self.emulator]
        if self.sysroot and os.path.isdir(self.sysroot):
            cmd += ["-L", self.sysroot]
        return cmd


_COMMON_CFLAGS = (
    "-fno-stack-protector",
    "-fno-unwind-tables",
    "-fno-asynchronous-unwind-tables",
)

ARCHES: dict[str, Arch] = {
    "386": Arch(
        name="386",
        letter="8",
        bits=32,
        machine=EM_386,
        e_flags=0,
        word=4,
        rela=False,
        cc_target="x86-linux-none",
        gnu_triple="x86-linux-gnu",
        cc_flags=("-fno-pic", "-fno-pie", *_COMMON_CFLAGS, "-mcpu=i686"),
        interp="/lib/ld-linux.so.2",
        sysroot=None,
        base_addr=0x08048000,
        aout_magic=_aout_magic(11),
        aliases=("8", "i386", "x86"),
        gnu_machine="i686-linux-gnu",
        lib_dirs=("/lib/i386-linux-gnu", "/usr/lib/i386-linux-gnu", "/lib32", "/usr/lib32"),
    ),
    "amd64": Arch(
        name="amd64",
        letter="6",
        bits=64,
        machine=EM_X86_64,
        e_flags=0,
        word=8,
        rela=True,
        cc_target="x86_64-linux-none",
        gnu_triple="x86_64-linux-gnu",
        # -fpie: data references go through RIP-relative addressing or the GOT, which
        # the dynld module format can express at any load address.
        # initial-exec TLS: -fpie alone makes zig's clang use general-dynamic (__tls_get_addr)
        cc_flags=("-fpie", "-ftls-model=initial-exec", *_COMMON_CFLAGS),
        interp="/lib64/ld-linux-x86-64.so.2",
        sysroot=None,
        base_addr=0x400000,
        aout_magic=_aout_magic(26, HDR_MAGIC),
        aliases=("6", "x86_64", "x86-64"),
        gnu_machine="x86_64-linux-gnu",
        dlm_index_bits=16,
        lib_dirs=("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64"),
    ),
    "arm": Arch(
        name="arm",
        letter="5",
        bits=32,
        machine=EM_ARM,
        e_flags=0x05000400,  # EABI version 5, hard-float ABI
        word=4,
        rela=False,
        cc_target="arm-linux-none",
        gnu_triple="arm-linux-gnueabihf",
        # ARM state and no MOVW/MOVT: only ABS32 literal pools and B/BL, which dynld can express.
        cc_flags=("-fno-pic", "-fno-pie", *_COMMON_CFLAGS, "-marm", "-mcpu=cortex_a7+no_movt", "-mfloat-abi=hard"),
        interp="/lib/ld-linux-armhf.so.3",
        sysroot="/usr/arm-linux-gnueabihf",
        base_addr=0x10000,
        aout_magic=_aout_magic(20),
        aliases=("5", "armhf", "arm32"),
        gnu_machine="arm-linux-gnueabihf",
        emulator="qemu-arm",
        dlm_addr_shift=2,
        dlm_call="branch24",
        lib_dirs=("/usr/arm-linux-gnueabihf/lib", "/lib/arm-linux-gnueabihf", "/usr/lib/arm-linux-gnueabihf"),
    ),
}

_BY_ALIAS = {alias: a for a in ARCHES.values() for alias in (a.name, *a.aliases)}


def get_arch(name: str) -> Arch:
    """Look an architecture up by name or Plan 9 letter; DynError if unknown."""
    arch = _BY_ALIAS.get(name.lower()) if name else None
    if arch is None:
        known = ", ".join(sorted(ARCHES))
        raise DynError(f"unknown arch: {name!r} (known: {known}; or 8, 6, 5)")
    return arch


def arch_argument(name: str | None) -> Arch:
    """``get_arch`` for a command line's ``-a``: an unknown name is bad usage (exit status 2).
    Without ``-a`` (None), this machine's arch, as cc and ld target the machine they run on."""
    if name is None:
        return default_arch()
    try:
        return get_arch(name)
    except DynError as e:
        raise UsageError(str(e)) from None


def host_arch_name() -> str | None:
    """The arch this machine runs (its kernel's, with a 32-bit Python on x86-64 taken as 386),
    or None when it is none of ours."""
    machine = os.uname().machine.lower()
    if machine in ("x86_64", "amd64"):
        return "amd64" if sys.maxsize > 2**32 else "386"
    if machine in ("i386", "i486", "i586", "i686", "x86"):
        return "386"
    if machine.startswith("arm") and machine != "arm64":  # armv7l, armv8l (AArch32); arm64 is AArch64
        return "arm"
    return None


def default_arch() -> Arch:
    """The arch a command targets without ``-a``: this machine's; bad usage on another machine."""
    name = host_arch_name()
    if name is None:
        known = ", ".join(sorted(ARCHES))
        raise UsageError(f"-a ARCH is required: this machine ({os.uname().machine}) is none of {known}")
    return ARCHES[name]


def arch_for_machine(machine: int, bits: int) -> Arch | None:
    """The arch whose ELF machine and class match, or None."""
    for a in ARCHES.values():
        if a.machine == machine and a.bits == bits:
            return a
    return None
