from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from codemm.errors import BadInputError
from codemm.vision.images import describe_image, load_image


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that declares width x height but holds no pixel data: enough to test the size check."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def test_formats_exif_and_first_gif_frame(tmp_path: Path) -> None:
    for fmt in ("PNG", "JPEG", "WEBP", "BMP"):
        path = tmp_path / f"img.{fmt.lower()}"
        Image.new("RGBA" if fmt == "PNG" else "RGB", (30, 20), (10, 20, 30)).save(path, fmt)
        loaded = load_image(path)
        assert (loaded.width, loaded.height, loaded.image.mode) == (30, 20, "RGB")
    gif = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(gif, save_all=True, append_images=frames[1:])
    assert load_image(gif).image.getpixel((0, 0))[0] > 200  # the first (red) frame
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise when displayed
    Image.new("RGB", (40, 10)).save(rotated, exif=exif)
    assert (load_image(rotated).width, load_image(rotated).height) == (10, 40)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: png_header_only(p / "huge.png", 30000, 30000), "30000x30000 pixels; the limit is 40 megapixels"),
        (
            lambda p: (p / "fake.png").write_text("definitely not an image") and p / "fake.png",
            "not an image Pillow can read",
        ),
        (lambda p: p / "missing.png", "does not exist"),
    ],
)
def test_bad_images_are_one_line_errors(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadInputError, match=message) as info:
        load_image(make(tmp_path))
    assert "\n" not in str(info.value)


def test_truncated_jpeg(tmp_path: Path) -> None:
    whole = tmp_path / "whole.jpg"
    Image.effect_noise((200, 200), 50).convert("RGB").save(whole, quality=95)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(BadInputError, match="truncated or corrupt"):
        load_image(cut)


def test_diagram_sources_are_read_as_text(tmp_path: Path) -> None:
    mmd = tmp_path / "flow.mmd"
    mmd.write_text("graph TD\n  CLI --> TaskStore\n  TaskStore --> tasks.json\n")
    assert "CLI --> TaskStore" in describe_image(mmd).text


@pytest.mark.parametrize("case", ["huge", "truncated", "textfile"])
def test_cli_rejects_bad_images_with_one_line(tmp_path: Path, case: str) -> None:
    if case == "huge":
        path = png_header_only(tmp_path / "huge.png", 30000, 30000)
    elif case == "truncated":
        whole = tmp_path / "w.jpg"
        Image.effect_noise((200, 200), 50).convert("RGB").save(whole)
        path = tmp_path / "t.jpg"
        path.write_bytes(whole.read_bytes()[:2000])
    else:
        path = tmp_path / "notes.png"
        path.write_text("hello")
    proc = subprocess.run([sys.executable, "-m", "codemm.cli", "ask", "what is shown?", "--no-repo", "--image", str(path)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("codemm: error: ")
    assert "Traceback" not in proc.stderr
    assert json.dumps(str(path))  # (the path is named in the message)
    assert path.name in proc.stderr
