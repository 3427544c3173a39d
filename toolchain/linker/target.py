"""The typed per-arch contract of the linker (like lld's ``TargetInfo`` or Go's ``ld.Arch``).

Each arch module (``arch_386``, ``arch_amd64``, ``arch_arm``) fills in one ``Target``:
its relocation types as ``Howto`` records, its dynamic relocation numbers, its PLT
code, and how dynld module imports are encoded. Every hook is declared here once,
with its meaning and its default; the generic passes never ask which arch they run on.
"""

from __future__ import annotations

from ..arch import Arch
from ..records import TYPE_CHECKING
from .reloc import Howto, Overflow

if TYPE_CHECKING:
    from typing import ClassVar


class Target:
    """What the generic linker needs to know about one arch. Subclasses set the facts."""

    #: The arch's name in the arch table (``toolchain.arch``).
    name: ClassVar[str]
    #: The arch table entry this target serves.
    arch: Arch
    #: Relocation types the linker applies: ELF type number -> what it computes and where.
    howtos: ClassVar[dict[int, Howto]]
    #: TLS layout: 1 -- the thread pointer points at a control block before the TLS block
    #: (arm); 2 -- the thread pointer is at the end of the TLS block (x86).
    tls_variant: ClassVar[int]
    #: Dynamic relocation types the executable writer emits.
    r_abs_word: ClassVar[int]
    r_copy: ClassVar[int]
    r_glob_dat: ClassVar[int]
    r_jump_slot: ClassVar[int]
    r_relative: ClassVar[int]
    #: PLT geometry: header bytes, bytes per entry, and the section's sh_entsize.
    plt_header_size: ClassVar[int]
    plt_entry_size: ClassVar[int]
    plt_section_entsize: ClassVar[int]
    #: Functions the linker supplies when nothing else defines them: name -> code.
    linker_functions: ClassVar[dict[str, bytes]] = {}
    #: Bytes of one interworking thunk (0: the arch needs none).
    thunk_size: ClassVar[int] = 0
    #: Bytes of one dynld module call stub (0: calls to imports need no stub).
    module_stub_size: ClassVar[int] = 0
    #: How many imports a dynld module's relocation encoding can index.
    module_import_limit: ClassVar[int] = 1 << 10
    #: The dyncc flags that keep code within what the dynld module format expresses.
    module_flag_hint: ClassVar[str] = ""

    def __init__(self, arch: Arch):
        self.arch = arch

    # ------------------------------------------------------------------ PLT
    def plt_header(self, plt: int, gotplt: int) -> bytes:
        """PLT0, which hands a lazy binding to the dynamic loader."""
        raise NotImplementedError

    def plt_entry(self, entry: int, slot: int, index: int, plt: int) -> bytes:
        """One PLT entry at ``entry`` jumping through GOT slot ``slot`` (relocation ``index``)."""
        raise NotImplementedError

    def plt_lazy_target(self, entry: int, plt: int) -> int:
        """What a jump slot holds before the loader binds it."""
        raise NotImplementedError

    # ------------------------------------------------------------------ GOT
    def got_has_base_register(self, buf: bytearray | memoryview, off: int) -> bool:
        """For a GOT-relative load whose field is at ``off``: is the GOT addressed through a base register?"""
        return True

    # --------------------------------------------------------------- thunks
    def thunk_kind(self, howto: Howto, target_is_thumb: bool) -> str | None:
        """Which thunk a branch of type ``howto`` needs to reach a target of that state, if any."""
        return None

    def thunk_code(self, kind: str, at: int, target: int) -> bytes:
        """The bytes of a thunk of ``kind`` at address ``at`` going to ``target``."""
        raise NotImplementedError

    def thunk_entry(self, kind: str, at: int) -> int:
        """The address a branch jumps to for the thunk at ``at``."""
        return at

    def thunk_absolute_word(self, kind: str) -> int | None:
        """Offset in a thunk of an absolute address word (a dynld module must relocate it), if any."""
        return None

    # -------------------------------------------------------- dynld modules
    #: Do a module's call stubs jump through a pointer slot (a GOT entry) of the import?
    module_stub_needs_slot: ClassVar[bool] = False

    def module_stub(self, addr: int, slot: int, index: int) -> tuple[bytes, int | None]:
        """A dynld module's call stub at ``addr`` for import ``index`` (its pointer slot at ``slot``).

        Returns the code and the offset in it of a word the loader relocates in mode 2, if any.
        """
        raise NotImplementedError

    def module_import_use(self, howto: Howto) -> str | None:
        """How a dynld module expresses a relocation of this type against an import.

        ``"word"``: an address word (mode 1); ``"call"``: a call the loader patches
        (mode 2); ``"stub"``: a call through one stub per import; ``"got"``: a load from
        a pointer slot holding the import's mode-1 word; None: not expressible.
        """
        return None

    def module_import_word(self, index: int, addend: int) -> int:
        """The mode-1 word for import ``index`` plus ``addend``; Overflow when it does not fit."""
        raise NotImplementedError

    def module_import_call(self, buf: bytearray, pos: int, index: int, addend: int) -> None:
        """Rewrite the call at ``pos`` for a mode-2 relocation to import ``index``; Overflow if impossible."""
        raise Overflow("calls to imports need a stub on this arch")


_TARGETS: dict[str, Target] = {}
_MODULES = {"386": "arch_386", "amd64": "arch_amd64", "arm": "arch_arm"}  # each defines TARGET, its Target class


def get_target(arch: Arch) -> Target:
    """The target of ``arch``; its module is imported on first use (a link imports one arch's)."""
    target = _TARGETS.get(arch.name)
    if target is None:
        from importlib import import_module

        from ..arch import get_arch

        cls: type[Target] = import_module(f".{_MODULES[arch.name]}", __package__).TARGET
        target = _TARGETS[arch.name] = cls(get_arch(arch.name))
    return target
