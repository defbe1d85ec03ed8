"""scripts/check_structure.py: sizes, import cycles, task branches and the baseline ratchet.

Most cases run the script's main() in-process on small packages written to tmp_path; a few
run it as a subprocess, including once on the real repository with its baseline.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "check_structure.py"


def _load():
    spec = importlib.util.spec_from_file_location("check_structure", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


cs = _load()


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Files under root (paths relative to it); every folder of pkg gets an __init__.py."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    for folder in [root / "pkg", *(root / "pkg").rglob("*")]:
        if folder.is_dir() and folder.name != "__pycache__":
            (folder / "__init__.py").touch()
    return root


def function_source(name: str, lines: int, indent: str = "") -> str:
    """A def of exactly `lines` lines."""
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(lines - 2))
    return f"{indent}def {name}():\n{body}{indent}    return 0\n"


def run_main(root: Path, *args: str, capsys) -> tuple[int, str]:
    code = cs.main(["--root", str(root), "--package", "pkg", *args])
    return code, capsys.readouterr().out


def run_script(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


# ------------------------------------------------------------------------ sizes


def test_long_function_reported_and_fails_without_baseline(tmp_path):
    source = function_source("ok", 80) + "\n\n@staticmethod\n" + function_source("too_long", 81)
    write_tree(tmp_path, {"pkg/a.py": source})
    result = run_script("--root", str(tmp_path), "--package", "pkg", "--no-baseline", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "81* pkg.a:too_long" in result.stdout  # decorator line excluded
    assert "80  pkg.a:ok" in result.stdout
    assert "FAIL new: function pkg.a:too_long: 81 lines (over target)" in result.stdout
    assert "pkg.a:ok:" not in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("Verdict: FAIL (1 problem")


def test_limits_are_options_and_large_modules_are_reported(tmp_path, capsys):
    write_tree(tmp_path, {"pkg/big.py": "x = 1\n" * 30, "pkg/small.py": "y = 2\n"})
    code, out = run_main(tmp_path, "--no-baseline", capsys=capsys)
    assert code == 0 and "Verdict: PASS (all targets met)" in out
    code, out = run_main(tmp_path, "--no-baseline", "--max-module-lines", "29", capsys=capsys)
    assert code == 1
    assert "30* pkg.big" in out
    assert "FAIL new: module pkg.big: 30 lines" in out


def test_nested_functions_and_methods_count_on_their_own(tmp_path):
    source = """\
    class Box:
        def method(self):
            def inner():
                return 1
            return inner

    async def outer():
        def inner():
            pass
        return inner
    """
    write_tree(tmp_path, {"pkg/m.py": source})
    scan = cs.scan_package(tmp_path, "pkg")
    sizes = {f.key: f.lines for f in scan.functions}
    assert sizes == {
        "pkg.m:Box.method": 4,
        "pkg.m:Box.method.inner": 2,
        "pkg.m:outer": 4,
        "pkg.m:outer.inner": 2,
    }


# ---------------------------------------------------------------------- cycles


def test_cycle_with_a_function_level_import_is_found(tmp_path, capsys):
    write_tree(
        tmp_path,
        {
            "pkg/a.py": "from pkg.b import helper\n",
            "pkg/b.py": "def helper():\n    from pkg import a\n    return a\n",
            "pkg/c.py": "import pkg.a\n",  # into the cycle, not part of it
        },
    )
    scan = cs.scan_package(tmp_path, "pkg")
    assert cs.import_cycles(scan) == [["pkg.a", "pkg.b"]]
    edges = {(e.source, e.target): e.in_function for e in scan.edges}
    assert edges == {
        ("pkg.a", "pkg.b"): False,
        ("pkg.b", "pkg"): True,  # `from pkg import a` runs pkg/__init__.py first
        ("pkg.b", "pkg.a"): True,
        ("pkg.c", "pkg.a"): False,
    }
    code, out = run_main(tmp_path, "--no-baseline", capsys=capsys)
    assert code == 1
    assert "{pkg.a, pkg.b}: e.g. pkg.a -> pkg.b -> pkg.a" in out
    assert "pkg.b -> pkg.a  [function-level] line 2 (in a function)" in out
    assert "pkg.a -> pkg.b  [module-level] line 1" in out
    assert "FAIL new: import cycle {pkg.a, pkg.b}" in out


def test_import_forms_resolve_to_the_right_module(tmp_path):
    write_tree(
        tmp_path,
        {
            "pkg/__init__.py": "VERSION = 1\n",
            "pkg/sub/__init__.py": "from .leaf import thing\n",
            "pkg/sub/leaf.py": "from .. import tool\nfrom ..sub import other\nthing = 1\n",
            "pkg/sub/other.py": "from . import leaf\nfrom pkg.sub import thing\n",
            "pkg/tool.py": "import os\nimport pkg.sub.leaf as leaf\nfrom pkg import VERSION\n",
        },
    )
    scan = cs.scan_package(tmp_path, "pkg")
    edges = sorted((e.source, e.target) for e in scan.edges)
    # `from X import y` is an edge to X (its __init__ runs first) and to X.y when y is
    # a submodule; a package importing its own submodules is no edge to itself.
    assert edges == [
        ("pkg.sub", "pkg.sub.leaf"),
        ("pkg.sub.leaf", "pkg"),
        ("pkg.sub.leaf", "pkg.sub"),
        ("pkg.sub.leaf", "pkg.sub.other"),
        ("pkg.sub.leaf", "pkg.tool"),
        ("pkg.sub.other", "pkg.sub"),
        ("pkg.sub.other", "pkg.sub.leaf"),
        ("pkg.tool", "pkg"),
        ("pkg.tool", "pkg.sub.leaf"),
    ]
    assert cs.import_cycles(scan) == [["pkg.sub", "pkg.sub.leaf", "pkg.sub.other", "pkg.tool"]]


def test_self_import_is_a_cycle_and_an_acyclic_graph_has_none(tmp_path):
    write_tree(tmp_path, {"pkg/a.py": "import pkg.b\n", "pkg/b.py": "x = 1\n"})
    assert cs.import_cycles(cs.scan_package(tmp_path, "pkg")) == []
    (tmp_path / "pkg" / "b.py").write_text("def f():\n    from pkg import b\n")
    assert cs.import_cycles(cs.scan_package(tmp_path, "pkg")) == [["pkg.b"]]


# ------------------------------------------------------------------ task branches

BRANCHES = """\
def choose(config, task, other):
    if config.task == "binary":
        pass
    if task in ("multilabel", "tagging"):
        pass
    if "tagging" != self.task:
        pass
    if task not in {"binary"}:
        pass
    match task:
        case "binary" | "multiclass":
            pass
        case _:
            pass
    # None of these is a task branch:
    task == other
    name == "binary"
    task is None
    config.task in tasks
    label == "binary"
"""


def test_task_branches_outside_the_tasks_package_are_found(tmp_path, capsys):
    write_tree(
        tmp_path,
        {
            "pkg/model.py": BRANCHES,
            "pkg/tasks/x.py": BRANCHES,
            "pkg/tasks/__init__.py": BRANCHES,
            "pkg/tasksmith.py": 'def f(task):\n    return task == "binary"\n',
        },
    )
    scan = cs.scan_package(tmp_path, "pkg")
    found = sorted((b.key, b.lineno) for b in scan.branches)
    assert found == [
        ("pkg.model:choose", 2),
        ("pkg.model:choose", 4),
        ("pkg.model:choose", 6),
        ("pkg.model:choose", 8),
        ("pkg.model:choose", 11),
        ("pkg.tasksmith:f", 2),
    ]
    code, out = run_main(tmp_path, "--no-baseline", capsys=capsys)
    assert code == 1
    assert "5  pkg.model:choose  (lines 2, 4, 6, 8, 11)" in out
    assert "FAIL new: pkg.model:choose has 5 task branches" in out
    section = out.split("Task branches outside pkg.tasks", 1)[1].split("FAIL", 1)[0]
    assert "pkg.tasks:" not in section and "pkg.tasks.x" not in section
    assert "1  pkg.tasksmith:f  (lines 2)" in section


def test_tasks_module_form_is_inside_the_tasks_package(tmp_path):
    write_tree(tmp_path, {"pkg/tasks.py": BRANCHES})
    assert cs.scan_package(tmp_path, "pkg").branches == []


def test_comment_exception_needs_a_reason(tmp_path, capsys):
    source = """\
    def f(task, config):
        if task == "tagging":  # task-branch: tokens need per-token labels
            pass
        # task-branch: the schema check stays here
        if config.task != "auto":
            pass
        if task == "binary":  # task-branch:
            pass
        # task-branch: nothing on the next line
        x = 1
        if task == "multilabel":
            pass
    """
    write_tree(tmp_path, {"pkg/m.py": source})
    scan = cs.scan_package(tmp_path, "pkg")
    reasons = {b.lineno: (b.reason, b.bare_comment) for b in scan.branches}
    assert reasons == {
        2: ("tokens need per-token labels", False),
        5: ("the schema check stays here", False),
        7: (None, True),
        11: (None, False),
    }
    code, out = run_main(tmp_path, "--no-baseline", capsys=capsys)
    assert code == 1
    assert "2  pkg.m:f  (lines 7, 11)  (task-branch comment without a reason)" in out
    assert "pkg.m:f line 2: tokens need per-token labels" in out
    assert "pkg.m:f line 5: the schema check stays here" in out
    assert "note: task-branch comment at pkg.m line 9 is on no task branch" in out
    assert "FAIL new: pkg.m:f has 2 task branches" in out


# ---------------------------------------------------------------------- the ratchet


def ratchet_tree(root: Path, long_lines: int = 90, extra: str = "") -> None:
    """A long function, a task branch and the cycle a -> b -> a (back via a function)."""
    a = (
        function_source("long", long_lines)
        + '\n\ndef pick(task):\n    return task == "binary"\n'
        + extra
        + "\n\ndef back():\n    import pkg.b\n"
    )
    write_tree(root, {"pkg/a.py": a, "pkg/b.py": "import pkg.a\n", "pkg/c.py": "import pkg.b\n"})


def test_ratchet_passes_on_the_baseline_and_fails_on_growth_and_new_items(tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    ratchet_tree(tmp_path)
    code, out = run_main(
        tmp_path, "--baseline", str(baseline), "--update-baseline", "--allow-growth", capsys=capsys
    )
    assert code == 0, out
    data = json.loads(baseline.read_text())
    assert data["functions"] == {"pkg.a:long": 90}
    assert data["task_branches"] == {"pkg.a:pick": 1}
    assert data["import_cycles"] == [["pkg.a", "pkg.b"]]
    assert data["modules"] == {}

    code, out = run_main(tmp_path, "--baseline", str(baseline), capsys=capsys)
    assert code == 0, out
    assert "Verdict: PASS against the baseline" in out

    ratchet_tree(tmp_path, long_lines=91)
    code, out = run_main(tmp_path, "--baseline", str(baseline), capsys=capsys)
    assert code == 1
    assert "FAIL grew: function pkg.a:long: 91 lines (baseline 90)" in out

    ratchet_tree(tmp_path, extra='\n\ndef pick2(task):\n    return task == "tagging"\n')
    (tmp_path / "pkg" / "c.py").write_text("import pkg.b\nimport pkg.a\n")
    (tmp_path / "pkg" / "d.py").write_text("x = 1\n" * 500)
    code, out = run_main(tmp_path, "--baseline", str(baseline), capsys=capsys)
    assert code == 1
    assert "FAIL new: pkg.a:pick2 has 1 task branch (not in the baseline)" in out
    assert "FAIL new: module pkg.d: 500 lines (not in the baseline)" in out
    assert "FAIL new: import cycle {pkg.a, pkg.b, pkg.c}" not in out  # c only imports a and b
    (tmp_path / "pkg" / "b.py").write_text("import pkg.a\nimport pkg.c\n")
    code, out = run_main(tmp_path, "--baseline", str(baseline), capsys=capsys)
    assert "FAIL new: import cycle {pkg.a, pkg.b, pkg.c} (not in the baseline)" in out


def test_ratchet_reports_what_can_leave_the_baseline(tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    ratchet_tree(tmp_path)
    run_main(
        tmp_path, "--baseline", str(baseline), "--update-baseline", "--allow-growth", capsys=capsys
    )
    (tmp_path / "pkg" / "a.py").write_text(function_source("long", 85))
    code, out = run_main(tmp_path, "--baseline", str(baseline), capsys=capsys)
    assert code == 0, out
    assert "note: can lower baseline: function pkg.a:long: 85 lines (baseline 90)" in out
    assert "note: remove from baseline: pkg.a:pick has 1 task branch (now within target)" in out
    assert "note: remove or shrink in baseline: import cycle {pkg.a, pkg.b}" in out


def test_update_baseline_refuses_growth(tmp_path):
    baseline = tmp_path / "baseline.json"
    ratchet_tree(tmp_path)
    common = ["--root", str(tmp_path), "--package", "pkg", "--baseline", str(baseline)]
    assert run_script(*common, "--update-baseline").returncode == 1  # everything would be new
    assert not baseline.exists()
    assert run_script(*common, "--update-baseline", "--allow-growth").returncode == 0
    written = baseline.read_text()

    ratchet_tree(tmp_path, long_lines=95)
    result = run_script(*common, "--update-baseline")
    assert result.returncode == 1
    assert "Refusing to grow the baseline" in result.stdout
    assert "grew: function pkg.a:long: 95 lines (baseline 90)" in result.stdout
    assert baseline.read_text() == written

    ratchet_tree(tmp_path, long_lines=85)
    result = run_script(*common, "--update-baseline")
    assert result.returncode == 0, result.stdout
    assert json.loads(baseline.read_text())["functions"] == {"pkg.a:long": 85}


def test_missing_baseline_means_targets_and_a_broken_one_is_an_error(tmp_path, capsys):
    write_tree(tmp_path, {"pkg/a.py": function_source("long", 90)})
    missing = tmp_path / "missing.json"
    code, out = run_main(tmp_path, "--baseline", str(missing), capsys=capsys)
    assert code == 1
    assert "note: no baseline at" in out
    assert "FAIL new: function pkg.a:long: 90 lines (over target)" in out
    broken = tmp_path / "broken.json"
    broken.write_text('{"functions": {"pkg.a:long": "many"}}')
    with pytest.raises(SystemExit) as stopped:
        cs.main(["--root", str(tmp_path), "--package", "pkg", "--baseline", str(broken)])
    assert stopped.value.code == 2


def test_allow_growth_needs_update_baseline(tmp_path):
    with pytest.raises(SystemExit) as stopped:
        cs.parse_args(["--allow-growth"])
    assert stopped.value.code == 2


# ----------------------------------------------------------------- the real tree


def test_repository_passes_with_its_baseline(tmp_path):
    result = run_script(cwd=tmp_path)  # any working directory
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verdict: PASS" in result.stdout


def test_task_branches_on_any_value_that_names_a_task_are_found(tmp_path):
    """A task setting under another name, or a task read from a dict, is a task too."""
    source = """\
    def f(task_setting, found, tasks):
        a = task_setting in ("multilabel", "tagging")
        b = found["task"] == "tagging"
        c = "x" in tasks  # a container of tasks compared with a constant: flagged as well
        d = found["rows"] == "3"  # not a task
        return a, b, c, d
    """
    write_tree(tmp_path, {"pkg/reader.py": source})
    lines = sorted(b.lineno for b in cs.scan_package(tmp_path, "pkg").branches)
    assert lines == [2, 3, 4]


def test_an_import_through_a_package_that_imports_the_importer_is_a_cycle(tmp_path):
    """`from pkg import sub` in a module that pkg/__init__.py itself imports: a cycle
    through the package (pkg -> pkg.a -> pkg), as Python runs it; a package importing its
    own submodules is not one."""
    write_tree(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg import a\n",
            "pkg/a.py": "from pkg import b\n",
            "pkg/b.py": "x = 1\n",
        },
    )
    assert cs.import_cycles(cs.scan_package(tmp_path, "pkg")) == [["pkg", "pkg.a"]]
