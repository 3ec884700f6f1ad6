"""The layering rule: the core never imports widget libraries; widgets never reach the server layer."""

import ast
from pathlib import Path

import lungdx_widgets

PACKAGE = Path(lungdx_widgets.__file__).parent
CORE = ["config.py", "types.py", "errors.py", "session.py", "triage.py",
        "store", "imaging", "model", "reports", "learning", "inference"]
WIDGET_LIBS = {"ipywidgets", "anywidget", "ipycanvas", "IPython.display"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            names.add("." * node.level + (node.module or ""))
    return names


def core_files() -> list[Path]:
    files: list[Path] = []
    for entry in CORE:
        p = PACKAGE / entry
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    return files


def test_core_never_imports_widget_libraries():
    files = core_files()
    assert len(files) > 30  # the rule is checked on the real tree
    offenders = {str(f.relative_to(PACKAGE)): sorted(m for m in imported_modules(f)
                                                     if m.split(".")[0] in {x.split(".")[0] for x in WIDGET_LIBS})
                 for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_core_never_imports_the_widget_or_app_layer():
    offenders = {}
    for f in core_files():
        bad = [m for m in imported_modules(f) if m.lstrip(".").split(".")[0] in {"widgets", "app", "server", "cli"}
               and m.startswith(".")]
        if bad:
            offenders[str(f.relative_to(PACKAGE))] = bad
    assert offenders == {}


def test_the_kernel_side_of_the_shared_model_never_imports_torch_or_the_model():
    """Kernels of ``lungdx serve`` use inference.client: importing torch there is the memory it saves."""
    for name in ("client.py", "wire.py"):
        modules = imported_modules(PACKAGE / "inference" / name)
        assert modules, name
        bad = {m for m in modules if m.split(".")[0] == "torch" or m.lstrip(".").split(".")[0] == "model"}
        assert bad == set(), (name, bad)
