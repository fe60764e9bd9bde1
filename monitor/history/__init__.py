"""Cough history: every event kept in a local SQLite file, and the nightly report drawn from it.

* :mod:`~monitor.history.store` - the SQLite file (retention, size bound, de-duplication).
* :mod:`~monitor.history.sink` - the :class:`~monitor.output.sinks.EventSink` that feeds it from a
  thread of its own, so a slow or failing disk never holds up detection.
* :mod:`~monitor.history.nights` - night windows (``22:00-08:00`` local) and the
  "coughs last night" counter published in ``stats``.
* :mod:`~monitor.history.analysis` - coughs per hour, bouts, per-night totals.
* :mod:`~monitor.history.report_cli` - ``cough-monitor report`` (CSV, PNG, HTML).
"""
