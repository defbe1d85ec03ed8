"""Check the package's structure against the redesign targets, with a ratchet baseline.

Usage: python scripts/check_structure.py [--no-baseline | --update-baseline [--allow-growth]]

Targets (the redesign issue): no module over 400 lines, no function or method over 80
lines, no import cycle inside the package, no task branch outside the tasks package.

- A module's size is the number of lines in its file. A function's size is
  end_lineno - lineno + 1 of its ``def`` (decorators excluded); a nested function counts
  on its own and also inside its parent. Functions are named ``module:qualname``.
- Import cycles: every intra-package import anywhere in a module (``import pkg.x``,
  ``from pkg import x``, ``from pkg.x import y``, relative imports), function-level
  imports included and marked as such; cycles are the strongly connected components of
  that graph (size > 1, or a module importing itself). ``from pkg.sub import name`` is
  an edge to ``pkg.sub.name`` when that is a module, otherwise to ``pkg.sub``.
- A task branch is a comparison of a name or attribute called ``task`` (``task``,
  ``config.task``, ``self.task``...) with ``==``, ``!=``, ``in`` or ``not in`` against a
  string constant or a tuple/list/set of string constants (and a ``match`` on it with
  string cases). Branches in ``pkg.tasks`` or ``pkg.tasks.*`` are allowed. Elsewhere a
  branch is justified by a comment ``# task-branch: <reason>`` on one of its lines or on
  a comment-only line directly above it; the reason must not be empty.

The baseline (scripts/structure_baseline.json) lists the items over target when it was
written. The check fails when an item over target is not in the baseline or has grown
beyond its recorded size; items that have come under target are printed so they can be
dropped. ``--update-baseline`` rewrites it from the tree, but only shrinking it unless
``--allow-growth`` is given. ``--no-baseline`` checks against the targets alone.

Exit status: 0 pass, 1 fail (or refused update), 2 usage error or unreadable baseline.
Standard library only; runs from any working directory.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BASELINE_NAME = Path("scripts") / "structure_baseline.json"
TOP = 10
BRANCH_COMMENT = re.compile(r"#\s*task-branch\s*:(.*)$")
TASK_OPS = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)


# --------------------------------------------------------------------------- the scan


@dataclass
class Function:
    module: str
    qualname: str
    lineno: int
    lines: int

    @property
    def key(self) -> str:
        return f"{self.module}:{self.qualname}"


@dataclass
class Branch:
    module: str
    qualname: str
    lineno: int
    reason: str | None = None  # set when justified by a task-branch comment
    bare_comment: bool = False  # a task-branch comment without a reason was found

    @property
    def key(self) -> str:
        return f"{self.module}:{self.qualname}"


@dataclass
class Edge:
    source: str
    target: str
    lineno: int
    in_function: bool


@dataclass
class Scan:
    package: str
    modules: dict[str, int] = field(default_factory=dict)  # dotted name -> lines
    paths: dict[str, Path] = field(default_factory=dict)
    functions: list[Function] = field(default_factory=list)
    branches: list[Branch] = field(default_factory=list)  # outside the tasks package
    edges: list[Edge] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unused_comments: list[str] = field(default_factory=list)


def module_name(package_dir: Path, path: Path, package: str) -> str:
    parts = list(path.relative_to(package_dir).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def find_modules(root: Path, package: str) -> dict[str, Path]:
    package_dir = root.joinpath(*package.split("."))
    if not package_dir.is_dir():
        raise SystemExit(f"check_structure: no package directory {package_dir}")
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        found[module_name(package_dir, path, package)] = path
    return found


def in_tasks_package(module: str, package: str) -> bool:
    tasks = f"{package}.tasks"
    return module == tasks or module.startswith(tasks + ".")


def is_task_ref(node: ast.expr) -> bool:
    """A value that names a task: a name or attribute with "task" in it (task,
    task_setting, config.task, run.task), or a subscript by such a key (found["task"])."""
    if isinstance(node, ast.Name):
        return "task" in node.id.lower()
    if isinstance(node, ast.Attribute):
        return "task" in node.attr.lower()
    if isinstance(node, ast.Subscript):
        key = node.slice
        return isinstance(key, ast.Constant) and isinstance(key.value, str) and "task" in key.value
    return False


def is_str_choice(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return bool(node.elts) and all(
            isinstance(item, ast.Constant) and isinstance(item.value, str) for item in node.elts
        )
    return False


def is_task_compare(node: ast.Compare) -> bool:
    operands = [node.left, *node.comparators]
    for index, op in enumerate(node.ops):
        if not isinstance(op, TASK_OPS):
            continue
        left, right = operands[index], operands[index + 1]
        if (is_task_ref(left) and is_str_choice(right)) or (
            is_task_ref(right) and is_str_choice(left)
        ):
            return True
    return False


def is_str_pattern(pattern) -> bool:
    if isinstance(pattern, ast.MatchValue):
        return isinstance(pattern.value, ast.Constant) and isinstance(pattern.value.value, str)
    if isinstance(pattern, ast.MatchOr):
        return any(is_str_pattern(item) for item in pattern.patterns)
    if isinstance(pattern, ast.MatchAs) and pattern.pattern is not None:
        return is_str_pattern(pattern.pattern)
    return False


def read_comments(source: str) -> tuple[dict[int, str], set[int]]:
    """Task-branch comments by line (the text after the colon), and comment-only lines."""
    found: dict[int, str] = {}
    comment_only: set[int] = set()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return found, comment_only
    code_lines = set()
    for token in tokens:
        if token.type == tokenize.COMMENT:
            match = BRANCH_COMMENT.search(token.string)
            if match:
                found[token.start[0]] = match.group(1).strip()
        elif token.type not in (
            tokenize.NL,
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.ENDMARKER,
        ):
            for line in range(token.start[0], token.end[0] + 1):
                code_lines.add(line)
    comment_only = {line for line in found if line not in code_lines}
    return found, comment_only


class ModuleVisitor(ast.NodeVisitor):
    """Functions, task branches and intra-package imports of one module."""

    def __init__(self, scan: Scan, module: str, is_package: bool, source: str) -> None:
        self.scan = scan
        self.module = module
        self.is_package = is_package
        self.stack: list[str] = []
        self.function_depth = 0
        self.seen_names: dict[str, int] = {}
        self.check_branches = not in_tasks_package(module, scan.package)
        self.comments, self.comment_only = (
            read_comments(source) if self.check_branches else ({}, set())
        )
        self.used_comments: set[int] = set()

    # names -----------------------------------------------------------------
    def qualname(self) -> str:
        return ".".join(self.stack) or "<module>"

    def unique(self, qualname: str) -> str:
        count = self.seen_names.get(qualname, 0) + 1
        self.seen_names[qualname] = count
        return qualname if count == 1 else f"{qualname}#{count}"

    def visit_function(self, node) -> None:
        self.stack.append(node.name)
        name = self.unique(".".join(self.stack))
        self.scan.functions.append(
            Function(self.module, name, node.lineno, node.end_lineno - node.lineno + 1)
        )
        self.stack[-1] = name.split(".")[-1]
        self.function_depth += 1
        self.generic_visit(node)
        self.function_depth -= 1
        self.stack.pop()

    visit_FunctionDef = visit_function
    visit_AsyncFunctionDef = visit_function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    # task branches -----------------------------------------------------------
    def add_branch(self, node: ast.AST, first: int, last: int) -> None:
        branch = Branch(self.module, self.qualname(), node.lineno)
        candidates = list(range(first, last + 1))
        if first - 1 in self.comment_only:
            candidates.append(first - 1)
        for line in candidates:
            if line in self.comments:
                self.used_comments.add(line)
                if self.comments[line]:
                    branch.reason = self.comments[line]
                    break
                branch.bare_comment = True
        self.scan.branches.append(branch)

    def visit_Compare(self, node: ast.Compare) -> None:
        if self.check_branches and is_task_compare(node):
            self.add_branch(node, node.lineno, node.end_lineno)
        self.generic_visit(node)

    def visit_Match(self, node) -> None:
        if self.check_branches and is_task_ref(node.subject):
            for case in node.cases:
                if is_str_pattern(case.pattern):
                    self.add_branch(case.pattern, case.pattern.lineno, case.pattern.end_lineno)
        self.generic_visit(node)

    # imports -----------------------------------------------------------------
    def edge(self, target: str | None, node: ast.AST) -> None:
        if target is None:
            return
        edge = Edge(self.module, target, node.lineno, self.function_depth > 0)
        known = {(e.source, e.target, e.in_function) for e in self.scan.edges}
        if (edge.source, edge.target, edge.in_function) not in known:
            self.scan.edges.append(edge)

    def resolve(self, dotted: str) -> str | None:
        """The module that ``import dotted`` runs last: itself, or its longest known prefix."""
        parts = dotted.split(".")
        while parts:
            name = ".".join(parts)
            if name in self.scan.modules:
                return name
            parts.pop()
        return None

    def inside(self, dotted: str) -> bool:
        return dotted == self.scan.package or dotted.startswith(self.scan.package + ".")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if self.inside(alias.name):
                self.edge(self.resolve(alias.name), node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.module.split(".")
            if not self.is_package:
                base = base[:-1]
            if node.level > 1:
                base = base[: len(base) - (node.level - 1)]
            if not base:
                return
            origin = ".".join(base + ([node.module] if node.module else []))
        else:
            origin = node.module or ""
        if not self.inside(origin):
            return
        # `from pkg import x` runs pkg/__init__.py first, whatever x is: an edge to pkg
        # (unless pkg is this module: a package importing its own submodules), and to
        # pkg.x when x is a submodule.
        if self.resolve(origin) != self.module:
            self.edge(self.resolve(origin), node)
        for alias in node.names:
            submodule = f"{origin}.{alias.name}"
            if alias.name != "*" and submodule in self.scan.modules:
                self.edge(submodule, node)


def scan_package(root: Path, package: str) -> Scan:
    scan = Scan(package)
    scan.paths = find_modules(root, package)
    sources = {}
    for module, path in scan.paths.items():
        text = path.read_text(encoding="utf-8", errors="replace")
        sources[module] = text
        scan.modules[module] = len(text.splitlines())
    for module, text in sources.items():
        path = scan.paths[module]
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError as error:
            scan.errors.append(f"{path.relative_to(root)}: cannot parse: {error}")
            continue
        visitor = ModuleVisitor(scan, module, path.name == "__init__.py", text)
        visitor.visit(tree)
        for line in sorted(set(visitor.comments) - visitor.used_comments):
            scan.unused_comments.append(f"{module} line {line}")
    return scan


# ------------------------------------------------------------------------- the cycles


def strongly_connected(nodes: list[str], graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components in discovery order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def shortest_cycle(start: str, members: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest path start -> ... -> start inside the component (breadth first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph.get(node, ())):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if child in members and child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return [start]


def import_cycles(scan: Scan) -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    for edge in scan.edges:
        graph.setdefault(edge.source, set()).add(edge.target)
    cycles = []
    for component in strongly_connected(sorted(scan.modules), graph):
        if len(component) > 1 or component[0] in graph.get(component[0], set()):
            cycles.append(component)
    return sorted(cycles)


# ---------------------------------------------------------------------- the measures


@dataclass
class Measures:
    """The items over target, in the baseline's shape."""

    modules: dict[str, int]
    functions: dict[str, int]
    task_branches: dict[str, int]
    import_cycles: list[list[str]]

    def as_json(self) -> dict:
        return {
            "modules": dict(sorted(self.modules.items())),
            "functions": dict(sorted(self.functions.items())),
            "task_branches": dict(sorted(self.task_branches.items())),
            "import_cycles": sorted(sorted(cycle) for cycle in self.import_cycles),
        }


def measure(scan: Scan, cycles: list[list[str]], max_module: int, max_function: int) -> Measures:
    branches: dict[str, int] = {}
    for branch in scan.branches:
        if branch.reason is None:
            branches[branch.key] = branches.get(branch.key, 0) + 1
    return Measures(
        modules={name: lines for name, lines in scan.modules.items() if lines > max_module},
        functions={f.key: f.lines for f in scan.functions if f.lines > max_function},
        task_branches=branches,
        import_cycles=cycles,
    )


def load_baseline(path: Path) -> Measures | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        baseline = Measures(
            modules={str(k): int(v) for k, v in data.get("modules", {}).items()},
            functions={str(k): int(v) for k, v in data.get("functions", {}).items()},
            task_branches={str(k): int(v) for k, v in data.get("task_branches", {}).items()},
            import_cycles=[
                sorted(str(m) for m in cycle) for cycle in data.get("import_cycles", [])
            ],
        )
    except (ValueError, TypeError, AttributeError) as error:
        print(f"check_structure: unreadable baseline {path}: {error}", file=sys.stderr)
        raise SystemExit(2) from error
    return baseline


def covered(cycle: list[str], known: list[list[str]]) -> bool:
    return any(set(cycle) <= set(old) for old in known)


def describe(kind: str, key: str, value: int) -> str:
    if kind == "task_branches":
        return f"{key} has {value} task branch{'es' * (value != 1)}"
    return f"{kind[:-1]} {key}: {value} lines"


def compare(
    current: Measures, baseline: Measures, new_label: str = "not in the baseline"
) -> tuple[list[str], list[str]]:
    """(problems, notes): growth and new items fail; shrunk or gone items are notes."""
    problems, notes = [], []
    for kind in ("modules", "functions", "task_branches"):
        now, before = getattr(current, kind), getattr(baseline, kind)
        for key, value in sorted(now.items()):
            if key not in before:
                problems.append(f"new: {describe(kind, key, value)} ({new_label})")
            elif value > before[key]:
                problems.append(f"grew: {describe(kind, key, value)} (baseline {before[key]})")
        for key, value in sorted(before.items()):
            if key not in now:
                notes.append(
                    f"remove from baseline: {describe(kind, key, value)} (now within target)"
                )
            elif now[key] < value:
                notes.append(
                    f"can lower baseline: {describe(kind, key, now[key])} (baseline {value})"
                )
    for cycle in current.import_cycles:
        if not covered(cycle, baseline.import_cycles):
            problems.append(f"new: import cycle {{{', '.join(cycle)}}} ({new_label})")
    for cycle in baseline.import_cycles:
        if cycle not in current.import_cycles:
            notes.append(
                f"remove or shrink in baseline: import cycle {{{', '.join(cycle)}}} (no longer whole)"
            )
    return problems, notes


# ------------------------------------------------------------------------- the report


def print_report(scan: Scan, cycles: list[list[str]], max_module: int, max_function: int) -> None:
    package = scan.package
    print(
        f"Structure of {package}: {len(scan.modules)} modules, {len(scan.functions)} functions. "
        f"Targets: modules <= {max_module} lines, functions <= {max_function} lines, "
        f"no import cycles, no task branches outside {package}.tasks."
    )
    functions = sorted(scan.functions, key=lambda f: (-f.lines, f.key))
    over = sum(f.lines > max_function for f in functions)
    print(f"\nLongest functions ({over} over {max_function} lines):")
    for function in functions[:TOP]:
        mark = "*" if function.lines > max_function else " "
        print(f"  {function.lines:5d}{mark} {function.key}  (line {function.lineno})")

    modules = sorted(scan.modules.items(), key=lambda item: (-item[1], item[0]))
    over = sum(lines > max_module for _, lines in modules)
    print(f"\nLargest modules ({over} over {max_module} lines):")
    for name, lines in modules[:TOP]:
        mark = "*" if lines > max_module else " "
        print(f"  {lines:5d}{mark} {name}")

    print(f"\nImport cycles ({len(cycles)}):" if cycles else "\nImport cycles: none")
    graph: dict[str, set[str]] = {}
    for edge in scan.edges:
        graph.setdefault(edge.source, set()).add(edge.target)
    for cycle in cycles:
        members = set(cycle)
        print(
            f"  {{{', '.join(cycle)}}}: e.g. {' -> '.join(shortest_cycle(cycle[0], members, graph))}"
        )
        inner: dict[tuple[str, str], list[Edge]] = {}
        for edge in scan.edges:
            if edge.source in members and edge.target in members:
                inner.setdefault((edge.source, edge.target), []).append(edge)
        for (source, target), edges in sorted(inner.items()):
            where = ", ".join(
                f"line {e.lineno}{' (in a function)' if e.in_function else ''}" for e in edges
            )
            level = "function-level" if all(e.in_function for e in edges) else "module-level"
            print(f"      {source} -> {target}  [{level}] {where}")

    open_branches: dict[str, list[Branch]] = {}
    justified = []
    for branch in scan.branches:
        if branch.reason is None:
            open_branches.setdefault(branch.key, []).append(branch)
        else:
            justified.append(branch)
    total = sum(len(items) for items in open_branches.values())
    print(
        f"\nTask branches outside {package}.tasks ({total} in {len(open_branches)} functions):"
        if total
        else f"\nTask branches outside {package}.tasks: none"
    )
    for key, items in sorted(open_branches.items(), key=lambda item: (-len(item[1]), item[0])):
        lines = ", ".join(str(b.lineno) for b in items)
        bare = (
            "  (task-branch comment without a reason)" if any(b.bare_comment for b in items) else ""
        )
        print(f"  {len(items):5d}  {key}  (lines {lines}){bare}")
    if justified:
        print(f"  Justified by '# task-branch:' comments ({len(justified)}):")
        for branch in justified:
            print(f"         {branch.key} line {branch.lineno}: {branch.reason}")
    for where in scan.unused_comments:
        print(f"  note: task-branch comment at {where} is on no task branch")


# ---------------------------------------------------------------------------- the CLI


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root",
        type=Path,
        default=REPO_ROOT,
        help="repository root (default: the script's parent's parent)",
    )
    parser.add_argument("--package", default="seqcls", help="package to check (default: seqcls)")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="baseline file (default: ROOT/scripts/structure_baseline.json)",
    )
    parser.add_argument("--max-module-lines", type=int, default=400)
    parser.add_argument("--max-function-lines", type=int, default=80)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--no-baseline", action="store_true", help="check against the targets alone")
    mode.add_argument(
        "--update-baseline",
        action="store_true",
        help="rewrite the baseline from the tree (shrinking only)",
    )
    parser.add_argument(
        "--allow-growth",
        action="store_true",
        help="with --update-baseline: allow new or larger entries",
    )
    args = parser.parse_args(argv)
    if args.allow_growth and not args.update_baseline:
        parser.error("--allow-growth only goes with --update-baseline")
    args.root = args.root.resolve()
    if args.baseline is None:
        args.baseline = args.root / BASELINE_NAME
    return args


def write_baseline(path: Path, current: Measures, args: argparse.Namespace) -> None:
    data = {
        "about": (
            "Items over the structure targets, written by scripts/check_structure.py "
            "--update-baseline. Only ever shrink it: fix the code, then rerun that command."
        ),
        "targets": {
            "max_module_lines": args.max_module_lines,
            "max_function_lines": args.max_function_lines,
        },
        **current.as_json(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scan = scan_package(args.root, args.package)
    cycles = import_cycles(scan)
    print_report(scan, cycles, args.max_module_lines, args.max_function_lines)
    current = measure(scan, cycles, args.max_module_lines, args.max_function_lines)
    print()
    for error in scan.errors:
        print(f"error: {error}")

    if args.update_baseline:
        return update_baseline(args, scan, current)

    if args.no_baseline:
        baseline, source, label = None, "the targets alone", "over target"
    else:
        baseline = load_baseline(args.baseline)
        source = f"the baseline {display_path(args.baseline, args.root)}"
        label = "not in the baseline"
        if baseline is None:
            print(f"note: no baseline at {args.baseline}; checking against the targets alone")
            source, label = "the targets alone", "over target"
    problems, notes = compare(current, baseline or Measures({}, {}, {}, []), label)
    if baseline is not None:
        for note in notes:
            print(f"note: {note}")
        if notes:
            print(
                "note: shrink the baseline with: python scripts/check_structure.py --update-baseline"
            )
    for problem in problems:
        print(f"FAIL {problem}")
    if problems or scan.errors:
        count = len(problems) + len(scan.errors)
        print(f"Verdict: FAIL ({count} problem{'s' * (count != 1)} against {source})")
        return 1
    if any(current.as_json().values()):
        print(f"Verdict: PASS against {source} (still over target: {summary(current)})")
    else:
        print("Verdict: PASS (all targets met)")
    return 0


def update_baseline(args: argparse.Namespace, scan: Scan, current: Measures) -> int:
    old = load_baseline(args.baseline)
    added, removed = compare(current, old or Measures({}, {}, {}, []), "not in the baseline")
    where = display_path(args.baseline, args.root)
    if scan.errors:
        print("Verdict: FAIL (baseline not written: some modules could not be parsed)")
        return 1
    if added and not args.allow_growth:
        print(f"Refusing to grow the baseline {where} (pass --allow-growth to accept):")
        for line in added:
            print(f"  {line}")
        print("Verdict: FAIL (baseline not written)")
        return 1
    for line in added:
        print(f"accepted (--allow-growth): {line.removeprefix('new: ')}")
    if old is not None:
        for line in removed:
            print(f"shrunk: {line}")
    write_baseline(args.baseline, current, args)
    print(f"Wrote {where}: {summary(current)}.")
    print("Verdict: PASS (baseline updated)")
    return 0


def summary(measures: Measures) -> str:
    return (
        f"{len(measures.modules)} modules, {len(measures.functions)} functions, "
        f"{sum(measures.task_branches.values())} task branches in {len(measures.task_branches)} functions, "
        f"{len(measures.import_cycles)} import cycle{'s' * (len(measures.import_cycles) != 1)}"
    )


def display_path(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
