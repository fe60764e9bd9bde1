"""Where events go: the cough event itself, the sink interface, and the local outputs
(stdout JSON lines, events file, scores CSV). MQTT is in :mod:`monitor.mqtt`."""
