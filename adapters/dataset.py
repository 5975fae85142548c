"""Training sets from a team's own repository, built through the repository index.

Four kinds of example for a causal LM:
- ``fim``: fill-in-the-middle on a function body. The default model has no FIM tokens, so the
  documented format is ``<PRE> {prefix} <SUF>{suffix} <MID>{middle}`` (Code Llama's layout, as text).
- ``body``: signature and docstring, then the body.
- ``file``: file-level chunks, prefixed with ``# path: <path>``.
- ``chat``: "Complete this function from <path>" with its signature and docstring as the user's turn,
  the whole function as the answer, in the model's chat template.

Split by file (a file's examples are all train or all held-out: no leakage), deduplicated by text,
files with secrets (detect-secrets) or matching ``exclude`` globs left out entirely.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pathspec

from codemm.errors import BadInputError, error_from_oserror
from codemm.repo.index import RepoIndex

FIM_FORMAT = "<PRE> {prefix} <SUF>{suffix} <MID>{middle}"
FUNCTION_KINDS = {"function", "method"}
MAX_EXAMPLE_CHARS = 4000


@dataclass
class Example:
    text: str
    kind: str
    path: str
    prompt: str = ""
    """For ``chat`` examples: the user turn; ``text`` is then the assistant's reply, and training
    renders both with the model's chat template, so the adapter also learns to use the team's APIs
    when asked in `codemm ask` and `codemm chat`, not only when continuing raw code."""

    @property
    def sha(self) -> str:
        # The answer alone: the same function under two paths is one example, not two.
        return hashlib.sha256(self.text.encode()).hexdigest()

    def training_text(self, tokenizer: Any) -> str:
        if not self.prompt:
            return self.text
        messages = [{"role": "user", "content": self.prompt}, {"role": "assistant", "content": self.text}]
        return str(tokenizer.apply_chat_template(messages, tokenize=False))


@dataclass
class DatasetStats:
    files: int = 0
    train_files: int = 0
    heldout_files: int = 0
    train: int = 0
    heldout: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    secret_files: list[str] = field(default_factory=list)
    excluded_files: int = 0
    sha256: str = ""
    """Hash of the train and held-out JSONL contents: identifies the dataset in adapter cards."""


@dataclass
class Dataset:
    train: list[Example]
    heldout: list[Example]
    stats: DatasetStats


def _secret_paths(root: Path, paths: list[str]) -> set[str]:
    from detect_secrets.core.secrets_collection import SecretsCollection
    from detect_secrets.settings import default_settings

    found: set[str] = set()
    with default_settings():
        collection = SecretsCollection(root=str(root))
        for path in paths:
            collection.scan_file(path)
        for filename, _ in collection:
            found.add(Path(filename).as_posix())
    return found


def heldout_file(path: str, fraction: float, seed: int) -> bool:
    """A stable, per-file decision: the same file is always on the same side for a seed."""
    digest = hashlib.sha256(f"{seed}:{path}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def build_dataset(
    index: RepoIndex, heldout_fraction: float = 0.15, exclude: list[str] | None = None, seed: int = 0
) -> Dataset:
    spec = pathspec.GitIgnoreSpec.from_lines(exclude or [])
    lines_by_path = index.file_lines()
    paths = sorted(p for p, n in lines_by_path.items() if n > 0)
    excluded = {p for p in paths if spec.match_file(p)}
    kept = [p for p in paths if p not in excluded]
    secrets = _secret_paths(index.root, kept)
    kept = [p for p in kept if p not in secrets]
    if not kept:
        raise BadInputError(
            f"no files left to train on in {index.root} (excluded {len(excluded)}, with secrets {len(secrets)})"
        )

    heldout_paths = {p for p in kept if heldout_file(p, heldout_fraction, seed)}
    if not heldout_paths and len(kept) > 1:  # always keep something to measure on
        heldout_paths = {sorted(kept, key=lambda p: hashlib.sha256(p.encode()).hexdigest())[0]}
    symbols_by_path: dict[str, list[Any]] = {}
    for sym in index.symbols():
        symbols_by_path.setdefault(sym.path, []).append(sym)

    seen: set[str] = set()
    stats = DatasetStats(files=len(paths), excluded_files=len(excluded), secret_files=sorted(secrets))
    train: list[Example] = []
    heldout: list[Example] = []
    rng = random.Random(seed)
    for path in kept:
        try:
            text = (index.root / path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        examples = _file_examples(path, text, symbols_by_path.get(path, []), rng)
        target = heldout if path in heldout_paths else train
        for example in examples:
            if example.sha in seen:
                stats.duplicates += 1
                continue
            seen.add(example.sha)
            target.append(example)
            stats.by_kind[example.kind] = stats.by_kind.get(example.kind, 0) + 1
    stats.train, stats.heldout = len(train), len(heldout)
    stats.heldout_files = len(heldout_paths)
    stats.train_files = len(kept) - len(heldout_paths)
    stats.sha256 = hashlib.sha256(
        "\n".join(e.sha for e in train).encode() + b"|" + "\n".join(e.sha for e in heldout).encode()
    ).hexdigest()
    return Dataset(train, heldout, stats)


def _file_examples(path: str, text: str, symbols: list[Any], rng: random.Random) -> list[Example]:
    lines = text.splitlines()
    out: list[Example] = []
    for sym in symbols:
        if sym.kind not in FUNCTION_KINDS or sym.end - sym.start < 3:
            continue
        body_start = _body_start(lines, sym)
        if body_start is None or body_start > sym.end:
            continue
        head = "\n".join(lines[sym.start - 1 : body_start - 1])
        body = "\n".join(lines[body_start - 1 : sym.end])
        if len(head) + len(body) > MAX_EXAMPLE_CHARS:
            continue
        out.append(Example(f"{head}\n{body}\n", "body", path))
        language = "python" if path.endswith(".py") else ""
        out.append(
            Example(
                f"```{language}\n{head}\n{body}\n```",
                "chat",
                path,
                prompt=f"Complete this function from {path}:\n```{language}\n{head}\n```",
            )
        )
        # FIM: hide a random span of the body; the file around it is the prefix and suffix.
        n = sym.end - body_start + 1
        lo = body_start + rng.randrange(n)
        hi = min(sym.end, lo + rng.randrange(1, max(2, n // 2 + 1)))
        prefix = "\n".join(lines[max(0, lo - 30) : lo - 1])
        middle = "\n".join(lines[lo - 1 : hi])
        suffix = "\n".join(lines[hi : hi + 20])
        out.append(Example(FIM_FORMAT.format(prefix=prefix, suffix=suffix, middle=middle) + "\n", "fim", path))
    for lo in range(0, len(lines), 60):
        chunk = "\n".join(lines[lo : lo + 60])
        if chunk.strip():
            out.append(Example(f"# path: {path}\n{chunk}\n", "file", path))
    return out


def _body_start(lines: list[str], sym: Any) -> int | None:
    """First line of the body: after the signature (and a Python docstring)."""
    i = sym.start
    while i <= sym.end and not lines[i - 1].rstrip().endswith((":", "{")):
        i += 1
    i += 1
    if i <= sym.end and lines[i - 1].strip().startswith(('"""', "'''")):
        quote = lines[i - 1].strip()[:3]
        if lines[i - 1].strip().count(quote) == 1:
            i += 1
            while i <= sym.end and quote not in lines[i - 1]:
                i += 1
        i += 1
    return i if i <= sym.end else None


def write_dataset(dataset: Dataset, out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, examples in (("train", dataset.train), ("heldout", dataset.heldout)):
            with (out / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
                for ex in examples:
                    handle.write(json.dumps(asdict(ex)) + "\n")
        (out / "stats.json").write_text(json.dumps(asdict(dataset.stats), indent=2))
    except OSError as exc:
        raise error_from_oserror(exc, f"writing the dataset to {out}") from None


def read_examples(path: Path) -> list[Example]:
    with path.open(encoding="utf-8") as handle:
        return [Example(**json.loads(line)) for line in handle if line.strip()]
