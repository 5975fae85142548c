"""The model runtime: resolve a spec to a local checkpoint, load it, stream generations."""
