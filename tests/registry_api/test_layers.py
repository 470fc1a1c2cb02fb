"""The registry's packages depend one way: no cycle between them, and the domain never imports the background loops."""

import collections
import re
from pathlib import Path

import registry_api

ROOT = Path(registry_api.__file__).parent
_IMPORT = re.compile(r"^\s*(?:from|import) registry_api\.([a-z_]+)", re.M)
# The composition roots: they start the background loops beside the domain.
ROOTS = {"main", "cli", "background"}


def package_edges() -> set[tuple[str, str]]:
    edges = set()
    for path in ROOT.rglob("*.py"):
        package = path.relative_to(ROOT).parts[0].removesuffix(".py")
        edges |= {(package, target) for target in _IMPORT.findall(path.read_text()) if target != package}
    return edges


def test_no_package_depends_back_on_one_that_depends_on_it() -> None:
    graph = collections.defaultdict(set)
    edges = package_edges()
    for source, target in edges:
        graph[source].add(target)
    cycles = []
    for source, target in sorted(edges):
        stack, seen = [target], set()
        while stack:
            package = stack.pop()
            if package == source:
                cycles.append(f"{source} -> {target} -> ... -> {source}")
                break
            if package not in seen:
                seen.add(package)
                stack.extend(graph[package])
    assert cycles == []


def test_the_domain_never_imports_the_background_loops() -> None:
    importers = {source for source, target in package_edges() if target == "background"}
    assert importers <= ROOTS
