"""The ``cough-monitor`` subcommands, one module each (see :data:`monitor.cli.SUBCOMMANDS`),
plus the replay timeline plot."""
