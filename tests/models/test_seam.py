"""The ask session over the model seam with a scripted model: grounded facts, loop guard, the patch
check, image-mode policy, adapters, and the errors of a backend that is not installed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from codemm.config import Settings
from codemm.errors import BadInputError, CodemmError
from codemm.models.factory import open_model
from codemm.models.seam import Capabilities
from codemm.models.stream import GenerationSettings
from codemm.patch import EDIT_START_TOKENS, PatchError, require_edit_start
from codemm.repo.index import RepoIndex
from codemm.session import AskSession
from tests.models.fake_model import FakeModel

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-repo"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> RepoIndex:
    opened = RepoIndex(SAMPLE, tmp_path_factory.mktemp("index") / "index.sqlite")
    opened.refresh(embed=False)
    return opened


def session_with(model: FakeModel, index: RepoIndex | None = None) -> AskSession:
    return AskSession(Settings(max_new_tokens=64), model=model, index=index)


def test_answer_starts_with_the_definition_from_the_index(index: RepoIndex) -> None:
    model = FakeModel(pieces=["It ", "returns ", "a ", "list ", "of ", "tuples."])  # a weak model's claim
    session = session_with(model, index)
    prepared, stream = session.ask("Where is parse_due_date defined and what does it return?")
    result = session.finish(stream.text(), stream, prepared)
    first = result.answer.splitlines()[:2]
    assert first[0] == "From the index:"
    assert first[1].startswith("- `def parse_due_date(text: str, today: date) -> date` at tasktracker/dates.py:10-28")
    assert result.answer.endswith("It returns a list of tuples.")  # the model's prose follows, unchanged
    facts = result.to_json()["facts"]
    assert facts[0]["name"] == "parse_due_date" and facts[0]["signature"].endswith("-> date")
    assert facts[0]["doc"].startswith("Parses 'today'")
    # the model was shown the same definition, so its prose can agree
    assert "def parse_due_date(text: str, today: date) -> date" in model.prompts[0][-1]["content"]
    index_citations = [c for c in result.citations if c.source == "index"]
    assert index_citations[0].label == "tasktracker/dates.py:10-28" and index_citations[0].valid


def test_no_facts_for_a_question_that_names_nothing_in_the_repo(index: RepoIndex) -> None:
    session = session_with(FakeModel(), index)
    prepared, stream = session.ask("What is the capital of France?")
    assert prepared.facts == []
    assert not session.finish(stream.text(), stream, prepared).answer.startswith("From the index")


def test_a_looping_answer_is_stopped_and_kept_once(index: RepoIndex) -> None:
    sentence = "The function parse_due_date returns a list. "
    model = FakeModel(pieces=["Answer: "] + [sentence[i : i + 5] for i in range(0, len(sentence), 5)] * 40)
    session = session_with(model, index)
    session.settings.max_new_tokens = 4000
    prepared, stream = session.ask("What does parse_due_date return?")
    result = session.finish(stream.text(), stream, prepared)
    assert stream.stats.stop_reason == "repetition"
    assert model.produced < 60  # stopped within the third copy, not at the token cap (360 pieces)
    prose = result.answer.split("\n\n")[-1]
    assert prose.count("returns a list") == 1 and prose.startswith("Answer: The function")


def test_loop_guard_can_be_turned_off() -> None:
    model = FakeModel(pieces=["again and again, "] * 20)
    stream = model.stream(
        [{"role": "user", "content": "x"}], GenerationSettings(max_new_tokens=20, stop_on_repeat=False)
    )
    assert stream.text().count("again and again") == 20 and stream.stats.stop_reason == "length"


def test_patch_without_an_edit_block_stops_early(index: RepoIndex) -> None:
    model = FakeModel(pieces=["Sure, "] + ["let me think about word number " + str(i) + ". " for i in range(500)])
    session = session_with(model, index)
    session.settings.max_new_tokens = 1000
    prepared, stream = session.ask("add a --verbose flag", patch=True)
    with pytest.raises(PatchError, match=f"wrote {EDIT_START_TOKENS} tokens without starting an edit block") as err:
        "".join(require_edit_start(stream))
    assert model.produced == EDIT_START_TOKENS and stream.stats.stop_reason == "cancelled"
    assert err.value.raw.startswith("Sure, let me think")
    assert prepared.facts == []  # a patch prompt wants exact text, not the definitions block


def test_patch_that_starts_an_edit_is_not_stopped() -> None:
    pieces = ["x" * 3] * 10 + ["\ntasktracker/cli.py\n<<<<<<< SEARCH\n"] + ["line\n"] * 300
    model = FakeModel(pieces=pieces)
    stream = model.stream(
        [{"role": "user", "content": "x"}], GenerationSettings(max_new_tokens=400, stop_on_repeat=False)
    )
    assert len(list(require_edit_start(stream, limit=20))) == len(pieces)


def test_image_mode_follows_the_models_capabilities(tmp_path: Path) -> None:
    diagram = tmp_path / "flow.mmd"
    diagram.write_text("graph TD; A-->B")
    text_model = AskSession(Settings(), model=FakeModel())
    assert text_model.resolved_image_mode() == "ocr"
    text_model.attach_image(diagram)
    assert text_model.images[0].text == "graph TD; A-->B" and text_model.images[0].pixels is None
    vlm = FakeModel(capabilities=Capabilities(images=True, image_default="both"))
    assert AskSession(Settings(), model=vlm).resolved_image_mode() == "both"
    with pytest.raises(BadInputError, match="no vision path"):
        AskSession(Settings(), model=FakeModel(), image_mode="vision").attach_image(diagram)
    with pytest.raises(BadInputError, match="--image-mode must be"):
        AskSession(Settings(), image_mode="pixels")


def test_adapter_needs_a_model_that_takes_adapters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import codemm.adapters.store as store

    monkeypatch.setattr(store, "read_card", lambda name: None)  # a known adapter
    session = AskSession(Settings(), model=FakeModel(capabilities=Capabilities(adapters=False)))
    with pytest.raises(BadInputError, match="cannot take adapters"):
        session.set_adapter("team")
    able = AskSession(Settings(), model=FakeModel())
    able.set_adapter("team")
    assert able.adapter == "team" and able.model is not None and able.model.adapter == "team"


def test_no_model_is_a_clear_error() -> None:
    with pytest.raises(BadInputError, match="no model is loaded"):
        AskSession(Settings()).ask("hello")


def test_llamacpp_backend_without_the_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # as if not installed
    with pytest.raises(CodemmError, match=r"pip install 'codemm\[llamacpp\]'"):
        open_model(Settings(backend="llamacpp"))


def test_unknown_backend_is_refused_by_the_config() -> None:
    from codemm.config import load_settings

    with pytest.raises(BadInputError, match="must be one of transformers, llamacpp, openai"):
        load_settings({"backend": "ollama"})


def test_closed_port_is_one_line() -> None:
    from codemm.errors import ModelServerError

    with pytest.raises(ModelServerError, match="cannot reach a model server at http://127.0.0.1:9/v1"):
        open_model(Settings(backend="openai", api_base="http://127.0.0.1:9/v1", timeout=5))


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("Where is parse_due_date defined?", "parse_due_date"),
        ("What does the Task class hold?", "Task"),
        ("What does `main` return?", "main"),
        ("Is main() safe to call twice?", "main"),
        ("How does the main loop work?", None),  # English, not the function
    ],
)
def test_facts_come_only_from_names_used_as_code(index: RepoIndex, question: str, named: str | None) -> None:
    from codemm.grounding import grounded_facts

    facts = grounded_facts(index, question, [])
    assert [f.symbol.name for f in facts][:1] == ([named] if named else [])
