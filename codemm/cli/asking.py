"""`codemm ask`, `codemm chat`, `codemm edit` and `codemm undo`: the commands that talk to the model
about a repository."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from codemm.cli.common import (
    AdapterOpt,
    ApiBaseOpt,
    ApiKeyEnvOpt,
    BackendOpt,
    DeviceOpt,
    EmbeddingModelOpt,
    JsonOpt,
    ModelOpt,
    QuantOpt,
    default_repo,
    print_json,
    read_question,
    refresh_index,
    settings_for,
)
from codemm.errors import BadInputError

app = typer.Typer()


@app.command()
def chat(
    ctx: typer.Context,
    repo: Annotated[
        Path | None, typer.Option("--repo", "-r", help="Repository root (default: the project of the current dir).")
    ] = None,
    model: ModelOpt = None,
    quant: QuantOpt = None,
    device: DeviceOpt = None,
    adapter: AdapterOpt = None,
    continue_last: Annotated[
        bool, typer.Option("--continue", help="Resume the last conversation, in its repository unless --repo.")
    ] = False,
    backend: BackendOpt = None,
    api_base: ApiBaseOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    embedding_model: EmbeddingModelOpt = None,
) -> None:
    """Open the terminal chat UI (Enter sends, Ctrl+J newline, Esc stops, F2 history, /help for commands)."""
    from codemm.repo.walk import check_repo_root
    from codemm.session import AskSession
    from codemm.tui.app import run_chat

    root = repo if repo is not None else default_repo()
    if root is not None:
        root = check_repo_root(root)  # a bad --repo fails here, before the screen opens
    settings = settings_for(ctx, root, model=model, quant=quant, device=device, backend=backend, api_base=api_base,
                            api_key_env=api_key_env, embedding_model=embedding_model)  # fmt: skip
    session = AskSession(settings, repo=root, adapter=adapter, k=4, map_tokens=256)
    run_chat(session, continue_last, repo_given=repo is not None)


@app.command()
def ask(
    ctx: typer.Context,
    question: Annotated[
        str, typer.Argument(help='The question or, with --patch, the change to make; "-" reads standard input.')
    ] = "",
    question_file: Annotated[
        Path | None, typer.Option("--question-file", help="Read the question from a file.")
    ] = None,
    repo: Annotated[
        Path | None,
        typer.Option("--repo", "-r", help="Repository root (default: the project of the current dir)."),
    ] = None,
    no_repo: Annotated[bool, typer.Option("--no-repo", help="Answer without repository context.")] = False,
    k: Annotated[int, typer.Option("-k", help="Chunks of context to retrieve.")] = 6,
    map_tokens: Annotated[int, typer.Option("--map-tokens", help="Token budget of the repo map (0: none).")] = 512,
    patch: Annotated[bool, typer.Option("--patch", help="Ask for a code change; print it as a unified diff.")] = False,
    apply: Annotated[bool, typer.Option("--apply", help="With --patch: write the change to the files.")] = False,
    adapter: AdapterOpt = None,
    image: Annotated[
        list[Path] | None,
        typer.Option("--image", "-i", help="Screenshot, diagram image or diagram source (repeatable)."),
    ] = None,
    image_mode: Annotated[str, typer.Option("--image-mode", help="ocr | vision | both (vision needs a VLM).")] = "auto",
    ocr: Annotated[str, typer.Option("--ocr", help="OCR backend: auto, tesseract, rapidocr.")] = "auto",
    model: ModelOpt = None,
    quant: QuantOpt = None,
    device: DeviceOpt = None,
    max_new_tokens: Annotated[int | None, typer.Option(help="Most tokens to generate.")] = None,
    temperature: Annotated[float | None, typer.Option(help="0 = greedy (deterministic).")] = None,
    top_p: Annotated[float | None, typer.Option(help="Nucleus sampling mass.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed for sampling.")] = None,
    no_stream: Annotated[bool, typer.Option("--no-stream", help="Print the answer once it is complete.")] = False,
    as_json: JsonOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Timings and dropped context on stderr.")] = False,
    backend: BackendOpt = None,
    api_base: ApiBaseOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    embedding_model: EmbeddingModelOpt = None,
) -> None:
    """Answer one question about a repository, streaming the answer and checking its citations.

    QUESTION may be "-" to read it from standard input (long questions, pasted logs)."""
    import time

    from codemm.ask import preamble
    from codemm.patch import require_edit_start
    from codemm.session import AskSession

    root = None if no_repo else (repo if repo is not None else default_repo())
    settings = settings_for(
        ctx, root, model=model, quant=quant, device=device, max_new_tokens=max_new_tokens,
        temperature=temperature, top_p=top_p, seed=seed, backend=backend, api_base=api_base, api_key_env=api_key_env,
        embedding_model=embedding_model,
    )  # fmt: skip
    question = read_question(question, question_file)
    if apply and not patch:
        raise BadInputError("--apply only makes sense with --patch")
    if k < 0 or map_tokens < 0:
        raise BadInputError("-k and --map-tokens must not be negative")
    if patch and root is None:
        raise BadInputError("--patch needs a repository: pass --repo PATH")
    if root is None and not no_repo:
        typer.echo("codemm: note: not inside a project and no --repo given: answering without a repository",
                   err=True)  # fmt: skip
    session = AskSession(settings, adapter=adapter, image_mode=image_mode, ocr=ocr, k=k, map_tokens=map_tokens)
    from codemm.vision.images import check_images

    check_images(image or [])  # bad images fail here, before any model loads
    session.load_model()  # a wrong --model fails here, before a large repository is indexed
    if root is not None:
        session.index = refresh_index(root, quiet=as_json, settings=settings)[0]
        session.repo = session.index.root
    started = time.perf_counter()
    attached = [session.attach_image(path) for path in image or []]
    from codemm.vision.images import image_notes

    for note in image_notes(attached):
        typer.echo(f"codemm: note: {note}", err=True)
    prepared, stream = session.ask(question, patch=patch)
    live = not (as_json or no_stream or patch)
    if live:
        sys.stdout.write(preamble(prepared))
    pieces = []
    first_token_s = None
    for piece in require_edit_start(stream) if patch else stream:
        if first_token_s is None:
            first_token_s = time.perf_counter() - started
        pieces.append(piece)
        if live:
            sys.stdout.write(piece)
            sys.stdout.flush()
    result = session.finish("".join(pieces), stream, prepared)
    if live:
        sys.stdout.write("\n")  # statistics and notes on stderr start on their own line
        sys.stdout.flush()
    if verbose:
        _report(result, first_token_s)
    if stream.stats.stop_reason == "repetition":
        typer.echo("codemm: note: stopped: the model began repeating itself", err=True)
    if patch:
        _patch_output(result, root, apply, as_json)  # type: ignore[arg-type]
        return
    if as_json:
        data = result.to_json()
        data["images"] = [i.as_json(session.resolved_image_mode()) for i in attached]
        print_json(data)
        return
    if not live:
        sys.stdout.write(result.answer + "\n")
    if result.citations:
        marks = [f"{c.label} {'ok' if c.valid else 'INVALID: ' + c.reason}" for c in result.citations]
        typer.echo("Sources: " + "; ".join(marks))


def _report(result: Any, first_token_s: float | None) -> None:
    sys.stdout.flush()  # the answer first: stderr is unbuffered and would overtake it
    data = result.to_json()
    t = data["timings"]
    context = data.get("context_tokens", {})
    typer.echo(
        f"[{data['model']} ({data['backend']}) {data['quant']} on {data['device']}, "
        f"adapter {data['adapter'] or 'none'}] load {t['load_s']}s, "
        f"retrieval {t.get('retrieval_s', 0)}s, first token {first_token_s or 0:.3f}s after the question "
        f"(generation ttft {t['ttft_s']}s), {data['tokens']['new']} tokens at {t['tokens_per_s']} tok/s; "
        f"prompt {data['tokens']['prompt']} tokens (budget {context.get('budget', '-')})",
        err=True,
    )
    for item in data.get("dropped", []):
        typer.echo(f"dropped to fit the context window: {item}", err=True)


def _patch_output(result: Any, root: Path, apply: bool, as_json: bool) -> None:
    from codemm.patch import PatchError, apply_patch, build_patch

    try:
        built = build_patch(root, result.answer)
    except PatchError as exc:
        sys.stdout.write(exc.raw + "\n")
        raise
    changed = apply_patch(root, built) if apply else []
    if as_json:
        print_json({**result.to_json(), "diff": built.diff, "applied": changed})
        return
    sys.stdout.write(built.diff)
    if apply:
        typer.echo(f"applied to {', '.join(changed)}", err=True)
    else:
        typer.echo("not applied (use --apply to write it)", err=True)


@app.command()
def edit(
    ctx: typer.Context,
    request: Annotated[str, typer.Argument(help='The change to make; "-" reads standard input.')] = "",
    repo: Annotated[
        Path | None, typer.Option("--repo", "-r", help="Repository root (default: the project of the current dir).")
    ] = None,
    test: Annotated[
        str | None, typer.Option("--test", help="Test command, run after each try (default: test_cmd in codemm.toml).")
    ] = None,
    lint: Annotated[
        str | None, typer.Option("--lint", help="Lint command given the changed files (default: ruff's error rules).")
    ] = None,
    tries: Annotated[int | None, typer.Option("--tries", help="Tries before giving up (default 3).")] = None,
    no_commit: Annotated[bool, typer.Option("--no-commit", help="Write the change but do not commit it.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds the test command may run per try.")] = 120.0,
    max_new_tokens: Annotated[int | None, typer.Option(help="Most tokens to generate per try.")] = None,
    as_json: JsonOpt = False,
    model: ModelOpt = None,
    quant: QuantOpt = None,
    device: DeviceOpt = None,
    adapter: AdapterOpt = None,
    backend: BackendOpt = None,
    api_base: ApiBaseOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
) -> None:
    """Change the code: edit blocks, lint, your tests, failures fed back, up to N tries; one commit if it passes.

    The repository is written only when a try passes (`codemm undo` takes the commit back)."""
    from codemm.ask import generation_settings
    from codemm.edit import EditFailed, EditOptions, run_edit
    from codemm.repo.walk import check_repo_root
    from codemm.session import AskSession

    # Ctrl-C must reach the loop as KeyboardInterrupt: it kills the running tests and lets the
    # write-and-commit finish or roll back, instead of exiting on the spot.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    root = repo if repo is not None else default_repo()
    if root is None:
        raise BadInputError("codemm edit needs a repository: pass --repo PATH")
    root = check_repo_root(root)
    settings = settings_for(ctx, root, model=model, quant=quant, device=device, backend=backend, api_base=api_base,
                         api_key_env=api_key_env, max_new_tokens=max_new_tokens, test_cmd=test, lint_cmd=lint,
                         tries=tries)  # fmt: skip
    options = EditOptions(
        read_question(request, None), test_cmd=settings.test_cmd, lint_cmd=settings.lint_cmd, tries=settings.tries,
        commit=not no_commit, test_timeout=timeout, generation=generation_settings(settings), graph=settings.graph,
    )  # fmt: skip

    def notify(kind: str, data: Any) -> None:
        if as_json:
            return
        if kind == "try":
            typer.echo(f"codemm: try {data}/{options.tries}: asking {settings.model}", err=True)
        elif kind == "check":
            typer.echo(f"codemm: running: {data}", err=True)
        elif kind == "tried":
            typer.echo(f"codemm: try {data.number}: {data.verdict()} ({data.seconds:.1f} s)", err=True)

    session = AskSession(settings, adapter=adapter, k=options.k, map_tokens=options.map_tokens)
    try:
        session.index = refresh_index(root, quiet=as_json)[0]
        session.repo = session.index.root
        session.load_model()
        assert session.model is not None
        try:
            result = run_edit(session.model, root, options, index=session.index, notify=notify)
        except EditFailed as exc:
            if as_json:
                print_json({**exc.result.as_json(), "error": str(exc)})
            elif exc.result.tries and exc.result.tries[-1].diff:
                sys.stdout.write("last try's diff (not applied):\n" + exc.result.tries[-1].diff)
            raise
    finally:
        session.close()
    if as_json:
        print_json(result.as_json())
        return
    sys.stdout.write(result.diff)
    sys.stdout.flush()
    if result.note:
        typer.echo(f"codemm: note: {result.note}", err=True)
    done = f"committed {result.commit[:10]}" if result.commit else "written, not committed"
    typer.echo(f"codemm: {', '.join(result.files)} {done} after {len(result.tries)} "
               f"{'try' if len(result.tries) == 1 else 'tries'} ({result.seconds:.1f} s)", err=True)  # fmt: skip


@app.command()
def undo(
    repo: Annotated[
        Path | None, typer.Option("--repo", "-r", help="Repository root (default: the project of the current dir).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Take back codemm's last commit, only if it is HEAD and the tree is clean (reset, or revert once pushed)."""
    from codemm.gitops import undo_last
    from codemm.repo.walk import check_repo_root

    root = repo if repo is not None else default_repo()
    if root is None:
        raise BadInputError("not inside a project: pass --repo PATH")
    undone = undo_last(check_repo_root(root))
    if as_json:
        print_json({"action": undone.action, "commit": undone.commit, "head": undone.new_head,
                     "files": undone.files})  # fmt: skip
        return
    how = ("reset: the commit is gone" if undone.action == "reset"
           else f"reverted: it had been pushed, so new commit {undone.new_head[:10]} undoes it")  # fmt: skip
    typer.echo(f"undid codemm commit {undone.commit[:10]} ({how}); restored {', '.join(undone.files)}")
