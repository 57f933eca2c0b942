"""Draw gtloc's package structure from its imports, and find import cycles.

Prints, for each top-level part of ``gtloc`` (a package such as ``inference`` or a module such as ``geo``), the
parts it imports, in layer order (every part lists only parts drawn below it when there is no cycle), then the
import cycles between modules, if any. ``docs/architecture.md`` holds this drawing; ``tests/test_structure.py``
checks that it is the one the code gives and that there is no cycle.

    python scripts/draw_structure.py
"""

from __future__ import annotations

import grimp

ROOT = "gtloc"


def part_of(module: str) -> str:
    """``gtloc.inference.predictor`` -> ``inference``; ``gtloc.geo`` -> ``geo``."""
    rest = module.split(".")[1:]
    return rest[0] if rest else "__init__"


def module_graph() -> dict[str, set[str]]:
    """Every gtloc module -> the gtloc modules it imports (function-level and type-checking imports included)."""
    graph = grimp.build_graph(ROOT)
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (each an import cycle), sorted (Tarjan's)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def part_graph(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    """The module graph collapsed to top-level parts, without edges inside a part or to the package root."""
    parts: dict[str, set[str]] = {}
    for module, imported in modules.items():
        source = part_of(module)
        parts.setdefault(source, set())
        parts[source] |= {part_of(m) for m in imported if part_of(m) not in (source, "__init__")}
    return parts


def layer_order(parts: dict[str, set[str]]) -> list[str]:
    """Parts from the top (imported by nothing below it) down: each after every part that imports it."""
    order: list[str] = []
    remaining = set(parts)
    while remaining:
        ready = sorted(p for p in remaining if not any(p in parts[q] for q in remaining if q != p))
        if not ready:  # a cycle between parts: draw the rest by name
            ready = sorted(remaining)
        order += ready
        remaining -= set(ready)
    return order


def drawing(modules: dict[str, set[str]] | None = None) -> str:
    """The drawing as text: one line per part, ``part -> what it imports``, then the cycles (or that there are
    none)."""
    modules = module_graph() if modules is None else modules
    parts = part_graph(modules)
    order = layer_order(parts)
    width = max(len(p) for p in parts)
    lines = [f"{p:<{width}} -> {', '.join(sorted(parts[p], key=order.index)) or '(nothing)'}" for p in order]
    found = cycles(modules)
    if found:
        lines += [f"cycle: {' <-> '.join(c)}" for c in found]
    else:
        lines.append(f"no import cycle among the {len(modules)} modules")
    return "\n".join(lines)


if __name__ == "__main__":
    print(drawing())
