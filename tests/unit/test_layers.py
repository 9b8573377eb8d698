"""The layers' dependency direction (ARCHITECTURE.md, Layout), read from the source.

agent -> models -> kernels and agent -> media -> kernels; models and media never import
each other or agent; kernels imports numpy and its fast paths' libraries, nothing else.
The lab (offline tooling) may use every layer, and only the CLI uses the lab, lazily,
inside its commands, so that the live runtime never loads it. Nothing in the package
imports `tests`.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ("agent", "media", "models", "kernels")
LAYERS = (*RUNTIME, "lab")

MAY_IMPORT = {
    "kernels": {"kernels"},
    "media": {"media", "kernels"},
    "models": {"models", "kernels"},
    "agent": {"agent", "media", "models", "kernels"},
    "lab": set(LAYERS),
}
"""Which omnivox packages each layer's modules may import."""

KERNEL_LIBRARIES = {"numpy", "soxr"}
"""Third-party imports kernels may make: numpy, and soxr (resample's fast path)."""

LAZY_LAB_USERS = {"agent/cli.py"}
"""Runtime modules that may import omnivox.lab, and only inside functions."""


@dataclass(frozen=True)
class Import:
    path: str
    """Relative to the repository root, e.g. "agent/cli.py"."""
    line: int
    module: str
    """Absolute, e.g. "omnivox.agent.config" or "numpy.typing"."""
    lazy: bool
    """Inside a function body: runs when called, not when the module is imported."""

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.module}"


def _package(path: Path) -> list[str]:
    """The package a module file belongs to, e.g. ["omnivox", "agent", "turns"]."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ["omnivox", *parts[:-1]]


def _imports(path: Path, text: str | None = None) -> list[Import]:
    """The imports in the module at `path` (its `text`, if given, instead of the file's)."""
    source = path.read_text(encoding="utf-8") if text is None else text
    tree = ast.parse(source, str(path))
    rel = path.relative_to(ROOT).as_posix()
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(rel, node.lineno, a.name, lazy) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = _package(path)
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            # `from omnivox import agent` imports omnivox.agent
            names = [f"omnivox.{a.name}" for a in node.names] if module == "omnivox" else [module]
            found.extend(Import(rel, node.lineno, name, lazy) for name in names)
        inner = lazy or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return found


def _layer_imports(layer: str) -> list[Import]:
    return [i for path in sorted((ROOT / layer).rglob("*.py")) for i in _imports(path)]


def _omnivox_layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "omnivox" and len(parts) > 1 else None


def test_every_layer_has_modules() -> None:
    for layer in LAYERS:
        assert list((ROOT / layer).rglob("*.py")), f"{layer}/ has no modules: layout changed?"


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    wrong = [
        str(i)
        for i in _layer_imports(layer)
        if (target := _omnivox_layer(i.module)) is not None
        and target not in MAY_IMPORT[layer]
        and not (target == "lab" and i.path in LAZY_LAB_USERS)
    ]
    assert not wrong, f"{layer} may import only {sorted(MAY_IMPORT[layer])}:\n" + "\n".join(wrong)


def test_the_runtime_imports_the_lab_only_lazily_from_the_cli() -> None:
    eager = [
        str(i)
        for layer in RUNTIME
        for i in _layer_imports(layer)
        if _omnivox_layer(i.module) == "lab" and not i.lazy
    ]
    assert not eager, "the live runtime must not load omnivox.lab:\n" + "\n".join(eager)


def test_kernels_import_only_numpy_their_fast_paths_and_the_standard_library() -> None:
    allowed = set(sys.stdlib_module_names) | KERNEL_LIBRARIES | {"omnivox"}
    wrong = [str(i) for i in _layer_imports("kernels") if i.module.split(".")[0] not in allowed]
    assert not wrong, "\n".join(wrong)


def test_the_package_never_imports_the_tests() -> None:
    wrong = [
        str(i)
        for layer in LAYERS
        for i in _layer_imports(layer)
        if i.module == "tests" or i.module.startswith("tests.")
    ]
    assert not wrong, "installed code cannot import tests/:\n" + "\n".join(wrong)


def test_the_checker_resolves_relative_and_lazy_imports() -> None:
    source = "from ..config import A\nfrom . import b\ndef f():\n    from omnivox import lab\n"
    found = _imports(ROOT / "agent" / "turns" / "policy.py", source)
    assert [(i.module, i.lazy) for i in found] == [
        ("omnivox.agent.config", False),
        ("omnivox.agent.turns", False),
        ("omnivox.lab", True),
    ]


def test_starting_the_cli_loads_no_lab_module() -> None:
    code = (
        "import sys\n"
        "from omnivox.agent.cli import build_parser\n"
        "build_parser().parse_args(['bench', 'kernels'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('omnivox.lab')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"
