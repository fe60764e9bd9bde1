"""torch -> ONNX export of coughwatch models (needs the ``[train]`` extra)."""
