"""The package's stages import each other in one direction: no loop between its folders and
top-level modules (a loop ties two stages together, so neither can be read or tested alone)."""

import ast
import os

from paths import ROOT

PACKAGE = "fast_scnn_tf"


def unit(module: str) -> str:
    """The folder or top-level module of the package that `module` (dotted) belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def import_graph() -> dict[str, set[str]]:
    """unit -> the units it imports from (module-level and function-level imports alike)."""
    graph = {}
    base = os.path.join(ROOT, PACKAGE)
    for folder, _, names in os.walk(base):
        for name in names:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
            module = module.removesuffix(".__init__")
            source = unit(module) if module != PACKAGE else PACKAGE
            with open(path) as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    targets = (
                        [f"{node.module}.{a.name}" for a in node.names]
                        if node.module == PACKAGE
                        else [node.module]
                    )
                elif isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                else:
                    continue
                for target in targets:
                    if target.startswith(PACKAGE + "."):
                        graph.setdefault(source, set()).add(unit(target))
    return {source: targets - {source} for source, targets in graph.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import loop as a path of units, or [] when there is none."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = "done"
        stack.pop()
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_the_package_has_no_import_loop_between_its_folders_and_modules():
    graph = import_graph()
    assert "config" in graph and "data" in graph["config"]  # the graph is read at all
    assert find_cycle(graph) == [], " -> ".join(find_cycle(graph))


def test_a_loop_is_found():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_the_package_root_holds_its_stage_folders_and_at_most_four_modules():
    """A reader finds the stages as folders; only what every stage shares sits beside them."""
    base = os.path.join(ROOT, PACKAGE)
    modules = sorted(
        name for name in os.listdir(base) if name.endswith(".py") and name != "__init__.py"
    )
    folders = {
        name for name in os.listdir(base) if os.path.isfile(os.path.join(base, name, "__init__.py"))
    }
    assert {"model", "data", "training", "evaluation", "export", "predict"} <= folders
    assert len(modules) <= 4, modules
