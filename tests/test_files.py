"""Atomic writes: a failure leaves the previous file whole and no temporary file behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from codemm.files import write_text_atomic


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "run.json"
    write_text_atomic(target, '{"config": 1}')
    assert target.read_text() == '{"config": 1}'

    def full_disk(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError):
        write_text_atomic(target, '{"config": 2}')
    assert target.read_text() == '{"config": 1}' and os.listdir(tmp_path) == ["run.json"]
