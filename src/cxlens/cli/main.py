"""Entry point: builds the Typer app from the command modules and turns errors into one line.

Each command module exposes ``register(app, groups)``; heavy libraries are imported inside the
command functions so ``cxlens --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from cxlens.errors import CxlensError

app = typer.Typer(
    name="cxlens",
    help="cxlens — customer-contact intelligence: integrate, resolve, stitch, read, measure, decide.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)
groups: dict[str, typer.Typer] = {
    "eval": typer.Typer(help="Score a stage against synth ground truth.", no_args_is_help=True),
    "train": typer.Typer(help="Train a model from labelled examples.", no_args_is_help=True),
    "text": typer.Typer(help="Text analytics on stdin lines.", no_args_is_help=True),
    "user": typer.Typer(help="Manage web/API users.", no_args_is_help=True),
}
for _name, _group in groups.items():
    app.add_typer(_group, name=_name)

# Order = order in `cxlens --help`. A module that is not there yet is simply absent.
COMMAND_MODULES = (
    "cxlens.cli.core",
    "cxlens.cli.ingest",
    "cxlens.cli.identity",
    "cxlens.cli.metrics",
    "cxlens.cli.server",
    "cxlens.cli.text",
    "cxlens.cli.qa",
    "cxlens.cli.wfm",
)

for _module_name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(_module_name)
    except ModuleNotFoundError as _exc:
        if _exc.name != _module_name:
            raise
        continue
    _module.register(app, groups)


def main() -> None:
    """Run the CLI; a :class:`CxlensError` becomes one line on stderr and a non-zero exit."""
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    try:
        app()
    except CxlensError as exc:
        if debug:
            raise
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
