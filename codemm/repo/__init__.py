"""How codemm knows a repository: walk, parse, chunk, index, map and retrieve."""
