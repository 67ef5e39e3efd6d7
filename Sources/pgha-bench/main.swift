// pgha-bench: prints numbers. Subcommands: spec, transport.
