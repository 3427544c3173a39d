"""dyntools' cache directory, shared by the tools and safe for parallel processes.

Its location is ``$DYNTOOLS_CACHE_DIR``, else ``$XDG_CACHE_HOME/dyntools``, else
``~/.cache/dyntools``. Entries are written to a temporary name and renamed into place, so a
reader sees a whole entry or none.
"""

from __future__ import annotations

import os

from .errors import open_temporary, replace_with_temporary


def cache_root() -> str:
    """dyntools' cache directory (not created)."""
    explicit = os.environ.get("DYNTOOLS_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dyntools")


def read_entry(path: str) -> bytes | None:
    """The bytes of a cache entry, or None when there is none (or it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def write_entry(path: str, data: bytes) -> bool:
    """Store ``data`` at ``path`` atomically, creating directories; False (and nothing left) on failure."""
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = open_temporary(directory, ".tmp-")
        replace_with_temporary(fd, tmp, path, data, 0o600)
    except OSError:
        return False
    return True
