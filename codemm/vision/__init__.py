"""Screenshots and diagrams: image loading, OCR with layout, vision towers and VLMs."""
