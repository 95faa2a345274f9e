"""No import circle among our own modules. Read statically (every `import` and `from ... import`
anywhere in a module, function-level ones too, since a lazy import is still a dependency), so a
circle fails here before it can fail at run time in an order nobody tried."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("apps", "ml", "liveness_project", "liveness_sdk")


def our_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imported_names(module: str, path: Path, node: ast.Import | ast.ImportFrom,
                   modules: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        package = package[:len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    # `from package import name` depends on the submodule when `name` is one
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
            for alias in node.names]


def module_imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every name the module imports, anywhere in it, ours and other packages' alike."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update(imported_names(module, path, node, modules))
    return names


def import_graph() -> dict[str, set[str]]:
    modules = our_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for name in module_imports(module, path, modules):
            while name and name not in modules:      # a name inside a module
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_our_modules_import_each_other_without_a_circle():
    graph = import_graph()
    assert len(graph) > 100, "the walk found too few modules to be looking at the tree"
    assert circles(graph) == []


def test_the_circle_finder_sees_a_circle_through_lazy_and_relative_imports(tmp_path):
    graph = {"ml.a": {"ml.b"}, "ml.b": {"ml.c"}, "ml.c": {"ml.a"}, "ml.d": {"ml.a"},
             "apps.x": {"apps.y"}, "apps.y": {"apps.x"}, "apps.z": set()}
    assert sorted(circles(graph)) == [["apps.x", "apps.y"], ["ml.a", "ml.b", "ml.c"]]
    module = tmp_path / "pad.py"
    module.write_text("def load():\n    from .silent_face import Model\n")
    node = next(n for n in ast.walk(ast.parse(module.read_text()))
                if isinstance(n, ast.ImportFrom))
    assert imported_names("ml.pad", module, node, {"ml.silent_face": module}) == [
        "ml.silent_face"]


def test_the_ml_layer_imports_nothing_of_the_django_layer():
    graph = import_graph()
    upward = {module: sorted(t for t in targets if not t.startswith("ml"))
              for module, targets in graph.items() if module.startswith("ml")}
    assert {m: t for m, t in upward.items() if t} == {}
