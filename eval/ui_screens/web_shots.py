"""Screenshots of a real web application's pages: datasette (Jinja templates over a SQLite file),
served from the apps' environment and rendered by Debian's headless ``chromium``.

``python web_shots.py CASES.jsonl OUT_DIR DATASETTE_BIN``: every case of kind ``web`` names a
``url`` path; the page is saved as ``OUT_DIR/<id>.png``. Standard library only.
"""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

WINDOW = "1280,800"


def write_database(path: Path) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, city TEXT, total REAL)")
    cities = ["Lyon", "Porto", "Leeds", "Graz"]
    db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)",
                   [(i, f"customer {i}", cities[i % 4], i * 1.5) for i in range(1, 41)])  # fmt: skip
    db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 30")
    db.commit()
    db.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    cases_file, out_dir, datasette = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    out_dir.mkdir(parents=True, exist_ok=True)
    database = out_dir / "webdata" / "shop.db"
    write_database(database)
    port = _free_port()
    command = [datasette, "serve", str(database), "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    chromium = shutil.which("chromium") or "chromium"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/versions.json", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        for line in cases_file.read_text().splitlines():
            case = json.loads(line)
            png = out_dir / f"{case['id']}.png"
            if case.get("kind") != "web" or png.exists():
                continue
            subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            f"--window-size={WINDOW}", f"--screenshot={png}", f"http://127.0.0.1:{port}{case['url']}"],
                           check=False, capture_output=True, timeout=120)  # fmt: skip
            print("ok" if png.exists() else "FAILED", case["id"])
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
