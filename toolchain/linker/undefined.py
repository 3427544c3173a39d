"""Pass: report the undefined symbols that live code refers to.

Reads ``external_refs`` (from mark_live) and the global symbols; writes nothing but
errors: one line per undefined symbol, each naming the objects that refer to it (the
first few, and how many more). An output may first bind some undefined symbols itself
(dynld module imports).
"""

from __future__ import annotations

from .. import elf
from ..errors import DynErrors
from .autoimport import undefined_report
from .context import LinkState
from .gc import encapsulated_section
from .inputs import ObjectFile

# Symbols the linker defines itself when they are referenced (linker-defined bounds and tables).
LINKER_SYMBOLS = frozenset(
    {
        "__init_array_start",
        "__init_array_end",
        "__fini_array_start",
        "__fini_array_end",
        "__preinit_array_start",
        "__preinit_array_end",
        "__bss_start",
        "_edata",
        "_end",
        "end",
        "_etext",
        "etext",
        "edata",
        "__executable_start",
        "_GLOBAL_OFFSET_TABLE_",
        "_DYNAMIC",
        "__dso_handle",
    }
)

TLS_GET_ADDR_HINT = (
    " (code for the general/local-dynamic TLS models: compile with -ftls-model=initial-exec, dyncc's default)"
)
#: prefixes of the runtime functions that -fsanitize=... code calls
SANITIZER_PREFIXES = ("__asan_", "__ubsan_", "__tsan_", "__msan_", "__lsan_", "__hwasan_", "__sanitizer_", "__dfsan_")
SANITIZER_HINT = (
    "code compiled with -fsanitize calls a sanitizer runtime, which dynlink does not link: "
    "-fsanitize=undefined -fsanitize-trap=undefined needs none (a check that fails traps), "
    "or compile without -fsanitize"
)


def undefined_symbols(ctx: LinkState) -> dict[str, ObjectFile]:
    """Each global symbol live code needs that nothing defines or binds, with the first object referring to it."""
    out: dict[str, ObjectFile] = {}
    for name, refs in ctx.external_refs.items():
        sym = ctx.globals[name]
        if (
            not sym.defined
            and not sym.is_common
            and sym.bind != elf.STB_WEAK
            and sym.dynimport is None
            and sym.import_index < 0
            and name not in LINKER_SYMBOLS
            and encapsulated_section(name) not in ctx.encapsulated
        ):
            out[name] = refs[0]
    return out


def report_undefined(ctx: LinkState) -> None:
    """Raise one error listing every undefined symbol, each with the objects that refer to it."""
    undefined = undefined_symbols(ctx)
    if not undefined:
        return
    refs: dict[str, list[str]] = {}
    for name in undefined:
        names = refs[name] = []
        for obj in sorted(set(ctx.external_refs[name]), key=lambda o: o.order):
            names.append(obj.name)
    lines = undefined_report(refs, [o.name for o in ctx.objects], {"__tls_get_addr": TLS_GET_ADDR_HINT})
    if len(lines) > 1:
        lines.append(f"{len(lines)} undefined symbols")
    if any(name.startswith(SANITIZER_PREFIXES) for name in undefined):
        lines.append(SANITIZER_HINT)
    raise DynErrors(lines)
