"""``dynlink`` as a console script: the linker imported and run without the cyclic collector.

A command is a short-lived process that frees nothing before it exits. Importing the
linker creates tens of thousands of objects, and the collections they set off find
nothing to free: on a small link (Lua's) they cost about 1.5 ms of a 55 ms command.
The link itself always runs without them (``main.link``).
"""

from __future__ import annotations

import gc


def main() -> None:
    """The ``dynlink`` console script: turn the collector off, then import and run the linker."""
    gc.disable()
    from .main import command_main

    command_main()


if __name__ == "__main__":
    main()
