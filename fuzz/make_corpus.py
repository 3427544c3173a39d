"""Build the seed corpora of the fuzz targets with the project's own tools.

    python3 -m fuzz.make_corpus [DIR]        (default: fuzz/corpus, not committed)

One directory per target (see fuzz/targets.py): objects and archives compiled by dyncc
for 386, amd64 and arm; dynld modules linked by ``dynlink -u`` and made by
``module.encode``; manifests with their headers; declarations; preprocessed C with
pragmas from the preprocessor dyncc uses. The C runtime targets use the ``module`` seeds.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile

from toolchain.arch import get_arch
from toolchain.cc.driver import compile_c, default_compiler
from toolchain.dynld.module import Module, encode
from toolchain.errors import DynError
from toolchain.linker.main import main as dynlink_main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARCHES = ("386", "amd64", "arm")

# Small programs that link on their own (exec) and modules (with a dynexport).
PROGRAMS = {
    "exec.c": "int counter = 3;\nint table[4] = {1, 2, 3, 4};\nint *ptr = &counter;\nstatic int bss[8];\n"
    "int add(int a, int b) { return a + b + table[a & 3]; }\n"
    "void _start(void) { bss[1] = add(*ptr, 2); for (;;); }\n",
    "common.c": "int shared_q[4];\nchar buf_q[100];\nvoid _start(void) { shared_q[1] = buf_q[2]; for (;;); }\n",
    "strings.c": 'const char *names[] = {"alpha", "beta", "gamma"};\n'
    "int pick(int i) { return names[i % 3][0]; }\nvoid _start(void) { pick(1); for (;;); }\n",
    "tls.c": "_Thread_local int tcount = 5;\n_Thread_local int tzero;\nint bump(void) { return ++tcount + tzero; }\n"
    "void _start(void) { bump(); for (;;); }\n",
    "dynimp.c": '#pragma dynimport puts puts "libc.so.6"\n#pragma dynexport hostcb host_cb\nint puts(const char *);\n'
    'int hostcb(int x) { return x + 1; }\nvoid _start(void) { puts("hi"); for (;;); }\n',
}
MODULES = {
    "mod.c": "extern int host_int;\nextern int host_answer(void);\nint local_q = 7;\n"
    "#pragma dynexport mod_get mod_get\n#pragma dynexport mod_val mod_val\n"
    "int mod_val = 42;\nint mod_get(void) { return host_answer() + host_int + local_q; }\n",
}
FLAGS = {"common.c": ["-fcommon"]}

MANIFEST_SEEDS = [
    ("exports:\n  - int add(int, int);\n  - char *name;\n", ""),
    (
        "headers: [h.h]\nexports:\n  - api_init\n  - {name: api_count, sig: 0x1234}\n"
        "  - {decl: 'struct api *api_new(int);'}\nimports:\n  - int print(char *, ...);\n",
        "struct api { int n; char name[16]; struct api *next; };\n"
        "typedef unsigned long ulong;\nint api_init(void);\nulong api_count;\n",
    ),
    ("imports:\n  - |\n    void cb(int (*f)(int, char **),\n            long long v[3]);\n", ""),
    ("exports:\n  - 'enum e { A = 1 << 3, B } pick(enum e);'\n  - 'union u { int i; float f; } uval;'\n", ""),
]
HEADER_SEEDS = [
    "int f(int, char *);\nextern long g;\n",
    "typedef struct node { struct node *next; int v[4]; } Node;\nNode *walk(Node *, int (*)(Node *));\n",
    "#pragma incomplete struct Opaque\nstruct Opaque;\nstruct Opaque *make(void);\n",
    "enum { K = sizeof(int) * 2 };\nchar buf[K];\nunsigned short us; signed char sc; double d;\n",
    "int old(a, b) int a; char *b; { return a; }\nvoid va(int, ...);\nint bits; struct { int a : 3; } bf;\n",
]
PRAGMA_SOURCES = {
    "p.c": '#include "p.h"\n#pragma dynimport puts puts#GLIBC_2.2.5 "libc.so.6"\n'
    "#pragma dynexport local_f remote_f\nint local_f(void) { return 1; }\n#pragma once\n",
    "p.h": '#pragma dynimport printf printf "libc.so.6"\n#pragma pack(1)\nint puts(const char *);\n',
}


def _put(directory: str, data: bytes) -> None:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def objects(work: str) -> dict[str, list[str]]:
    """Compile the programs and modules with dyncc: {arch: [object paths]}."""
    out: dict[str, list[str]] = {}
    for arch in ARCHES:
        for name, text in {**PROGRAMS, **MODULES}.items():
            src = os.path.join(work, name)
            with open(src, "w") as f:
                f.write(text)
            obj = os.path.join(work, f"{arch}-{name[:-2]}.o")
            try:
                compile_c(arch, src, obj, FLAGS.get(name, []))
            except DynError as e:
                print(f"make_corpus: skipped {arch} {name}: {e}", file=sys.stderr)
                continue
            out.setdefault(arch, []).append(obj)
    return out


def archive(objs: list[str], path: str) -> bytes:
    subprocess.run(["ar", "rcs", path, *objs], check=True, capture_output=True)
    return _read(path)


def link(args: list[str]) -> bool:
    return dynlink_main(args) == 0


def make(root: str) -> None:
    with tempfile.TemporaryDirectory(prefix="dyncorpus-") as work:
        objs = objects(work)
        for arch, paths in objs.items():
            arch_byte = bytes([ARCHES.index(arch)])
            for p in paths:
                data = _read(p)
                _put(os.path.join(root, "elf_reader"), arch_byte + data)
                mode = b"\x01" if os.path.basename(p).endswith("-mod.o") else b"\x00"
                _put(os.path.join(root, "linker"), arch_byte + mode + data)
                if mode == b"\x00":
                    _put(os.path.join(root, "linker"), arch_byte + b"\x02" + data)  # with --map
            a = archive(paths[:2], os.path.join(work, f"{arch}.a"))
            _put(os.path.join(root, "elf_reader"), arch_byte + a)
            modpath = next((p for p in paths if p.endswith("-mod.o")), None)
            if modpath is not None:
                out = os.path.join(work, f"{arch}.dlm")
                if link(["-a", arch, "-u", "-o", out, modpath]):
                    for target in ("module", "differential"):
                        _put(os.path.join(root, target), _read(out))
        for arch in ARCHES:
            small = Module(arch, b"", b"\0" * 8, 16, 0, [("host_int", 0)], [])
            for target in ("module", "differential"):
                _put(os.path.join(root, target), encode(small, validate=False))
        for manifest, header in MANIFEST_SEEDS:
            _put(os.path.join(root, "manifest"), manifest.encode() + b"\0" + header.encode())
        for header in HEADER_SEEDS:
            _put(os.path.join(root, "header"), header.encode())
        for name, text in PRAGMA_SOURCES.items():
            with open(os.path.join(work, name), "w") as f:
                f.write(text)
        cmd = [*default_compiler(get_arch("amd64")), "-E", os.path.join(work, "p.c")]
        pre = subprocess.run(cmd, capture_output=True, check=True, cwd=work).stdout
        _put(os.path.join(root, "pragmas"), pre)
        _put(os.path.join(root, "pragmas"), b'# 1 "x.c"\n#pragma dynexport a b\n#pragma dynimport c d "l.so"\n')


def main(argv: list[str] | None = None) -> int:
    """Write the corpora under the given directory (default fuzz/corpus)."""
    args = sys.argv[1:] if argv is None else argv
    root = args[0] if args else os.path.join(ROOT, "fuzz", "corpus")
    make(root)
    for target in sorted(os.listdir(root)):
        files = os.listdir(os.path.join(root, target))
        size = sum(os.path.getsize(os.path.join(root, target, f)) for f in files)
        print(f"{target}: {len(files)} seeds, {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
