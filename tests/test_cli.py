"""The ``lungdx`` console script as a user runs it (a real subprocess)."""

import subprocess
import sys

from lungdx_widgets import __version__
from lungdx_widgets.cli import COMMAND_MODULES, build_parser


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lungdx_widgets.cli", *args],
                          capture_output=True, text=True, timeout=120)


def test_help_lists_the_commands():
    out = run_cli("--help")
    assert out.returncode == 0
    for command in ("init", "serve"):
        assert command in out.stdout
    # every sub-command registered by any area shows up in --help
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in sub.choices:
        assert name in out.stdout


def test_version():
    out = run_cli("--version")
    assert out.returncode == 0 and __version__ in out.stdout


def test_every_area_module_registers():
    assert len(COMMAND_MODULES) == len(set(COMMAND_MODULES))
    build_parser()  # imports all of them


def test_bad_arguments_fail_without_traceback():
    out = run_cli("no-such-command")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
