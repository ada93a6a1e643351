"""The package's imports point one way: no cycles, and only down the layers the package docstring states."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "evalib"
# the layer of every component (first name under evalib); keep in step with evalib/__init__.py's docstring
LAYERS = {
    "depth": 1, "paths": 1, "cli": 1, "safeio": 1,
    "synth": 2, "models": 2, "metrics": 2, "plots": 2, "profiles": 2,
    "data": 3, "losses": 3, "claims": 3, "unseen": 3, "plan": 3,
    "train": 4, "baselines": 4,
    "predict": 5,
    "evaluation": 6, "widgets": 6, "photobench": 6, "report": 6,
    "reproduce": 7, "evidence": 7,
    "experiment": 8,
    "__main__": 9, "__init__": 9,
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(root: Path = PACKAGE) -> dict[str, set[str]]:
    """{module: evalib modules it imports anywhere in its body}, relative imports resolved."""
    known = {module_name(p, root) for p in root.rglob("*.py")}
    graph = {}
    for path in root.rglob("*.py"):
        name = module_name(path, root)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                subs = {f"{target}.{a.name}" for a in node.names} & known
                if subs and len(subs) == len(node.names):
                    found |= subs  # "from . import scene": the submodules, not the package's __init__
                else:
                    found.add(target)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = {t for t in found if t in known and t != name}
    return graph


def component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in sorted(graph.get(m, ())):
            if state.get(t) == "open":
                return stack[stack.index(t):] + [t]
            if t not in state:
                found = visit(t)
                if found:
                    return found
        state[m] = "done"
        stack.pop()
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def wrong_way(graph: dict[str, set[str]]) -> list[str]:
    """Imports from a component into one of the same or a higher layer (other than itself)."""
    bad = []
    for m, targets in graph.items():
        for t in targets:
            a, b = component(m), component(t)
            if a != b and b != "__init__" and LAYERS[b] >= LAYERS[a]:
                bad.append(f"{m} (layer {LAYERS[a]}) imports {t} (layer {LAYERS[b]})")
    return sorted(bad)


def test_every_component_has_a_layer():
    components = {component(m) for m in imports()}
    assert components <= set(LAYERS), f"place {sorted(components - set(LAYERS))} in LAYERS and the package docstring"


def test_no_import_cycles():
    assert cycle(imports()) is None, " -> ".join(cycle(imports()))


def test_imports_only_go_down_the_layers():
    assert wrong_way(imports()) == []


def test_the_docstring_states_the_layers():
    import evalib

    for name in LAYERS:
        if not name.startswith("__"):
            assert f"`{name}`" in evalib.__doc__, f"evalib's docstring does not place `{name}`"


def test_the_docstring_lists_every_module_of_the_subpackages():
    import evalib

    for sub in ("synth", "models", "data", "train"):
        for path in sorted((PACKAGE / sub).glob("*.py")):
            if path.stem != "__init__":
                assert f"`{path.stem}`" in evalib.__doc__, f"evalib's docstring does not describe {sub}/{path.name}"


@pytest.mark.parametrize("bad", ["metrics -> train", "cycle"])
def test_the_checks_catch_a_wrong_import(tmp_path, bad):
    """A copy of the package with one import added on purpose fails the checks."""
    import shutil

    copy = tmp_path / "evalib"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    if bad == "cycle":  # two modules of one package that import each other
        (copy / "data" / "store.py").write_text((copy / "data" / "store.py").read_text() + "\nfrom . import pack\n")
        assert cycle(imports(copy)) is not None
    else:  # a low layer reaching up
        (copy / "metrics.py").write_text((copy / "metrics.py").read_text() + "\nfrom .train import fit\n")
        assert any(line.startswith("evalib.metrics (layer 2) imports evalib.train") for line in wrong_way(imports(copy)))


def test_the_renderer_stays_apart_from_storage_and_loading():
    """A user who brings the original dataset never reads the renderer: data's storage and loaders don't import it."""
    graph = imports()
    for module in ("evalib.data.store", "evalib.data.dataset", "evalib.data.loaders", "evalib.data.fast",
                   "evalib.data.pack"):
        assert not any(t.startswith("evalib.synth") for t in graph[module]), module
