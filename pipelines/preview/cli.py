"""CLI subcommands of this package (registered by app.cli)."""


def register(subparsers) -> None:
    """Add this package's subcommands to ``restyle``."""
