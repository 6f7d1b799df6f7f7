"""The shape docs/architecture.md describes: no module imports another that (directly or
through others) imports it back. The layers themselves are import-linter's contracts,
run by `make lint`."""

from __future__ import annotations

import grimp


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in edges[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return found


def test_no_module_of_inboxcrm_is_part_of_an_import_cycle() -> None:
    graph = grimp.build_graph("inboxcrm")
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]


def test_the_mail_package_imports_no_consumer_of_mail() -> None:
    graph = grimp.build_graph("inboxcrm")
    consumers = ("inboxcrm.leads", "inboxcrm.labels", "inboxcrm.pipeline", "inboxcrm.setup")
    for module in graph.find_descendants("inboxcrm.mail") | {"inboxcrm.mail"}:
        imported = graph.find_modules_directly_imported_by(module)
        assert not [m for m in imported if m.startswith(consumers)], module
