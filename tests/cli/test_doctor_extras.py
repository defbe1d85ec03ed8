"""`seqcls doctor` lists which seqcls extras are installed (every extra of pyproject.toml
but dev) and no longer lists `jax: not installed` (only a benchmark uses jax)."""

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.cli.doctor import EXTRAS

runner = CliRunner()
PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"


def test_doctor_extras_cover_pyproject_and_match_what_imports():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    assert set(EXTRAS) == set(extras) - {"dev"}
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert set(facts["extras"]) == set(EXTRAS)
    matplotlib = importlib.util.find_spec("matplotlib") is not None
    assert facts["extras"]["plots"]["installed"] == matplotlib
    assert facts["extras"]["plots"]["missing"] == ([] if matplotlib else ["matplotlib"])
    jax = importlib.util.find_spec("jax") is not None
    assert ("jax" in facts["versions"]) == jax

    table = runner.invoke(app, ["doctor"], env={"COLUMNS": "160"})
    assert table.exit_code == 0, table.output
    for name, extra in facts["extras"].items():
        state = (
            "installed" if extra["installed"] else f"not installed: pip install 'seqcls[{name}]'"
        )
        assert f"extra {name}" in table.output and f"{state} ({extra['adds']})" in table.output
    if not jax:
        assert "jax" not in table.output
