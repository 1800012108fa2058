"""Rebuild htr's public training corpus from the recipe: fetch each repository at its commit, write out its
files, compile them.

    python training/build_corpus.py --root ~/.cache/htr/sources --out ~/.cache/htr/corpus [--git-dirs DIR]
        [--only NAME,...] [--workers 2] [--height PX]

For each source of training/corpus.toml the files of its repository at the recipe's commit are written into
ROOT/OWNER+NAME (skipped when ROOT/OWNER+NAME/.commit already names that commit). They come from a git directory
DIR/OWNER+NAME/repo (or DIR/OWNER+NAME) when --git-dirs is given, else from a clone of
https://github.com/OWNER/NAME made under ROOT/.git/. Blobs a partial copy lacks are listed in _missing.txt (their
pages are reported as having no image). Then ``htr data compile --recipe training/corpus.toml --sources-root
ROOT -o OUT`` compiles every source but the holdout one (``--only`` to choose).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

RECIPE = Path(__file__).with_name("corpus.toml")


def git(git_dir: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True, **kw)


def write_tree(git_dir: Path, commit: str, out: Path) -> tuple[int, int]:
    """Write the files of ``commit`` into ``out`` (UTF-8 paths kept); (written, missing)."""
    listing = git(git_dir, "ls-tree", "-r", "-z", commit).stdout.split(b"\0")
    entries = []
    for entry in filter(None, listing):
        meta, path = entry.split(b"\t", 1)
        mode, kind, sha = meta.split()
        if kind == b"blob":
            entries.append((sha.decode(), path.decode("utf-8", "surrogateescape")))
    checked = git(git_dir, "cat-file", "--batch-check", input=b"".join(f"{sha}\n".encode() for sha, _ in entries))
    present = {row.split()[0] for row in checked.stdout.decode().splitlines() if row.endswith(tuple("0123456789"))
               and row.split()[1] == "blob"}
    out.mkdir(parents=True, exist_ok=True)
    missing = []
    batch = subprocess.Popen(["git", f"--git-dir={git_dir}", "cat-file", "--batch"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    written = 0
    for sha, path in entries:
        if sha not in present:
            missing.append(path)
            continue
        batch.stdin.write(f"{sha}\n".encode())
        batch.stdin.flush()
        header = batch.stdout.readline().split()
        data = batch.stdout.read(int(header[2]))
        batch.stdout.read(1)  # the newline after each object
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written += 1
    batch.stdin.close()
    batch.wait()
    (out / "_missing.txt").write_text("".join(p + "\n" for p in missing), encoding="utf-8")
    return written, len(missing)


def source_git_dir(repo: str, root: Path, git_dirs: Path | None) -> Path:
    name = repo.replace("/", "+")
    if git_dirs is not None:
        for candidate in (git_dirs / name / "repo", git_dirs / name):
            if (candidate / "HEAD").exists() or (candidate / ".git").exists():
                return candidate / ".git" if (candidate / ".git").exists() else candidate
        raise SystemExit(f"{repo}: no git directory under {git_dirs}")
    clone = root / ".git" / name
    if not clone.exists():
        subprocess.run(["git", "clone", "--bare", f"https://github.com/{repo}", str(clone)], check=True)
    return clone


def main() -> int:
    try:
        import tomllib
    except ModuleNotFoundError:
        import tomli as tomllib
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", required=True, help="where the repositories' files are written")
    p.add_argument("--out", required=True, help="the corpus folder")
    p.add_argument("--git-dirs", help="a folder of existing git copies, as OWNER+NAME[/repo]")
    p.add_argument("--only", help="these sources (comma-separated; a holdout source only when named)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--height", type=int, default=0, help="crop height (default: the shipped recogniser's)")
    p.add_argument("--recipe", default=str(RECIPE))
    args = p.parse_args()
    recipe = tomllib.loads(Path(args.recipe).read_text(encoding="utf-8"))
    root = Path(args.root).expanduser()
    only = set(args.only.split(",")) if args.only else None
    for source in recipe["source"]:
        if (only is not None and source["name"] not in only) or (only is None and source.get("holdout")):
            continue
        out = root / source["repo"].replace("/", "+")
        stamp = out / ".commit"
        if stamp.exists() and stamp.read_text().strip() == source["commit"]:
            continue
        git_dir = source_git_dir(source["repo"], root, Path(args.git_dirs).expanduser() if args.git_dirs else None)
        written, missing = write_tree(git_dir, source["commit"], out)
        stamp.write_text(source["commit"] + "\n")
        print(f"{source['repo']}@{source['commit'][:12]}: {written} files, {missing} missing", flush=True)
    cmd = [sys.executable, "-m", "htr.cli", "data", "compile", "--recipe", args.recipe, "--sources-root", str(root),
           "-o", str(Path(args.out).expanduser()), "--workers", str(args.workers)]
    if args.only:
        cmd += ["--only", args.only]
    if args.height:
        cmd += ["--height", str(args.height)]
    return subprocess.run(cmd).returncode


if __name__ == "__main__":
    sys.exit(main())
