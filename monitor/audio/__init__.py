"""Audio in: file and stdin sources, the microphone (devices, stream, health), the ring buffer.

Everything here yields float32 mono blocks at the model's rate, stamped by sample index.
"""
