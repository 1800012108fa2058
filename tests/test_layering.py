"""The command line sits on the library, never under it: nothing outside ``htr/cli`` imports ``htr.cli`` (so no
circle of imports runs through it), and no module of the package is over 500 lines."""
import ast
import subprocess
import sys
from pathlib import Path

HTR = Path(__file__).resolve().parents[1] / "htr"
CLI = HTR / "cli"


def module_name(path: Path) -> str:
    parts = path.relative_to(HTR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module a file imports, or names as a string (importlib), in absolute form."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("htr."):
            names.add(node.value)
    return names


def is_cli(name: str) -> bool:
    return name == "htr.cli" or name.startswith("htr.cli.")


def test_nothing_outside_the_cli_imports_it():
    library = [p for p in HTR.rglob("*.py") if CLI not in p.parents]
    assert len(library) > 40 and HTR / "batch" / "runner.py" in library
    assert {"htr.cli.options", "htr.train.rec"} <= imported(CLI / "page.py") | imported(CLI / "train.py")
    offenders = {module_name(p): sorted(filter(is_cli, imported(p))) for p in library}
    assert {m: names for m, names in offenders.items() if names} == {}


def test_no_module_is_over_500_lines():
    sizes = {module_name(p): len(p.read_text(encoding="utf-8").splitlines()) for p in HTR.rglob("*.py")}
    assert {m: n for m, n in sizes.items() if n > 500} == {}


def test_building_the_command_line_loads_no_torch():
    """Every command's parser, the trainers' included, is built without torch (they fill theirs in when used)."""
    code = "import sys; from htr.cli import build_parser; build_parser(); assert 'torch' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
