"""Training side of coughwatch (needs the ``[train]`` extra: torch, torchaudio, onnx)."""
