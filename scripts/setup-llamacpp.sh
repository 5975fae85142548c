#!/usr/bin/env bash
# Installs the llamacpp extra (llama-cpp-python + its OpenAI-compatible server) into .venv.
# llama-cpp-python ships no binary wheel on PyPI, so pip compiles llama.cpp (about 10-20 minutes on
# 2 cores). The wheel is built once per (version, build flags, CPU flags) and kept under the cache
# dir, so later set-ups and CI runs on the same machine install it in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
VERSION=0.3.36
PY="$VENV/bin/python"
if "$PY" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$VERSION')" 2>/dev/null \
   && "$PY" -c "import llama_cpp.server" 2>/dev/null; then
  exit 0
fi
FLAGS=""
if [ "$(uname -m)" = x86_64 ]; then
  # A native build (GGML_NATIVE=ON, the default) dies with SIGILL on VMs whose CPU reports AMX tiles
  # without enabling them: build for the instruction sets this CPU has, AMX off.
  cpu=$(grep -m1 '^flags' /proc/cpuinfo || true)
  has() { case " $cpu " in *" $1 "*) echo ON ;; *) echo OFF ;; esac; }
  FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=$(has avx) -DGGML_AVX2=$(has avx2) -DGGML_FMA=$(has fma)"
  FLAGS="$FLAGS -DGGML_F16C=$(has f16c) -DGGML_BMI2=$(has bmi2) -DGGML_AVX512=$(has avx512f)"
  FLAGS="$FLAGS -DGGML_AVX512_VBMI=$(has avx512vbmi) -DGGML_AVX512_VNNI=$(has avx512_vnni)"
  FLAGS="$FLAGS -DGGML_AVX512_BF16=$(has avx512_bf16) -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
fi
FLAGS=${CODEMM_LLAMACPP_CMAKE_ARGS:-$FLAGS}
key=$(echo "$VERSION $FLAGS $(uname -m)" | sha256sum | cut -c1-16)
CACHE=${CODEMM_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/codemm/wheels}
dir="$CACHE/llama-cpp-python-$VERSION-$key"
if ! ls "$dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $VERSION once (about 10-20 minutes); cached in $dir"
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  CMAKE_ARGS="$FLAGS" "$PY" -m pip wheel -q --no-deps --no-binary llama-cpp-python -w "$dir.tmp" \
    "llama-cpp-python==$VERSION"
  mv "$dir.tmp" "$dir"
fi
wheel=$(ls "$dir"/llama_cpp_python-*.whl | head -n 1)
"$PY" -m pip install -q "$wheel[server]"
echo "llama-cpp-python $VERSION installed from $wheel"
