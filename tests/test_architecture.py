"""The layout holds (ARCHITECTURE.md): rooms on floors that import only downward, no import circle
(module- and function-level imports alike), small modules and functions, imports at the top unless
a comment says why, no gradio in the core, and a map that names every module."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "idia_core"
# each room's floor; a room is a folder of idia_core, or one module of its ground floor (floor 0)
FLOORS = {"zoo": 3, "text": 4, "sandbox": 5, "attack": 6, "audit": 7, "chat": 8, "cli": 8, "serve": 9,
          "idia_core.__main__": 9}   # the entry point of ``python -m idia_core``
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported idia_core module, line, inside a function) for every import statement of a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              for n in ast.walk(f) if n is not f}
    out = []
    for node in ast.walk(tree):
        inner = id(node) in nested
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, inner) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path, node)
            for a in node.names:
                full = f"{base}.{a.name}"
                out.append((full if full in MODULES else base, node.lineno, inner))
    return out


GRAPH = {m: {t for t, _, _ in _imports(m, p) if t in MODULES and t != m} for m, p in MODULES.items()}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in FLOORS) else module


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_walk_sees_the_whole_package():
    assert len(MODULES) > 60 and "idia_core.attack.rule" in MODULES and "idia_core.chat.controller" in MODULES
    assert "idia_core.zoo.load" in GRAPH["idia_core.attack.run"]          # a module-level import
    assert "idia_core.attack.run" in GRAPH["idia_core.cli.main"]           # a function-level one
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_circle_between_modules():
    assert _cycle(GRAPH) is None, " -> ".join(_cycle(GRAPH))


def test_rooms_import_only_the_floors_below():
    upward = []
    for module, targets in GRAPH.items():
        for target in targets:
            a, b = _room(module), _room(target)
            # the ground floor's modules (floor 0) may use each other; every other room only lower floors
            if a != b and FLOORS.get(b, 0) > 0 and FLOORS.get(a, 0) <= FLOORS[b]:
                upward.append(f"{module} -> {target}")
    assert not upward, upward
    rooms = {r: {_room(t) for m in GRAPH if _room(m) == r for t in GRAPH[m]} - {r} for r in map(_room, GRAPH)}
    assert _cycle(rooms) is None


def test_the_core_never_imports_gradio():
    offenders = [f"{m}:{line}" for m, p in MODULES.items() for t, line, _ in _imports(m, p)
                 if t.split(".")[0] in ("gradio", "gradio_client", "spaces")]
    assert not offenders, offenders


def test_the_agent_imports_neither_gradio_nor_torch_at_its_top():
    """``chat/`` is the agent: a message and a state in, replies out. The server's mechanics (and the
    GPU, and the UI) are elsewhere, so none of its modules imports them when it loads."""
    heavy = ("gradio", "gradio_client", "spaces", "torch", "open_clip", "starlette")
    offenders = [f"{m}:{line}" for m, p in MODULES.items() if m.startswith("idia_core.chat")
                 for t, line, inner in _imports(m, p) if not inner and t.split(".")[0] in heavy]
    assert not offenders, offenders


def test_only_config_reads_the_environment():
    """``idia_core.config`` reads every variable (one idea of "true", one table in the docs); other
    modules ask it. Writing a variable (a child process's, Ray's own) is not reading one."""
    readers = []
    for module, path in MODULES.items():
        if module == "idia_core.config":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            call = node.func if isinstance(node, ast.Call) else None
            if isinstance(call, ast.Attribute) and (call.attr == "getenv" or (
                    call.attr == "get" and isinstance(call.value, ast.Attribute) and call.value.attr == "environ")):
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and \
                    isinstance(node.value, ast.Attribute) and node.value.attr == "environ":
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not readers, readers


def _python_files():
    return [*MODULES.values(), ROOT / "app.py", *sorted((ROOT / "bench").glob("*.py"))]


def test_no_module_is_too_long():
    long = {str(p.relative_to(ROOT)): n for p in _python_files()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, long


def test_no_function_is_too_long():
    long = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, long


def test_imports_inside_functions_say_why():
    """Imports sit at the top of a module; one inside a function carries a comment saying why (its
    start-up cost) on its line."""
    silent = []
    for module, path in MODULES.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for _, line, inner in _imports(module, path):
            if inner and "#" not in lines[line - 1]:
                silent.append(f"{path.relative_to(ROOT)}:{line}: {lines[line - 1].strip()}")
    assert not silent, silent


def test_the_map_names_every_module_and_nothing_else():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(idia_core/[\w/]+\.py)`", text))
    files = {str(p.relative_to(ROOT)) for p in MODULES.values()}
    assert not files - named, f"modules missing from ARCHITECTURE.md: {sorted(files - named)}"
    assert not named - files, f"ARCHITECTURE.md names modules that do not exist: {sorted(named - files)}"


def test_the_public_api_is_unchanged():
    import idia_core

    for name in ("load_model", "run_idia", "majority_votes", "batch_idia", "IdiaResult", "IdiaSettings",
                 "IdiaModel", "IdiaInputError", "ModelUnavailableError", "CATALOGUE", "parse_spec",
                 "build_candidate_pool", "CandidatePool", "TextEmbeddingCache", "load_photo", "load_photos", "Photo",
                 "load_templates", "fill_template", "validate_template", "validate_name", "normalize_name", "limits"):
        assert getattr(idia_core, name) is not None and name in idia_core.__all__
    assert idia_core.majority_votes.__module__ == "idia_core.attack.rule"
    with pytest.raises(AttributeError):
        idia_core.not_a_name   # noqa: B018
