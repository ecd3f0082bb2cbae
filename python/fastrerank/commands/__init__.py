"""The subcommands of the ``fastrerank`` command line, one module each.

Every module has ``register(subparsers)``, which adds its parser and sets ``func`` (called with
the parsed arguments, returning the exit status). Commands share only :mod:`.common`; they
never import each other.
"""

from __future__ import annotations

__all__ = ["MODULES"]

# In the order --help lists them.
MODULES = (
    "fastrerank.commands.rerank",  # rerank
    "fastrerank.commands.models",  # models, download, export
    "fastrerank.commands.bench",  # bench
    "fastrerank.commands.serve",  # serve
    "fastrerank.commands.doctor",  # doctor
)
