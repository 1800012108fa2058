"""Where a corpus's sources come from: command-line GT folders (``[NAME=]FOLDER[:SPLIT]``) and corpus recipes
(``training/corpus.toml``)."""
from __future__ import annotations

from pathlib import Path

from htr.data.compile import SPLITS, Source
from htr.errors import UsageError


def parse_gt(spec: str) -> tuple[str, Path, str]:
    """``[NAME=]FOLDER[:train|:dev]`` -> (source name, folder, split rule). A folder named train or dev is
    all of that split; the source is then named after the folder above it."""
    name, _, rest = spec.rpartition("=") if "=" in spec else ("", "", spec)
    split = "hash"
    for s in SPLITS:
        if rest.endswith(":" + s):
            rest, split = rest[: -len(s) - 1], s
    folder = Path(rest)
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder")
    if split == "hash" and folder.resolve().name in SPLITS:
        split = folder.resolve().name
    if not name:
        name = folder.resolve().parent.name if folder.resolve().name in SPLITS else folder.resolve().name
    return name.lower().replace(" ", "_"), folder, split


def gt_sources(specs: list[str], document: str = "page", exclude: list[str] | None = None) -> list[Source]:
    """Sources from command-line GT arguments; folders of the same name join one source."""
    by_name: dict[str, Source] = {}
    for spec in specs:
        name, folder, split = parse_gt(spec)
        source = by_name.setdefault(name, Source(name, [], document=document, exclude=list(exclude or [])))
        source.folders.append((folder, split))
    return list(by_name.values())


def load_recipe(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"{path}: cannot read the recipe ({err})") from err


def recipe_sources(recipe: dict, root: Path, only: list[str] | None = None) -> list[Source]:
    """The sources of a corpus recipe whose repositories are laid out as ROOT/OWNER+NAME. Holdout sources
    (kept out of every model) only when ``only`` names them."""
    out = []
    for entry in recipe.get("source", []):
        if only is not None and entry["name"] not in only:
            continue
        if only is None and entry.get("holdout"):
            continue
        repo_dir = Path(root) / entry["repo"].replace("/", "+")
        if not repo_dir.is_dir():
            raise UsageError(f"{repo_dir}: not found (the files of {entry['repo']} at {entry['commit'][:12]}; "
                             "see training/build_corpus.py)")
        folders = [(repo_dir / p, entry.get("split", "hash")) for p in entry.get("paths", [""])]
        out.append(Source(entry["name"], folders, root=repo_dir, document=entry.get("document", "folder"),
                          exclude=list(entry.get("exclude", []))))
    return out
