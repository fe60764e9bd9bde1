"""Shared pytest set-up. Each fixture family lives in its own ``fx_*.py`` module."""

pytest_plugins = [
    "fx_models",
    "fx_export",
    "fx_audio",
    "fx_train",
    "fx_mosquitto",
    "fx_pulse",
    "fx_history",
    "fx_listen",
]
