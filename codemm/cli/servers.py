"""`codemm mcp` and `codemm serve`: the repository and the model for editors, agents and OpenAI clients."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codemm.cli.common import (
    ApiBaseOpt,
    ApiKeyEnvOpt,
    BackendOpt,
    DeviceOpt,
    ModelOpt,
    QuantOpt,
    RepoOpt,
    refresh_index,
    settings_for,
)

app = typer.Typer()
ImagesFromOpt = Annotated[
    str | None,
    typer.Option(
        "--images-from",
        help="Folders outside the repository whose images read_screenshot may read, ':'-separated "
        "(default: the images_from setting: Desktop, Downloads, Pictures, temp; '' turns it off).",
    ),
]


@app.command("mcp")
def mcp_cmd(
    ctx: typer.Context,
    repo: RepoOpt = Path("."),
    model: ModelOpt = None,
    backend: BackendOpt = None,
    api_base: ApiBaseOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    no_embed: Annotated[bool, typer.Option("--no-embed", help="Search without dense embeddings.")] = False,
    images_from: ImagesFromOpt = None,
) -> None:
    """Serve the repository to editors and agents over MCP on stdio: search, map, definitions,
    references, line ranges, screenshots, ask (see README, "Editors and agents")."""
    from codemm.mcp_server import serve_stdio
    from codemm.repo.walk import check_repo_root
    from codemm.tools import RepoTools

    root = check_repo_root(repo)
    # The served repository's codemm.toml applies, not the one of whatever dir the editor started in.
    settings = settings_for(ctx, root, model=model, backend=backend, api_base=api_base, api_key_env=api_key_env,
                            images_from=images_from)  # fmt: skip
    serve_stdio(RepoTools(root, settings, embed=not no_embed))


@app.command("serve")
def serve(
    ctx: typer.Context,
    repo: Annotated[Path, typer.Option("--repo", "-r", help="Repository the answers are about.")],
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; anything but loopback needs --api-key-env.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            "--api-key-env",
            help="Environment variable holding the key clients must send (Authorization: Bearer). "
            "The upstream openai backend's key is a global option: `codemm --api-key-env VAR serve`.",
        ),
    ] = None,
    slots: Annotated[
        int, typer.Option("--slots", help="Generations at once (above 1 only with --backend openai).")
    ] = 1,
    queue: Annotated[int, typer.Option("--queue", help="Requests that may wait for a slot; more get 429.")] = 16,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per request, queueing included.")] = 300.0,
    model: ModelOpt = None,
    quant: QuantOpt = None,
    device: DeviceOpt = None,
    backend: BackendOpt = None,
    api_base: ApiBaseOpt = None,
    images_from: ImagesFromOpt = None,
    allow_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-origin",
            help="A web origin (https://app.example) whose pages may call the API (repeatable); others get 403.",
        ),
    ] = None,
) -> None:
    """Serve an OpenAI-compatible API (/v1/models, /v1/chat/completions) with repo-grounded answers."""
    from codemm.repo.walk import check_repo_root
    from codemm.serve import ServeConfig, check_bind, create_app, listen, read_api_key, serve_forever
    from codemm.session import AskSession

    key = read_api_key(api_key_env)
    check_bind(host, key)  # before anything slow: an exposed server without a key never starts
    config = ServeConfig(api_key=key, slots=slots, queue=queue, timeout_s=timeout,
                         allowed_origins=tuple(allow_origin or ()))  # fmt: skip
    root = check_repo_root(repo)
    # The served repository's codemm.toml applies (as for `codemm mcp`), not the current dir's.
    settings = settings_for(ctx, root, model=model, quant=quant, device=device, backend=backend, api_base=api_base,
                            images_from=images_from)  # fmt: skip
    # The repository is set before the app is built: the app mounts the MCP tools at /mcp for it.
    session = AskSession(settings, repo=root)
    app_ = create_app(session, config, repo=root)  # /mcp serves root's tools
    sock = listen(host, port)  # a busy port fails now, not after the model has loaded
    try:
        session.index = refresh_index(root, settings=settings)[0]
        session.repo = session.index.root
        session.load_model()
        address = sock.getsockname()
        typer.echo(f"codemm serve: {settings.model} ({settings.backend}) answering about {session.repo}; "
                   f"OpenAI API at http://{host}:{address[1]}/v1", err=True)  # fmt: skip
        serve_forever(app_, sock)
    finally:
        sock.close()
        session.close()
