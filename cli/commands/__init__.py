"""One module per ``brokerdesk`` subcommand, each with ``register(subparsers)``."""
