"""The sandbox's guarantees, each proved by a sample that tries to break it."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import pytest

from codemm.eval.check import check_samples
from codemm.eval.sandbox import SandboxLimits, run_python, sandbox_layers


def test_a_passing_program_passes() -> None:
    result = run_python("def add(a, b):\n    return a + b\nassert add(2, 3) == 5\nprint('ok')\n")
    assert result.status == "passed" and result.stdout == "ok\n"


def test_infinite_loop_is_killed_at_the_limit() -> None:
    started = time.perf_counter()
    result = run_python("while True:\n    pass\n", SandboxLimits(wall_s=3, cpu_s=2))
    assert result.status == "timeout"
    assert time.perf_counter() - started < 6


def test_sleeping_forever_is_killed_at_the_wall_limit() -> None:
    result = run_python("import time\ntime.sleep(60)\n", SandboxLimits(wall_s=2))
    assert result.status == "timeout" and result.detail == "killed after 2s"


def test_ten_gigabyte_allocation_fails() -> None:
    result = run_python("x = bytearray(10 * 2**30)\n")
    assert result.status == "failed" and "MemoryError" in result.detail


def test_write_outside_the_work_dir_fails() -> None:
    # A folder of the user's own (not under /tmp, which the sandbox replaces with a private tmpfs).
    with tempfile.TemporaryDirectory(dir=Path.home()) as home_dir:
        target = Path(home_dir) / "escaped.txt"
        result = run_python(f"open({str(target)!r}, 'w').write('x')\n")
        assert result.status == "failed" and "outside the working directory" in result.detail
        # With the guard's open() bypassed, the OS still refuses: the sample is not the user.
        result = run_python(f"import os\nfd = os.open({str(target)!r}, os.O_WRONLY | os.O_CREAT)\n")
        if sandbox_layers()["unprivileged_user"]:
            assert result.status == "failed" and "Permission" in result.detail
        assert not target.exists()
    # What a sample writes to /tmp stays in its private tmpfs.
    marker = Path("/tmp") / f"codemm-sandbox-probe-{os.getpid()}"
    run_python(f"import os\nos.open({str(marker)!r}, os.O_WRONLY | os.O_CREAT)\n")
    if sandbox_layers()["private_tmp"]:
        assert not marker.exists()


def test_socket_connect_fails() -> None:
    result = run_python("import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=2)\n")
    assert result.status == "failed"
    assert "Network is unreachable" in result.detail or "refused" in result.detail or "Errno" in result.detail


def test_fork_bomb_is_contained_and_the_harness_survives() -> None:
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except Exception:\n        pass\n"
    raw = "import posix\nwhile True:\n    try:\n        posix.fork()\n    except OSError:\n        pass\n"
    for program in (bomb, raw):  # the guard stops the first; only the OS stops the second
        result = run_python(program, SandboxLimits(wall_s=3, cpu_s=3, processes=32))
        assert result.status in {"failed", "timeout", "error"}
    assert run_python("print(1)").status == "passed"  # the harness still works
    assert os.getpid() > 0


@pytest.mark.parametrize(
    "cheat",
    [
        "import sys\nsys.exit(0)\n",
        "import os\nos._exit(0)\n",
        "print('All tests passed')\nraise SystemExit(0)\n",
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
    ],
)
def test_early_exit_fake_success_and_parent_kill_fail(cheat: str) -> None:
    result = run_python(cheat + "assert False\n")
    assert not result.passed


def test_eval_check_writes_one_row_per_sample_and_pass_at_k(tmp_path: Path) -> None:
    problems = tmp_path / "problems.jsonl"
    problems.write_text("\n".join(json.dumps(p) for p in [
        {"task_id": "t/0", "prompt": "def inc(x):\n", "canonical_solution": "    return x + 1\n",
         "test": "def check(f):\n    assert f(1) == 2\n", "entry_point": "inc"},
        {"task_id": "t/1", "prompt": "def dbl(x):\n", "canonical_solution": "    return 2 * x\n",
         "test": "def check(f):\n    assert f(2) == 4\n", "entry_point": "dbl"},
    ]))  # fmt: skip
    samples = tmp_path / "samples.jsonl"
    samples.write_text("\n".join(json.dumps(s) for s in [
        {"task_id": "t/0", "completion": "    return x + 1\n"},
        {"task_id": "t/0", "completion": "    return x\n"},
        {"task_id": "t/1", "completion": "    while True:\n        pass\n"},
        {"task_id": "t/1", "completion": "    import sys\n    sys.exit(0)\n"},
    ]))  # fmt: skip
    summary = check_samples(samples, problems, tmp_path / "out", jobs=2, limits=SandboxLimits(wall_s=3, cpu_s=2))
    rows = [json.loads(line) for line in (tmp_path / "out" / "samples_results.jsonl").read_text().splitlines()]
    assert [(r["task_id"], r["completion_id"], r["passed"], r["status"]) for r in rows] == [
        ("t/0", 0, True, "passed"), ("t/0", 1, False, "failed"), ("t/1", 0, False, "timeout"), ("t/1", 1, False, "failed"),
    ]  # fmt: skip
    assert summary["pass@1"] == pytest.approx(0.25) and "pass@10" not in summary
