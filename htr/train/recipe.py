"""Training recipes as data: a trainer's options are one dataclass, saved with the run and reloaded on resume.

Where an option's value comes from, later sources winning: the dataclass's defaults, the recipe saved in the
run being resumed, a recipe file (``--config FILE``, TOML: ``lr = 8e-4``, ``data = ["~/corpus/hooker:3"]``; a
leading ``~`` is the home folder), the options given on the command line. A run writes what it trains with to OUT/recipe.toml, a file ``--config``
reads back; the recipes of the shipped weights are in ``training/recipes/``.
"""
from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path

import tomli_w

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from htr.errors import UsageError
from htr.files import atomic_write


def option(parser: argparse.ArgumentParser, recipe_cls, *flags: str, help: str = "", **kwargs) -> None:
    """A recipe option: absent from the parsed namespace unless given (so a saved or loaded recipe is not
    overridden by a default); its help ends with the dataclass's default where it has one."""
    name = kwargs.get("dest") or flags[0].lstrip("-").replace("-", "_")
    default = {f.name: f.default for f in dataclasses.fields(recipe_cls)}[name]
    if default is not None and "(default" not in help and kwargs.get("action") not in ("store_true", "store_false"):
        help = f"{help} (default: {','.join(default) if isinstance(default, list) else default})".lstrip()
    parser.add_argument(*flags, default=argparse.SUPPRESS, help=help, **kwargs)


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="a recipe (TOML: option = value, with the options' long "
                        "names, `-` as `_`), as a run writes to OUT/recipe.toml; options given here override it")


def given(args: argparse.Namespace, recipe_cls) -> dict:
    """The recipe options given on the command line."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(recipe_cls) if hasattr(args, f.name)}


def checked(recipe_cls, values: dict, where: str) -> dict:
    """``values`` with unknown names and wrong types refused (a ``UsageError`` naming ``where``); integers
    where a float is due become floats."""
    hints = typing.get_type_hints(recipe_cls)
    out = {}
    for name, value in values.items():
        if name not in hints:
            raise UsageError(f"{where}: unknown option {name!r} (known: {', '.join(sorted(hints))})")
        allowed = tuple(typing.get_origin(t) or t for t in (typing.get_args(hints[name]) or (hints[name],)))
        if float in allowed and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise UsageError(f"{where}: {name} = {value!r} is not a {hints[name]}")
        out[name] = value
    return out


def read_recipe(path: str | Path, recipe_cls) -> dict:
    """The options a TOML recipe file sets (checked against ``recipe_cls``)."""
    try:
        with open(path, "rb") as f:
            values = tomllib.load(f)
    except FileNotFoundError:
        raise UsageError(f"recipe {path} not found") from None
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"recipe {path} is not valid TOML: {err}") from None
    return {k: _home(v) for k, v in checked(recipe_cls, values, str(path)).items()}


def _home(value):
    """``~/...`` paths (alone or in a list) with the home folder put in, as a shell would."""
    if isinstance(value, list):
        return [_home(v) for v in value]
    return str(Path(value).expanduser()) if isinstance(value, str) and value.startswith("~") else value


def write_recipe(path: str | Path, recipe, header: str = "") -> None:
    """``recipe`` (a dataclass) as TOML that ``read_recipe`` reads back; None values are left out."""
    values = {k: v for k, v in dataclasses.asdict(recipe).items() if v is not None}
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    atomic_write(path, comment + tomli_w.dumps(values))


def recipe_of(recipe_cls, args: argparse.Namespace, saved: dict | None = None):
    """The run's recipe: the defaults, then ``saved`` (a resumed run's; names it lacks or no longer knows are
    ignored), then ``args.config``, then the options given in ``args``."""
    known = {f.name for f in dataclasses.fields(recipe_cls)}
    values = {k: v for k, v in (saved or {}).items() if k in known}
    if getattr(args, "config", None):
        values.update(read_recipe(args.config, recipe_cls))
    values.update(given(args, recipe_cls))
    return recipe_cls(**values)
