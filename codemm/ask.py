"""`codemm ask`: question + repository (+ images, + history) -> one prompt -> streamed answer.

The same pipeline serves ask, chat and eval; they differ only in how they present it:
``prepare`` retrieves and budgets, ``start`` streams, ``finish`` checks citations.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from codemm.citations import Citation, attribute_sources, find_citations
from codemm.config import Settings
from codemm.diagram.answer import AnswerDiagram, answer_diagram, image_drift, render_drift
from codemm.diagram.check import DriftReport
from codemm.grounding import Fact, grounded_facts, render_facts
from codemm.models.seam import ChatModel
from codemm.models.stream import GenerationSettings, Message, TokenStream, without_loop
from codemm.prompt import NO_REPO_SYSTEM_PROMPT, ImageText, Prompt, PromptInput, build_prompt
from codemm.repo.index import RepoIndex
from codemm.repo.retrieve import Hit

IMAGE_QUERY_CHARS = 2000
NO_MATCH_NOTE = "Note: the repository context had no match for this question; this answer is not grounded in it."


def generation_settings(settings: Settings) -> GenerationSettings:
    return GenerationSettings(
        max_new_tokens=settings.max_new_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
        seed=settings.seed,
        repetition_penalty=settings.repetition_penalty,
    )


@dataclass
class AskRequest:
    question: str
    index: RepoIndex | None = None
    """An opened, refreshed index of the repository; None asks without repository context."""
    images: list[ImageText] = field(default_factory=list)
    history: list[Message] = field(default_factory=list)
    k: int = 6
    map_tokens: int = 512
    patch: bool = False
    """Ask for edits (SEARCH/REPLACE blocks) instead of an answer."""
    pixels: list[Any] = field(default_factory=list)
    """RGB images for a vision-language model (image tokens); OCR text travels in ``images``."""
    rewrite: bool = False
    """Retrieve with the model's rewrite of the question too (settings.search_rewrite; repo/assist.py)."""
    rerank: bool = False
    """Let the model reorder the retrieved files (settings.search_rerank; repo/assist.py)."""
    graph: str = "names"
    """The reference graph the repo map ranks over (settings.graph; repo/graph.py)."""


@dataclass
class PreparedAsk:
    request: AskRequest
    prompt: Prompt
    hits: list[Hit]
    """Everything retrieval returned, best first (the prompt holds ``prompt.included``)."""
    context_match: bool
    retrieval_s: float
    image_locations: list[str] = field(default_factory=list)
    """Labels of the repository locations the images show (traceback frames, path:line); the
    unverified ones say so, with the reason."""
    verified_locations: list[tuple[str, int]] = field(default_factory=list)
    """(path, line) of the image locations the index confirmed: cited by codemm itself."""
    facts: list[Fact] = field(default_factory=list)
    """Definitions the question is about, straight from the index (see codemm.grounding)."""
    assist: dict[str, Any] = field(default_factory=dict)
    """The model-assisted retrieval steps that ran: rewrite text, and each step's cost."""
    ui_matches: list[dict[str, Any]] = field(default_factory=list)
    """The UI-text matches put first (text shown, path, line, score; see codemm.vision.uimatch)."""
    diagram: AnswerDiagram | None = None
    """The diagram the question asked for, drawn from the code (see codemm.diagram.answer)."""
    drift: list[DriftReport] = field(default_factory=list)
    """Attached diagrams checked against the code, when the question asks whether they still hold."""


RELEVANT_SOURCES = frozenset({"bm25", "card_bm25", "symbols", "image"})


def is_relevant(hit: Hit) -> bool:
    """Lexical or symbol evidence (in the chunk or in its file's card): dense similarity alone always
    returns *something*."""
    return not RELEVANT_SOURCES.isdisjoint(hit.sources)


def prepare(model: ChatModel, request: AskRequest, max_new_tokens: int) -> PreparedAsk:
    started = time.perf_counter()
    hits: list[Hit] = []
    image_locations: list[str] = []
    verified: list[tuple[str, int]] = []
    ui_found: list[dict[str, Any]] = []
    render_map = None
    facts: list[Fact] = []
    diagram = None
    drift: list[DriftReport] = []
    assist: dict[str, Any] = {}
    if request.index is not None:
        from codemm.repo.repomap import build_repo_map
        from codemm.repo.retrieve import retriever_for

        query = request.question
        if request.images:
            # A screenshot of code or an error names what to look up better than "this screenshot" does.
            query += "\n" + "\n".join(image.text for image in request.images)[:IMAGE_QUERY_CHARS]
        if request.rewrite or request.rerank:
            from codemm.repo.assist import assisted_search

            found = assisted_search(retriever_for(request.index), model, query, k=request.k,
                                    rewrite=request.rewrite, rerank=request.rerank)  # fmt: skip
            hits, assist = found.hits, found.record()
        else:
            hits = retriever_for(request.index).search(query, k=request.k)
        hits = [h for h in hits if is_relevant(h)]
        if request.images:
            hits, image_locations, verified, ui_found = _image_location_hits(request, hits)
        if not request.patch:
            facts = grounded_facts(request.index, request.question, hits)
            drift = image_drift(request.index, request.question, [(i.name, i.text) for i in request.images])
            if not drift:  # "does the code still match this diagram?" asks for the check, not a new drawing
                diagram = answer_diagram(request.index, request.question, [h.path for h in hits])
        index = request.index

        def render_map(budget: int) -> str:
            return build_repo_map(index, model.count_text, budget, focus=request.question, edges=request.graph).text

    data = PromptInput(
        question=request.question,
        hits=hits,
        images=request.images,
        history=request.history,
        render_map=render_map,
        map_tokens=request.map_tokens,
        facts=render_facts(facts),
    )
    if request.index is None:
        data.system = NO_REPO_SYSTEM_PROMPT
    elif not hits:
        data.context_note = "No code in the repository matched this question."
    if request.patch:
        from codemm.patch import PATCH_SYSTEM_PROMPT

        data.system, data.numbered = PATCH_SYSTEM_PROMPT, False
    prompt = build_prompt(data, model.count_tokens, model.context_window, max_new_tokens)
    context_match = request.index is None or bool(hits) or bool(request.images)
    elapsed = time.perf_counter() - started
    return PreparedAsk(request, prompt, hits, context_match, elapsed, image_locations, verified, facts, assist,
                       ui_found, diagram, drift)  # fmt: skip


def _image_location_hits(
    request: AskRequest, hits: list[Hit]
) -> tuple[list[Hit], list[str], list[tuple[str, int]], list[dict[str, Any]]]:
    """Puts the code a screenshot points at (traceback frames, path:line; for a UI without them, the
    files that define its visible text) first in the context, and tells the model which those are."""
    from codemm.vision.locations import locations_in_index
    from codemm.vision.uimatch import ui_matches

    assert request.index is not None
    located: list[Hit] = []
    labels: list[str] = []
    verified: list[tuple[str, int]] = []
    ui_found: list[dict[str, Any]] = []
    for image in request.images:
        locations = locations_in_index(image.text, request.index)
        labels += [loc.label for loc in locations if loc.label not in labels]
        verified += [(loc.path, loc.line) for loc in locations if loc.verified and (loc.path, loc.line) not in verified]
        if locations:  # a copy: the session's own image (chat keeps it across questions) stays as read
            found = "\n\nRepository locations in this image: " + ", ".join(loc.label for loc in locations)
            request.images[request.images.index(image)] = replace(image, text=image.text + found)
        spots = [(loc.path, loc.line) for loc in reversed(locations)]  # innermost frame (where it raised) first
        ui = ui_matches(image.ocr or image.text, request.index, image.screen).top() if not locations else []
        if ui:  # an application's UI: the files that define its visible text, verified in the index
            shown = [m.label for m in ui]
            ui_found += [{"image": image.name, **m.as_json()} for m in ui]
            labels += [label for label in shown if label not in labels]
            verified += [(m.path, m.line) for m in ui if (m.path, m.line) not in verified]
            found = "\n\nCode that shows this image's text: " + ", ".join(shown)
            request.images[request.images.index(image)] = replace(image, text=image.text + found)
            spots += [(m.path, m.line) for m in ui]
        for path, line in spots:
            for chunk in request.index.chunks_at(path, line):
                if all((chunk.path, chunk.start) != (h.path, h.start) for h in located):
                    located.append(
                        Hit(chunk.path, chunk.start, chunk.end, 1.0, ["image"], chunk.kind, chunk.symbol, chunk.text)
                    )
    rest = [h for h in hits if all((h.path, h.start) != (x.path, x.start) for x in located)]
    return located + rest, labels, verified, ui_found


def image_note(prepared: PreparedAsk) -> str:
    """What codemm itself read off the screenshots and verified in the index, ahead of the model's
    answer: small models often garble paths they were shown."""
    return "Screenshot locations (checked in the repository unless marked unverified): " + ", ".join(
        prepared.image_locations
    )


def start(model: ChatModel, prepared: PreparedAsk, settings: GenerationSettings) -> TokenStream:
    return model.stream(prepared.prompt.messages, settings, images=prepared.request.pixels or None)


def preamble(prepared: PreparedAsk) -> str:
    """What codemm states itself ahead of the model's answer: verified screenshot locations, the
    grounded definitions, the diagram a question asked for, and a note when the repository had
    nothing relevant."""
    parts = []
    if prepared.image_locations:
        parts.append(image_note(prepared))
    if prepared.facts:
        parts.append(render_facts(prepared.facts))
    if prepared.diagram is not None:
        parts.append(prepared.diagram.render())
    parts += [render_drift(report) for report in prepared.drift]
    if not prepared.context_match:
        parts.append(NO_MATCH_NOTE)
    return "".join(part + "\n\n" for part in parts)


@dataclass
class AskResult:
    answer: str
    model: ChatModel
    stream: TokenStream
    prepared: PreparedAsk | None = None
    citations: list[Citation] = field(default_factory=list)
    adapter: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The stable `codemm ask --json` record: later fields are added, never renamed."""
        stats = self.stream.stats
        prepared = self.prepared
        described = self.model.describe()
        data: dict[str, Any] = {
            "answer": self.answer,
            "model": self.model.name,
            "backend": self.model.backend,
            "server_model": described.get("server_model"),
            "quant": described.get("quant"),
            "device": described.get("device"),
            "tokens": {"prompt": stats.prompt_tokens, "new": stats.new_tokens},
            "timings": {
                "load_s": round(self.model.load_s, 3),
                "ttft_s": round(stats.ttft_s, 3),
                "total_s": round(stats.total_s, 3),
                "tokens_per_s": round(stats.tokens_per_s, 2),
            },
            "stop_reason": stats.stop_reason,
            "adapter": self.adapter,
            "citations": [c.as_json() for c in self.citations],
        }
        if prepared is not None:
            index = prepared.request.index
            data["repo"] = str(index.root) if index is not None else None
            data["retrieved"] = [
                {"path": h.path, "start": h.start, "end": h.end, "score": round(h.score, 5)}
                for h in prepared.prompt.included
            ]
            data["dropped"] = prepared.prompt.dropped
            data["context_match"] = prepared.context_match
            data["context_tokens"] = {"used": prepared.prompt.tokens, "budget": prepared.prompt.budget}
            data["image_locations"] = prepared.image_locations
            data["ui_matches"] = prepared.ui_matches
            data["facts"] = [fact.as_json() for fact in prepared.facts]
            data["diagram"] = prepared.diagram.as_json() if prepared.diagram else None
            data["diagram_checks"] = [report.as_json() for report in prepared.drift]
            data["timings"]["retrieval_s"] = round(prepared.retrieval_s, 3)
            if prepared.assist:
                data["search_assist"] = prepared.assist
        return data


def finish(answer: str, model: ChatModel, stream: TokenStream, prepared: PreparedAsk) -> AskResult:
    """Checks every citation in the model's answer against the index; adds the grounded definitions
    (source "index") and the context the answer visibly used (source "attributed")."""
    prose = without_loop(answer, stream.stats)
    citations: list[Citation] = []
    index = prepared.request.index
    if index is not None:
        citations = find_citations(prose, index.file_lines())
        citations += [Citation(path, line, line, True, source="index") for path, line in prepared.verified_locations]
        citations += [
            Citation(f.symbol.path, f.symbol.start, f.symbol.end, True, source="index") for f in prepared.facts
        ]
        citations += attribute_sources(prose, prepared.prompt.included)
        unique: dict[tuple[str, int, int], Citation] = {}
        for citation in citations:  # the first source of each location wins: model, index, attributed
            unique.setdefault((citation.path, citation.start, citation.end), citation)
        citations = list(unique.values())
    return AskResult(preamble(prepared) + prose, model, stream, prepared, citations, model.adapter)
