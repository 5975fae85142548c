from __future__ import annotations

import pytest

from codemm.repo.chunks import MAX_LINES, chunk_file
from codemm.repo.symbols import parse_source

SAMPLES = {
    "python": ("class Cache:\n    \"\"\"Keeps things.\"\"\"\n    def get(self, key):\n        return load(key)\n\n"
               "def load(key):\n    return key\n", {"Cache": "class", "get": "method", "load": "function"}),
    "javascript": ("class Cart {\n  total() { return sum(this.items); }\n}\nfunction sum(xs) { return 0; }\n"
                   "const twice = (x) => x * 2;\n", {"Cart": "class", "total": "method", "sum": "function", "twice": "function"}),
    "typescript": ("interface Shape { area(): number }\nexport class Circle implements Shape {\n"
                   "  area(): number { return 3; }\n}\ntype Id = string;\n", {"Shape": "interface", "Circle": "class", "area": "method", "Id": "type"}),
    "tsx": ("export function Button(props: Props) { return <b>{props.label}</b>; }\n", {"Button": "function"}),
    "go": ("package x\n// Add sums.\nfunc Add(a, b int) int { return a + b }\ntype Server struct{}\n"
           "func (s *Server) Start() error { return nil }\n", {"Add": "function", "Server": "struct", "Start": "method"}),
    "rust": ("pub struct Point { x: i32 }\nimpl Point {\n    pub fn norm(&self) -> i32 { self.x }\n}\n"
             "trait Shape {}\nfn main() {}\n", {"Point": "struct", "norm": "method", "Shape": "interface", "main": "function"}),
    "java": ("public class Greeter {\n  public String greet(String n) { return \"hi \" + n; }\n}\n",
             {"Greeter": "class", "greet": "method"}),
    "c": ("struct point { int x; };\nint add(int a, int b) { return a + b; }\n#define MAX 10\n",
          {"point": "struct", "add": "function", "MAX": "constant"}),
    "cpp": ("namespace geo {\nclass Box {\n public:\n  int volume() const;\n};\n}\n"
            "int geo::Box::volume() const { return 1; }\n", {"geo": "module", "Box": "class", "volume": "method"}),
}  # fmt: skip


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_definitions_per_language(language: str) -> None:
    source, expected = SAMPLES[language]
    parsed = parse_source(f"file.{language}", source, language)
    found = {s.name: s.kind for s in parsed.symbols}
    for name, kind in expected.items():
        assert found.get(name) == kind, (name, found)
    assert not parsed.has_errors


def test_python_details_signature_docstring_parent_and_references() -> None:
    source, _ = SAMPLES["python"]
    parsed = parse_source("cache.py", source, "python")
    get = next(s for s in parsed.symbols if s.name == "get")
    assert (get.start, get.end, get.parent, get.signature) == (3, 4, "Cache", "def get(self, key)")
    cache = next(s for s in parsed.symbols if s.name == "Cache")
    assert cache.docstring == "Keeps things."
    assert ("load", 4) in {(r.name, r.line) for r in parsed.references}


def test_syntax_error_still_yields_the_other_symbols() -> None:
    source = "def good_one():\n    return 1\n\ndef broken(:\n    pass\n\ndef good_two():\n    return 2\n"
    parsed = parse_source("bad.py", source, "python")
    names = {s.name for s in parsed.symbols}
    assert parsed.has_errors
    assert {"good_one", "good_two"} <= names


def test_chunks_follow_definitions_and_stay_bounded() -> None:
    methods = "\n".join(f"    def m{i}(self):\n        return {i}\n" for i in range(60))
    source = f"import os\n\n\nclass Big:\n{methods}\n\ndef tail():\n    return os.sep\n"
    parsed = parse_source("big.py", source, "python")
    every = chunk_file(parsed, source)
    chunks = [c for c in every if c.kind != "card"]  # cards summarise the whole file (test_retrieve_ranking.py)
    assert every[len(chunks) :] and all(c.kind == "card" for c in every[len(chunks) :])
    kinds = [c.kind for c in chunks]
    assert kinds[0] == "module" and "skeleton" in kinds and kinds[-1] == "function"
    method_chunk = next(c for c in chunks if c.symbol == "m7")
    assert method_chunk.text.startswith("class Big:\n")  # methods keep their class header
    assert source.splitlines()[method_chunk.start - 1].strip() == "def m7(self):"
    for c in chunks:
        assert c.end - c.start + 1 <= MAX_LINES or c.kind == "skeleton"
    lines = set()
    for c in chunks:
        if c.kind != "skeleton":
            lines |= set(range(c.start, c.end + 1))
    code_lines = {i for i, line in enumerate(source.splitlines(), 1) if line.strip()}
    assert code_lines - {4} <= lines  # every line but the class header (shown in the skeleton) is in a chunk


def test_markdown_splits_by_heading() -> None:
    text = "# Title\nintro\n## Install\npip install x\n## Use\nrun it\n"
    parsed = parse_source("README.md", text, "markdown")
    chunks = chunk_file(parsed, text)
    assert [(c.symbol, c.start, c.end) for c in chunks] == [("Title", 1, 2), ("Install", 3, 4), ("Use", 5, 6)]
