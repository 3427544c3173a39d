"""dynlink reads a plain command line without argparse (``_parse_simple``), and reads it as
argparse does: every command line it accepts gives argparse's values, and every other one
goes to argparse, which reports what is wrong."""

from __future__ import annotations

import random
import sys
from types import SimpleNamespace

import pytest

from toolchain import arch
from toolchain.errors import UsageError
from toolchain.linker import main
from toolchain.linker.libsearch import split_inputs

#: (argument, values it may take) for the random command lines; None: a flag.
FORMS = [
    ("-a", ["amd64", "386", "arm", "-x"]),
    ("--arch", ["amd64"]),
    ("-o", ["out", "-", "a b", "x=y"]),
    ("--output", ["prog"]),
    ("-e", ["start", "-e"]),
    ("--entry", ["main"]),
    ("-L", ["lib", "/usr/lib", "-Lx"]),
    ("--map", ["m.txt"]),
    ("-I", ["/lib/ld.so"]),
    ("--interp", ["/lib/ld.so"]),
    ("--dynamic-linker", ["/lib/ld.so"]),
    ("--hash-style", ["gnu", "sysv", "both", "bad"]),
    ("-S", None),
    ("--strip-debug", None),
    ("-u", None),
    ("--module", None),
    ("-m", ["m.yaml"]),
    ("--manifest", ["m.yaml"]),
    ("--depfile", ["d"]),
    ("-MF", ["d"]),
    ("--host", ["h.yaml"]),
    ("-nostartfiles", None),
    ("-E", None),
    ("--export-dynamic", None),
    ("--dynamic-list", ["list"]),
    ("-z", ["now", "relro", "lazy"]),
    ("-rpath", ["/opt"]),
    ("-R", ["/opt"]),
    ("--build-id", None),
    ("--out", ["abbrev"]),
    ("-SE", None),
    ("--bogus", None),
]


def _spellings(rng: random.Random, flag: str, values: list[str] | None) -> list[str]:
    """One way of writing ``flag`` (with a value when it takes one): separate, attached, or ``=``."""
    if values is None:
        return [flag] if rng.random() < 0.9 else [flag + "=x"]
    value = rng.choice(values)
    how = rng.random()
    if how < 0.6:
        return [flag, value]
    if how < 0.8:
        return [f"{flag}={value}"]
    return [flag + value]


def _argparse_values(rest: list[str]) -> dict[str, object] | None:
    try:
        return vars(main.build_parser().parse_args(rest))
    except UsageError:
        return None


def test_every_command_line_it_reads_is_read_as_argparse_reads_it():
    rng = random.Random(1)
    taken = 0
    for _ in range(3000):
        argv = ["-a", "amd64", "-o", "out"] if rng.random() < 0.7 else []
        for _ in range(rng.randrange(6)):
            argv += _spellings(rng, *rng.choice(FORMS))
        argv.append("main.o")
        rest, _inputs = split_inputs(argv, main._TAKES_VALUE.__contains__)
        simple = main._parse_simple(rest)
        if simple is None:
            continue
        taken += 1
        assert vars(simple) == _argparse_values(rest), argv
    assert taken > 500  # the plain ones are read without argparse


def test_the_table_is_the_parser():
    """``_TAKES_VALUE`` and the flags are exactly argparse's: what the parser was built from."""
    p = main.build_parser()
    takes = {
        flag
        for action in p._actions
        if action.option_strings and action.nargs is None and action.const is None
        for flag in action.option_strings
    }
    assert takes == main._TAKES_VALUE
    flags = {flag for action in p._actions for flag in action.option_strings}
    assert flags - set(main._BY_FLAG) == {"-h", "--help", "--version", "-v"}  # -v: GNU ld's --version


@pytest.mark.parametrize(
    "argv",
    [
        ["-a", "amd64", "-o", "out", "x.o", "-L/usr/lib", "-Lx", "-lc", "-z", "now", "--build-id", "-E"],
        ["--arch=386", "--output=prog", "-S", "--hash-style", "gnu", "-rpath", "/opt", "--build-id=md5", "x.o"],
        ["-a", "arm", "-o", "m.dlm", "-u", "-m", "m.yaml", "-MF", "m.d", "x.o"],
        ["x.o", "-lc"],
        ["-Map=m.map", "--gc-sections", "-O1", "--no-undefined", "-s", "-z", "noexecstack", "x.o"],
    ],
)
def test_plain_command_lines_are_read_without_argparse(argv):
    rest, _inputs = split_inputs(argv, main._TAKES_VALUE.__contains__)
    assert main._parse_simple(rest) is not None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-a", "amd64", "-o", "out", "--hash-style", "bad"], "invalid choice: 'bad'"),
        (["-a", "amd64", "-o", "out", "--bogus"], "unrecognized arguments: --bogus"),
        (["-a", "amd64", "-o", "out", "-z", "bad"], "-z bad: unknown keyword"),
        (["-a", "amd64", "-o", "out", "-m", "m.yaml"], "-m needs -u"),
    ],
)
def test_bad_command_lines_are_reported_as_before(argv, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")) as e:
        main.parse_args(argv)
    assert str(e.value).endswith("(see --help)")


@pytest.mark.parametrize(
    ("machine", "maxsize", "want"),
    [
        ("x86_64", 2**63 - 1, "amd64"),
        ("x86_64", 2**31 - 1, "386"),  # a 32-bit Python on a 64-bit kernel
        ("i686", 2**31 - 1, "386"),
        ("armv7l", 2**31 - 1, "arm"),
        ("armv8l", 2**31 - 1, "arm"),
        ("aarch64", 2**63 - 1, None),
        ("arm64", 2**63 - 1, None),
        ("riscv64", 2**63 - 1, None),
    ],
)
def test_this_machines_arch(monkeypatch, machine, maxsize, want):
    monkeypatch.setattr(arch.os, "uname", lambda: SimpleNamespace(machine=machine))
    monkeypatch.setattr(sys, "maxsize", maxsize)
    assert arch.host_arch_name() == want


def test_without_a_and_o_the_link_is_for_this_machine_into_a_out(monkeypatch):
    """As with ld: no -a targets the machine dynlink runs on, no -o writes a.out."""
    monkeypatch.setattr(arch.os, "uname", lambda: SimpleNamespace(machine="armv7l"))
    opts = main.parse_args(["x.o", "-lc"])
    assert opts.arch.name == "arm" and opts.output == "a.out"
    monkeypatch.setattr(arch.os, "uname", lambda: SimpleNamespace(machine="aarch64"))
    with pytest.raises(UsageError, match=r"-a ARCH is required: this machine \(aarch64\) is none of 386, amd64, arm"):
        main.parse_args(["x.o"])
    assert main.parse_args(["-a", "386", "x.o"]).arch.name == "386"


@pytest.mark.parametrize("fast", [True, False])
def test_gnu_ld_spellings(monkeypatch, fast):
    """-Map, -s, -z (no)execstack and the options that ask for what dynlink always does, read
    alike by the plain-line reader and by argparse."""
    if not fast:
        monkeypatch.setattr(main, "_parse_simple", lambda rest: None)
    opts = main.parse_args(["-a", "amd64", "-Map", "m.map", "-z", "execstack", "x.o"])
    assert opts.map_file == "m.map" and opts.exec_stack is True and not opts.strip_all
    opts = main.parse_args(["-a", "amd64", "-Map=n.map", "-s", "-z", "noexecstack", "-z", "defs", "x.o"])
    assert opts.map_file == "n.map" and opts.exec_stack is False
    assert opts.strip_all and opts.strip_debug
    opts = main.parse_args(["-a", "amd64", *main.GNU_LD_DEFAULTS, "x.o"])
    assert opts.exec_stack is None and opts.inputs == ["x.o"] and not opts.strip_all
