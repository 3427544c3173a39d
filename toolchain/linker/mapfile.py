"""Pass (optional): the link map, ``--map FILE``.

Reads the finished link state (outputs, discarded sections, global symbols); writes text.
"""

from __future__ import annotations

from ..errors import printable
from .context import LinkState


def write_map(ctx: LinkState) -> str:
    """A text map: output sections, the input sections in each and why each was kept; discards; symbols.

    Names are shown by ``errors.printable``: one line each, whatever bytes the objects held.
    """
    lines = ["# dynlink map", "", "Output sections:"]
    for out in ctx.outputs:
        lines.append(f"{out.name:<16} {out.addr:#010x} {out.size:#8x} align {out.align}")
        for sec in out.inputs:
            lines.append(f"    {sec.addr:#010x} {sec.size:#8x} {sec!r}  <- {sec.live_reason}")
    lines += ["", "Discarded sections:"]
    for sec in ctx.discarded:
        why = "duplicate COMDAT group" if sec.discarded else "unreferenced"
        lines.append(f"    {sec!r} {sec.size:#x} ({why})")
    lines += ["", "Symbols:"]
    for name in sorted(ctx.globals):
        g = ctx.globals[name]
        if g.defined:
            lines.append(f"    {ctx.sym_addr(g):#010x} {name}  ({g.file.name if g.file else 'linker'})")
        elif g.dynimport is not None:
            lines.append(f"    {'import':>10} {name}  ({g.dynimport.remote} from {g.dynimport.path})")
    return "\n".join(printable(line) for line in lines) + "\n"
