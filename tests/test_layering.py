"""The apps depend on each other in one direction: members at the bottom, rewards above it, campaigns
on top, the project (loyalty_site) above them all. A lower app tells the ones above what happened
through signals (members.signals, rewards.signals) and never imports them.

Read from the source with ``ast``, so nothing here depends on what happens to be imported already.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["members", "rewards", "campaigns", "loyalty_site"]
RANK = {app: rank for rank, app in enumerate(LAYERS)}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for app in LAYERS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    }


def _imports(name: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import of the project's own code."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            targets = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                # ``from pkg import name``: the module pkg.name if there is one, else pkg (see _known).
                targets = [f"{base}.{alias.name}" for alias in child.names]
            for target in targets:
                if target.split(".")[0] in RANK:
                    found.append((target, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def _known(target: str, modules: dict[str, Path]) -> str | None:
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target or None


def upward(modules: dict[str, Path]) -> list[str]:
    return [
        f"{name}:{line} imports {target}"
        for name, path in modules.items()
        for target, line, _in_function in _imports(name, path)
        if RANK[target.split(".")[0]] > RANK[name.split(".")[0]]
    ]


def hidden(modules: dict[str, Path]) -> list[str]:
    """An import inside a function is how a cycle gets dodged; only AppConfig.ready may import
    (Django's place for connecting receivers once every app is loaded)."""
    return [
        f"{name}:{line} imports {target}"
        for name, path in modules.items()
        if path.name != "apps.py"
        for target, line, in_function in _imports(name, path)
        if in_function
    ]


def circles(modules: dict[str, Path]) -> list[str]:
    graph = {
        name: {
            known
            for target, _line, _f in _imports(name, path)
            if (known := _known(target, modules)) not in (None, name)
        }
        for name, path in modules.items()
    }
    state: dict[str, str] = {}
    found = []

    def walk(name, trail):
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                found.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif target not in state:
                walk(target, [*trail, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    return found


def test_no_app_imports_an_app_above_it():
    assert not (found := upward(_modules())), "\n".join(found)


def test_no_import_hides_inside_a_function():
    assert not (found := hidden(_modules())), "\n".join(found)


def test_modules_import_each_other_in_no_circle():
    assert not (found := circles(_modules())), "\n".join(found)


def test_the_checks_see_what_they_must_refuse(tmp_path):
    """The checks above would pass on nothing: a small house with every fault is refused."""
    sources = {
        "members.models": "from rewards.models import Voucher\n",
        "members.services": "def join():\n    from campaigns import services\n",
        "rewards.models": "from .ledger import post\n",
        "rewards.ledger": "from rewards import models\n",
    }
    modules = {}
    for name, source in sources.items():
        path = tmp_path / f"{name}.py"
        path.write_text(source)
        modules[name] = path
    assert upward(modules) == [
        "members.models:1 imports rewards.models.Voucher",
        "members.services:2 imports campaigns.services",
    ]
    assert hidden(modules) == ["members.services:2 imports campaigns.services"]
    assert circles(modules) == ["rewards.models -> rewards.ledger -> rewards.models"]
