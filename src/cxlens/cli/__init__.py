"""The ``cxlens`` command line (Typer + Rich): thin shells over workspace and stage functions."""
