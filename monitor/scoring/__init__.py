"""From samples to events: the model file, the scorer (onnxruntime), the detector state
machine, the pipeline that joins them, the stream context and pipeline statistics."""
