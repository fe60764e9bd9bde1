"""Settings: the msgspec settings machinery (structs, type introspection, plain-words
problems), the ``listen`` settings and where they come from (TOML, environment, flags),
and the command-line flag groups shared by the subcommands."""
