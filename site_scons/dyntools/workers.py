"""Persistent workers: SCons runs dyncc, dynlink and dynexport steps in long-lived processes.

Every step of a build used to start a Python process and import the toolchain (about a
tenth of a second each, the bulk of a small step).  With workers, the tool's ``SPAWN``
hands a command whose first word is one of the package's commands to an idle worker
process (started on first use, one more whenever all are busy, so ``scons -jN`` keeps N
running), which runs the tool's ``main`` in-process in the step's directory and
environment and sends back its exit status and output.  The command line SCons prints
and signs is unchanged, and the tool's code is the same, so outputs are the same bytes
as when each command runs on its own.  A worker that dies mid-step is replaced and the
step retried once; any other command goes to SCons' own spawn.  ``DYNTOOLS_WORKERS=0``
in the environment SCons runs in turns workers off.

The protocol is one JSON line per request and per reply on the worker's stdin and a
private copy of its stdout; the worker's own file descriptor 1 is pointed at its stderr,
so nothing a step prints can break a reply.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import shlex
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from . import locate

#: The environment variable that turns workers off when it is "0".
SWITCH = "DYNTOOLS_WORKERS"

#: Commands run by workers (the others, e.g. dyninfo, are not build steps).
WORKER_COMMANDS = ("dyncc", "dynlink", "dynexport")


def enabled() -> bool:
    """Workers are on unless ``DYNTOOLS_WORKERS=0``."""
    return os.environ.get(SWITCH, "1").strip() not in ("0", "no", "off", "false")


class WorkerDied(Exception):
    """The worker process ended (or broke the protocol) during a step."""


class Worker:
    """One worker process and its pipes."""

    def __init__(self) -> None:
        site = os.path.dirname(locate.PACKAGE_DIR)
        code = f"import sys; sys.path.insert(0, {site!r}); from dyntools.workers import serve; serve()"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # the build's stderr
            close_fds=True,
        )

    def run(self, argv: list[str], cwd: str, env: Mapping[str, str]) -> dict[str, Any]:
        """Send one step; its reply (``status``, ``stdout``, ``stderr``), or WorkerDied."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        request = json.dumps({"argv": argv, "cwd": cwd, "env": dict(env)}) + "\n"
        try:
            self.proc.stdin.write(request.encode())
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (OSError, ValueError) as e:
            raise WorkerDied(str(e)) from None
        if not line:
            raise WorkerDied(f"exit status {self.proc.wait()}")
        try:
            reply: dict[str, Any] = json.loads(line)
        except ValueError:
            raise WorkerDied("unreadable reply") from None
        return reply

    def stop(self) -> None:
        """Close its input (it exits) and reap it."""
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


class Pool:
    """Idle workers, shared by SCons' job threads."""

    def __init__(self) -> None:
        self._idle: list[Worker] = []
        self._all: list[Worker] = []
        self._lock = threading.Lock()
        self.started = 0

    def _take(self) -> Worker:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            worker = Worker()
            self._all.append(worker)
            self.started += 1
            return worker

    def _give_back(self, worker: Worker) -> None:
        with self._lock:
            self._idle.append(worker)

    def _discard(self, worker: Worker) -> None:
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        worker.stop()

    def run(self, argv: list[str], cwd: str, env: Mapping[str, str]) -> dict[str, Any]:
        """Run one step on a worker; a worker that dies is replaced and the step retried once."""
        for attempt in (1, 2):
            worker = self._take()
            try:
                reply = worker.run(argv, cwd, env)
            except WorkerDied as e:
                self._discard(worker)
                if attempt == 2:
                    message = f"dyntools: {argv[0]}: the worker died twice running this step ({e})\n"
                    return {"status": 1, "stdout": "", "stderr": message}
                continue
            self._give_back(worker)
            return reply
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Stop every worker (at exit)."""
        with self._lock:
            workers, self._all, self._idle = self._all, [], []
        for worker in workers:
            worker.stop()


_POOL: Pool | None = None
_POOL_LOCK = threading.Lock()


def pool() -> Pool:
    """The process-wide pool (stopped at exit)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = Pool()
            atexit.register(_POOL.stop)
        return _POOL


def spawn(fallback: Callable[..., int], sh, escape, cmd, args, env) -> int:
    """Run one SCons step: a package command on a worker, anything else with ``fallback``."""
    words = shlex.split(" ".join(args))
    if not words or words[0] not in WORKER_COMMANDS:
        return fallback(sh, escape, cmd, args, env)
    reply = pool().run(words, os.getcwd(), {k: str(v) for k, v in env.items()})
    if reply.get("stdout"):
        sys.stdout.write(reply["stdout"])
        sys.stdout.flush()
    if reply.get("stderr"):
        sys.stderr.write(reply["stderr"])
        sys.stderr.flush()
    return int(reply.get("status", 1))


def make_spawn(fallback: Callable[..., int]) -> Callable[..., int]:
    """An SCons ``SPAWN`` that runs the package's commands on workers and the rest with ``fallback``."""

    def run(sh, escape, cmd, args, env) -> int:
        return spawn(fallback, sh, escape, cmd, args, env)

    return run


# ----------------------------------------------------------------------------- the worker side
def _entry(command: str) -> Callable[[list[str]], int]:
    import importlib  # noqa: PLC0415

    module, function = locate.SCRIPTS[command]
    main: Callable[[list[str]], int] = getattr(importlib.import_module(f"dyntools.toolchain.{module}"), function)
    return main


def run_step(argv: list[str], cwd: str, env: Mapping[str, str]) -> dict[str, Any]:
    """Run one command in this process as its console script would, capturing its output."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_out, saved_err = sys.stdout, sys.stderr
    out, err = io.BytesIO(), io.BytesIO()
    out_text = io.TextIOWrapper(out, encoding="utf-8", errors="surrogateescape", write_through=True)
    err_text = io.TextIOWrapper(err, encoding="utf-8", errors="surrogateescape", write_through=True)
    sys.stdout, sys.stderr = out_text, err_text
    try:
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        status = _entry(argv[0])(argv[1:])
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else 1
    except Exception:  # noqa: BLE001 - reported like a crashed command, with its traceback
        traceback.print_exc()
        status = 1
    finally:
        out_text.flush()
        err_text.flush()
        sys.stdout, sys.stderr = saved_out, saved_err
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
    reply = {
        "status": status,
        "stdout": out.getvalue().decode("utf-8", "replace"),
        "stderr": err.getvalue().decode("utf-8", "replace"),
    }
    out_text.detach()  # leaves the buffers open; they go with this frame
    err_text.detach()
    return reply


def serve() -> None:
    """The worker's loop: one JSON request per line on stdin, one reply per line."""
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # stray writes to fd 1 (a child process) go to stderr, not into the replies
    sys.stdout = sys.stderr
    for line in sys.stdin:
        request = json.loads(line)
        reply = run_step(request["argv"], request["cwd"], request["env"])
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
