"""dyntools' cache directory, shared by the tools and safe for parallel processes.

Its location is ``$DYNTOOLS_CACHE_DIR``, else ``$XDG_CACHE_HOME/dyntools``, else
``~/.cache/dyntools``. Entries are written to a temporary name and renamed into place, so a
reader sees a whole entry or none.
"""

from __future__ import annotations

import os

from .errors import open_temporary


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
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = open_temporary(os.path.dirname(path), ".tmp-")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
