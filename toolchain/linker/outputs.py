"""The link as the command line asks for it: the pass list writing an ELF executable or a dynld module.

Sits above the two writers (``elfout``, ``dlmout``) and the pipeline, so that neither
the pass list nor a writer needs to know the other writer.
"""

from __future__ import annotations

from .context import LinkOptions, LinkState
from .pipeline import Output, run


def link(opts: LinkOptions) -> tuple[bytes | bytearray, LinkState]:
    """Run one link; the output's bytes and the final link state (for the map)."""
    ctx = LinkState.for_options(opts)
    out: Output
    if opts.module:  # each writer is imported only by the links that use it
        from .dlmout import DynldModule

        out = DynldModule(ctx)
    else:
        from .elfout import ElfExecutable

        out = ElfExecutable(ctx)
    return run(ctx, out), ctx
