"""``focus "question"``: the modules around the files retrieval finds for a question."""

from __future__ import annotations

from codemm.diagram.graph import Graph, restrict
from codemm.diagram.modules import module_graph
from codemm.diagram.source import Repo
from codemm.errors import BadInputError
from codemm.repo.index import RepoIndex

FOCUS_HITS = 8


def focus_graph(index: RepoIndex, repo: Repo, question: str, depth: int = 1, dense: bool = True) -> Graph:
    """The files of the top hits for ``question``, and the modules within ``depth`` imports."""
    from codemm.repo.retrieve import retriever_for

    if not question.strip():
        raise BadInputError('focus needs a question: codemm diagram focus "where are dates parsed?"')
    hits = retriever_for(index, dense=dense).search(question, k=FOCUS_HITS)
    found = [repo.table.id_of[h.path] for h in hits if h.path in repo.table.id_of]
    if not found:
        raise BadInputError(f"retrieval found no code file for {question!r}")
    graph = restrict(module_graph(repo), set(found), depth)
    graph.kind = "focus"
    graph.notes.append("found for the question: " + ", ".join(dict.fromkeys(found)))
    return graph
