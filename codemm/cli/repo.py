"""`codemm index`, `codemm map` and `codemm search`: the repository index and the commands over it
that take model options."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from codemm.cli.common import (
    ApiBaseOpt,
    ApiKeyEnvOpt,
    BackendOpt,
    DeviceOpt,
    EmbeddingModelOpt,
    JsonOpt,
    ModelOpt,
    QuantOpt,
    RepoOpt,
    print_json,
    refresh_index,
    settings_for,
)
from codemm.errors import BadInputError

app = typer.Typer()


@app.command("index")
def index_cmd(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Repository root.")] = Path("."),
    no_embed: Annotated[bool, typer.Option("--no-embed", help="Skip dense embeddings.")] = False,
    embedding_model: EmbeddingModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Build or refresh the repository index (incremental: only changed files are re-parsed)."""
    from codemm.repo.embeddings import embedding_report

    settings = settings_for(ctx, path if path.is_dir() else None, embedding_model=embedding_model)
    index, stats = refresh_index(path, embed=not no_embed, settings=settings)
    summary = stats.as_json()
    summary["embedding"] = embedding = embedding_report(index)
    if as_json:
        print_json(summary)
        return
    langs = ", ".join(f"{lang} {n}" for lang, n in stats.languages.items())
    typer.echo(
        f"{index.root}: {stats.files} files ({langs}), {stats.lines} lines, {stats.symbols} symbols, "
        f"{stats.chunks} chunks; re-parsed {stats.parsed}, embedded {stats.embedded} in {stats.seconds:.2f}s"
    )
    dimension = f", {embedding['dimension']}-dim" if embedding["dimension"] else ""
    typer.echo(f"embeddings: {embedding['name']} ({embedding['kind']}{dimension}), {embedding['vectors']} vectors"
               f"{'' if embedding['kind'] == 'builtin' else ' [' + embedding['identity'] + ']'}")  # fmt: skip
    skipped, most = stats.skipped_files, 20  # the text names at most 20; --json lists them all
    counts = ", ".join(f"{reason} {n}" for reason, n in stats.skipped.items())
    typer.echo(f"skipped: {len(skipped)} files ({counts})" if skipped else "skipped: none")
    for skipped_path, reason in skipped[:most]:
        typer.echo(f"  {skipped_path} ({reason})")
    if len(skipped) > most:
        typer.echo(f"  and {len(skipped) - most} more (--json lists them all)")
    typer.echo(f"index: {index.db_path}")


@app.command("map")
def map_cmd(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Repository root.")] = Path("."),
    tokens: Annotated[int, typer.Option("--tokens", help="Token budget (model tokenizer).")] = 1024,
    focus: Annotated[str, typer.Option("--focus", help="Question or names to rank around.")] = "",
    model: ModelOpt = None,
) -> None:
    """Print the repo map: the most referenced definitions, within a token budget."""
    from codemm.models.load import load_tokenizer
    from codemm.repo.repomap import build_repo_map

    settings = settings_for(ctx, path, model=model)
    tokenizer = load_tokenizer(settings.model)
    index, _ = refresh_index(path, embed=False)
    repo_map = build_repo_map(index, lambda text: len(tokenizer.encode(text)), tokens, focus)
    if repo_map.text:
        typer.echo(repo_map.text)
    # The footer goes to stderr (stdout stays a clean map); flushing stdout first keeps it on a line
    # of its own, after the map, when both streams share a terminal or a pipe.
    sys.stdout.flush()
    typer.echo(f"[{repo_map.shown} of {repo_map.total} definitions, {repo_map.tokens} tokens]", err=True)


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to look for, in words or identifiers.")],
    repo: RepoOpt = Path("."),
    k: Annotated[int, typer.Option("-k", help="Number of hits.")] = 10,
    embedding_model: EmbeddingModelOpt = None,
    as_json: JsonOpt = False,
    explain: Annotated[
        bool, typer.Option("--explain", help="Show which retrievers found each hit, their ranks and fields matched.")
    ] = False,
    rewrite: Annotated[
        bool | None,
        typer.Option(
            "--rewrite/--no-rewrite",
            help="Search on the question plus the code the chat model guesses for it (setting search_rewrite).",
        ),
    ] = None,
    rerank: Annotated[
        bool | None,
        typer.Option(
            "--rerank/--no-rerank",
            help="Let the chat model reorder the 25 best files; hits are then one per file (setting search_rerank).",
        ),
    ] = None,
    model: ModelOpt = None,
    quant: QuantOpt = None,
    device: DeviceOpt = None,
    backend: BackendOpt = None,
    api_base: ApiBaseOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
) -> None:
    """Hybrid search (BM25 + embeddings + symbols over chunks, BM25 + embeddings over per-file
    cards; each ranks files, and the file ranks are fused by RRF) over the repo. --rewrite and --rerank spend a call to
    the chat model each (off by default: on the embedded SmolLM2-135M they cost seconds and did not
    help); with either, --json prints an object: hits, the rewrite and each step's cost."""
    from codemm.repo.assist import assisted_search
    from codemm.repo.retrieve import retriever_for

    if k < 1:
        raise BadInputError("-k must be at least 1")
    settings = settings_for(
        ctx, repo, embedding_model=embedding_model, model=model, quant=quant,
        device=device, backend=backend, api_base=api_base, api_key_env=api_key_env, search_rewrite=rewrite,
        search_rerank=rerank,
    )  # fmt: skip
    assisted = settings.search_rewrite or settings.search_rerank
    chat_model = None
    if assisted:  # before indexing (a bad path first): a server that cannot be reached fails at once
        from codemm.models.factory import open_model
        from codemm.repo.walk import check_repo_root

        check_repo_root(repo)
        chat_model = open_model(settings)
    try:
        index, _ = refresh_index(repo, settings=settings)
        result = assisted_search(
            retriever_for(index), chat_model, query, k=k, rewrite=settings.search_rewrite,
            rerank=settings.search_rerank, explain=explain,
        )  # fmt: skip
    finally:
        if chat_model is not None:
            chat_model.close()
    if as_json:
        if assisted:
            data = result.as_json()
            data["model"] = {"name": chat_model.name, "backend": chat_model.backend} if chat_model else None
            print_json(data)
        else:
            print_json([h.as_json() for h in result.hits])
        return
    for hit in result.hits:
        label = f"{hit.path}:{hit.start}-{hit.end}"
        typer.echo(f"{label:<48} {hit.score:.4f}  {'+'.join(hit.sources):<20} {hit.symbol}")
        for name, why in (hit.explain or {}).items():
            line = f"    {name:<10} #{why['rank']:<3} score {why['score']:<8} matched {', '.join(why['fields'])}"
            if why.get("chunk"):  # the retriever ranked the file by another of its chunks
                line += f" in {why['chunk']}"
            typer.echo(line + (f": {why['card_line']}" if why.get("card_line") else ""))
    if result.rewrite is not None:
        typer.echo(f"codemm: rewrite: {' '.join(result.rewrite.text.split())[:200]}", err=True)
    for step, cost in result.costs.items():
        typer.echo(f"codemm: {step}: {cost.seconds:.2f}s, {cost.prompt_tokens} prompt + {cost.new_tokens} new tokens",
                   err=True)  # fmt: skip
