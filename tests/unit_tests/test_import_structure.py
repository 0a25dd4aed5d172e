"""The package layering, read statically from the source: no import cycle, one-way layers.

Edges are module-level imports (imports inside functions are deferred on purpose and do not
count), ``if TYPE_CHECKING:`` blocks included; ``from p import x`` goes to ``p.x`` when that
is a module, else to ``p``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _modules(package: str) -> dict[str, Path]:
    found = {}
    for path in (ROOT / package).rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if isinstance(node, ast.If | ast.Try):
            for block in (node.body, node.orelse, getattr(node, "finalbody", [])):
                yield from _top_level(block)
            for handler in getattr(node, "handlers", []):
                yield from _top_level(handler.body)
        else:
            yield node


def import_graph(*packages: str) -> nx.DiGraph:
    """Module -> imported module, over the given packages (other imports left out)."""
    modules = {name: path for package in packages for name, path in _modules(package).items()}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _top_level(ast.parse(path.read_text()).body):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = node.module or ""
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join([*base, *([node.module] if node.module else [])])
                targets = [
                    f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source
                    for a in node.names
                ]
            graph.add_edges_from((name, t) for t in targets if t in modules and t != name)
    return graph


def test_the_walker_sees_a_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "loop").mkdir()
    (tmp_path / "loop" / "__init__.py").write_text("")
    (tmp_path / "loop" / "a.py").write_text("from loop import b\n")
    (tmp_path / "loop" / "b.py").write_text("if True:\n    from loop.a import x\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    cycles = [c for c in nx.strongly_connected_components(import_graph("loop")) if len(c) > 1]
    assert cycles == [{"loop.a", "loop.b"}]


def test_no_import_cycle() -> None:
    graph = import_graph("kedrec_agent", "training", "graphs")
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert cycles == []


def test_layers_are_one_way() -> None:
    graph = import_graph("kedrec_agent", "training", "graphs")
    agent_to_training = [(a, b) for a, b in graph.edges if a.startswith("kedrec_agent") and
                         b.startswith("training")]  # fmt: skip
    assert agent_to_training == []
    training_to_evaluation = [
        (a, b)
        for a, b in graph.edges
        if b.startswith("training.evaluation") and not a.startswith("training.evaluation")
    ]
    assert training_to_evaluation == []
