"""The import rules of ../shared/ARCHITECTURE.md over every module of the project, read with ast.

- no import circle between modules, imports under TYPE_CHECKING and inside functions included;
- no module uses another module's private name: `from x import _y`, `x._y` on an imported
  module, or `obj._y` where `_y` is defined only in other modules (a desk calling the venue's
  private methods);
- imports point downward in the layer picture (tests/ and benchmarks/ are exempt from this one).
A new package or module is covered as soon as its file exists; a top-level package the picture
does not name fails until it is placed in LAYERS.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {  # rank in the picture: a package imports only packages of lower rank
    "techboard": 4,
    "studies": 3,
    "gateway": 3,
    "simulation": 2,
    "exchange": 1,
    "matching_engine": 0,
    "instruments": 0,
}
EXEMPT = {"tests", "benchmarks"}  # may import any layer; still bound by the other two rules
SKIP = {".venv", ".git", "build", "dist", "out", "node_modules"}


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Return every project module by dotted name (packages by their __init__)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if not parts or parts[0] in SKIP or parts[0].startswith(".") or len(parts) == 1:
            continue
        if any(p.endswith(".egg-info") or p == "__pycache__" for p in parts):
            continue
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def private(name: str) -> bool:
    """Return whether a name is private (_x, not __x__)."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


class Module:
    """One module's imports and private-name uses, from its syntax tree."""

    def __init__(self, name: str, path: Path, modules: dict[str, Path], root: Path) -> None:
        """Parse the module and collect what it imports and uses."""
        self.name, self.path, self.where = name, path, path.relative_to(root)
        self.package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        self.tree = ast.parse(path.read_bytes(), str(path))
        self.imports: dict[str, int] = {}  # imported project module -> first line
        self.bound: dict[str, str] = {}  # local name -> project module it names
        self.private_imports: list[tuple[int, str]] = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    target = self._project(alias.name, modules)
                    if target:
                        self.imports.setdefault(target, node.lineno)
                        if alias.asname:
                            self.bound[alias.asname] = alias.name
                        else:
                            head = alias.name.partition(".")[0]
                            self.bound.setdefault(head, head)
                    if any(private(part) for part in alias.name.split(".")) and target:
                        self.private_imports.append((node.lineno, alias.name))
            elif isinstance(node, ast.ImportFrom):
                base = self._absolute(node)
                if self._project(base, modules) is None:
                    continue
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    target = full if full in modules else self._project(base, modules)
                    self.imports.setdefault(target, node.lineno)
                    if full in modules:
                        self.bound[alias.asname or alias.name] = full
                    if private(alias.name) or any(private(p) for p in base.split(".")):
                        self.private_imports.append((node.lineno, full))

    def _absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = self.package.split(".")
        base = ".".join(parts[: len(parts) - node.level + 1])
        return f"{base}.{node.module}" if node.module else base

    @staticmethod
    def _project(name: str, modules: dict[str, Path]) -> str | None:
        """Return the longest project module that `name` is or lies in (None: not ours)."""
        parts = name.split(".")
        for n in range(len(parts), 0, -1):
            candidate = ".".join(parts[:n])
            if candidate in modules:
                return candidate
        return None

    def defined_private(self) -> set[str]:
        """Return the private names this module defines (functions, classes, attributes)."""
        names = set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
        return {name for name in names if private(name)}

    def attribute_uses(self) -> list[tuple[int, str | None, str]]:
        """Return (line, imported module or None, attribute) of every private attribute read
        on something other than self or cls."""
        uses = []
        for node in ast.walk(self.tree):
            if not (isinstance(node, ast.Attribute) and private(node.attr)):
                continue
            value = node.value
            if isinstance(value, ast.Name) and value.id in ("self", "cls"):
                continue
            uses.append((node.lineno, self._module_of(value), node.attr))
        return uses

    def _module_of(self, node: ast.expr) -> str | None:
        """Return the project module an expression names (a.b.c through the imports), or None."""
        chain = []
        while isinstance(node, ast.Attribute):
            chain.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.bound:
            return None
        return ".".join([self.bound[node.id], *reversed(chain)])


@pytest.fixture(scope="module")
def project() -> dict[str, Module]:
    modules = project_modules()
    return {name: Module(name, path, modules, ROOT) for name, path in modules.items()}


def ancestors(name: str) -> list[str]:
    """Return the packages above a module (a.b.c: a, a.b)."""
    parts = name.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts))]


def edges(project: dict[str, Module], v: str) -> set[str]:
    """Return the modules that importing v runs: its imports and their packages' __init__
    (those above v itself are already running when v loads)."""
    own = set(ancestors(v))
    runs = set(project[v].imports)
    runs |= {a for t in project[v].imports for a in ancestors(t) if a not in own and a in project}
    return runs - {v}


def import_circles(project: dict[str, Module]) -> list[list[str]]:
    """Return the import circles: each strongly connected group of modules (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges(project, v)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for v in sorted(project):
        if v not in index:
            visit(v)
    return sorted(circles)


def private_name_uses(project: dict[str, Module]) -> list[str]:
    """Return every use of another module's private name, as 'path:line: what'."""
    defined = {name: module.defined_private() for name, module in project.items()}
    elsewhere: dict[str, set[str]] = {}
    for name, names in defined.items():
        for attr in names:
            elsewhere.setdefault(attr, set()).add(name)
    found = []
    for module in project.values():
        where = module.where
        for line, full in module.private_imports:
            found.append(f"{where}:{line}: imports {full}")
        for line, target, attr in module.attribute_uses():
            if target is not None and target in project and target != module.name:
                found.append(f"{where}:{line}: uses {target}.{attr}")
            elif target is None and attr not in defined[module.name] and attr in elsewhere:
                owners = ", ".join(sorted(elsewhere[attr]))
                found.append(f"{where}:{line}: uses .{attr}, private to {owners}")
    return sorted(found)


def upward_imports(project: dict[str, Module]) -> list[str]:
    """Return every import that points up or sideways in the layer picture."""
    found = []
    for module in project.values():
        top = module.name.partition(".")[0]
        if top in EXEMPT:
            continue
        where = module.where
        if top not in LAYERS:
            found.append(f"{where}: package {top} is not in the layer picture")
            continue
        for target, line in module.imports.items():
            other = target.partition(".")[0]
            if other != top and (other not in LAYERS or LAYERS[other] >= LAYERS[top]):
                found.append(f"{where}:{line}: {top} imports {target}")
    return sorted(found)


def test_the_scan_covers_every_package(project):
    tops = {name.partition(".")[0] for name in project}
    assert {"exchange", "matching_engine", "instruments", "techboard", "tests"} <= tops
    assert "exchange.mechanisms.desk" in project["exchange.mechanisms.registry"].imports


def test_no_import_circle(project):
    assert import_circles(project) == []


def test_no_module_uses_another_modules_private_names(project):
    assert private_name_uses(project) == []


def test_imports_point_down_the_layers(project):
    assert upward_imports(project) == []


def write(root: Path, files: dict[str, str]) -> dict[str, Module]:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    modules = project_modules(root)
    return {name: Module(name, path, modules, root) for name, path in modules.items()}


def test_the_rules_catch_a_circle_a_private_name_and_an_upward_import(tmp_path):
    project = write(
        tmp_path,
        {
            "exchange/__init__.py": "",
            "exchange/venue.py": "from exchange import desk\n\nclass V:\n    def _run(self): ...\n",
            "exchange/desk.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from exchange.venue import V\nfrom . import kernel as k\n"
                "def f(v):\n    v._run()\n    return k._step\n"
            ),
            "exchange/kernel.py": "from matching_engine.book import _core\n_step = 1\n",
            "exchange/api.py": "from exchange.mech.registry import find\n",
            "exchange/mech/__init__.py": "from exchange.mech import mm  # registers\n",
            "exchange/mech/registry.py": "def find(): ...\n",
            "exchange/mech/mm.py": "from exchange.mech import registry\nimport exchange.api\n",
            "matching_engine/__init__.py": "",
            "matching_engine/book.py": "import exchange.kernel\n_core = 0\n",
        },
    )
    assert import_circles(project) == [
        ["exchange.api", "exchange.mech", "exchange.mech.mm"],  # through the package's __init__
        ["exchange.desk", "exchange.venue"],
        ["exchange.kernel", "matching_engine.book"],
    ]
    assert private_name_uses(project) == [
        "exchange/desk.py:6: uses ._run, private to exchange.venue",
        "exchange/desk.py:7: uses exchange.kernel._step",
        "exchange/kernel.py:1: imports matching_engine.book._core",
    ]
    assert upward_imports(project) == [
        "matching_engine/book.py:1: matching_engine imports exchange.kernel"
    ]
