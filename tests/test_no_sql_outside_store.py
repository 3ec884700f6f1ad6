"""No module outside ``store/`` runs SQL: the store is the one seam a second database backend implements."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import lungdx_widgets

PACKAGE = Path(lungdx_widgets.__file__).parent
DB_DRIVERS = {"sqlite3", "sqlite_utils", "psycopg", "psycopg2", "sqlalchemy", "asyncpg"}
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE|PRAGMA)\b",
                 re.IGNORECASE | re.DOTALL)
CURSOR_CALLS = {"execute", "executemany", "executescript", "fetchall", "fetchone"}


def sql_uses(path: Path) -> list[str]:
    """What in one module talks to a database directly: driver imports, ``.conn``, cursor calls, SQL text."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in DB_DRIVERS]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] in DB_DRIVERS:
            found.append(f"from {node.module}")
        elif isinstance(node, ast.Attribute) and node.attr == "conn":
            found.append(f".conn (line {node.lineno})")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CURSOR_CALLS:
            found.append(f".{node.func.attr}() (line {node.lineno})")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                and SQL.search(node.value):
            found.append(f"SQL text (line {node.lineno})")
    return found


def test_no_module_outside_the_store_runs_sql():
    files = [p for p in sorted(PACKAGE.rglob("*.py")) if p.relative_to(PACKAGE).parts[0] != "store"]
    assert len(files) > 60, "the rule is checked on the real tree"
    offenders = {str(p.relative_to(PACKAGE)): uses for p in files if (uses := sql_uses(p))}
    assert offenders == {}


def test_the_scan_sees_sql(tmp_path):
    """The check can fail: it finds each way of running SQL it looks for."""
    sample = tmp_path / "sample.py"
    sample.write_text('import sqlite3\nrows = store.conn.execute("SELECT id FROM studies").fetchall()\n')
    uses = sql_uses(sample)
    assert "import sqlite3" in uses and any(u.startswith(".conn") for u in uses)
    assert any(u.startswith(".execute()") for u in uses) and any(u.startswith("SQL text") for u in uses)
