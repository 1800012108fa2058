"""Module walls: reading a page loads no training code, and htr's modules import one another without a circle."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTR = ROOT / "htr"
LETTER = ROOT / "examples" / "letter.jpg"
# Training, synthetic data and ground truth on disk (the old homes of the detector's training code included).
TRAINING = ("htr.train", "htr.synth", "htr.data", "htr.detection.data", "htr.detection.targets", "htr.detection.loss")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the htr modules it imports, from every import statement of its file: at module level and
    inside functions alike (a circle closed by a deferred import is still a circle). ``from pkg import name``
    counts as importing ``pkg.name`` where that is a module, else ``pkg``."""
    files = {module_name(p): p for p in HTR.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                    base = f"{anchor}.{base}" if base else anchor
                found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names}
        graph[name] = {m for m in found if m in files and m != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_among_modules():
    graph = import_graph()
    assert len(graph) > 60 and "htr.recognition.fastdecode" in graph["htr.recognition.decode"]
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]  # the check itself
    assert circles(graph) == []


def test_no_import_circle_among_packages():
    """Nor between htr's folders (recognition and data, say) taken as wholes."""
    def top(name: str) -> str:
        return ".".join(name.split(".")[:2])

    packages: dict[str, set[str]] = {}
    for name, imported in import_graph().items():
        packages.setdefault(top(name), set()).update(top(m) for m in imported if top(m) != top(name))
    assert circles(packages) == []


@pytest.mark.skipif(not LETTER.is_file(), reason="examples/letter.jpg is absent")
def test_reading_a_page_loads_no_training_code():
    code = ("import sys; from htr.pipeline import read_page\n"
            f"page = read_page({str(LETTER)!r})\n"
            "assert page.lines, 'no line read'\n"
            f"print(sorted(m for m in sys.modules if m.startswith({TRAINING!r})))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
