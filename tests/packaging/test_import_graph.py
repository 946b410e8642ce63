"""The layering of each distribution's sources: no import circle, no hidden deferred import, small modules.

Read from packages/*/src with :mod:`ast` (nothing is imported). An import at the top of a module (or
in a class body, or under a module-level ``if``/``try``) is an edge of the import graph; one under
``if TYPE_CHECKING:`` is not (it never runs). Relative imports are resolved against the module's
package, and ``from package import name`` is an edge to ``package.name`` when that is a module.

An import of an rq module inside a function is allowed only as a start-up deferral (the ``rq``
command must not load rich or rq-worker for ``rq --help``, the pytest plugin must not load fakeredis
at collection, an optional distribution may be absent...): it says so with a ``# deferred: <why>``
comment on its line (or the comment line just above it). Anything else belongs at the top.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / 'packages'
DISTRIBUTIONS = ('rq-core', 'rq-worker', 'rq-cron', 'rq-cli', 'rq-testing')
MAX_LINES = 400
DEFERRED = '# deferred:'


@dataclass
class Module:
    """One source module: its dotted name, distribution and file, and what it imports."""

    name: str
    distribution: str
    path: Path
    is_package: bool
    top_level: set[str] = field(default_factory=set)  # modules imported when this one is imported
    local: list[tuple[int, int, list[str]]] = field(default_factory=list)  # (line, end line, rq targets)


def discover(packages: Path) -> dict[str, Module]:
    """Every module under ``<packages>/<distribution>/src``, by dotted name."""
    modules: dict[str, Module] = {}
    for src in sorted(packages.glob('*/src')):
        for path in sorted(src.rglob('*.py')):
            parts = list(path.relative_to(src).with_suffix('').parts)
            is_package = parts[-1] == '__init__'
            if is_package:
                parts = parts[:-1]
            name = '.'.join(parts)
            modules[name] = Module(name, src.parent.name, path, is_package)
    return modules


def is_rq(name: str) -> bool:
    return name == 'rq' or name.startswith('rq.')


def imported_names(module: Module, node: ast.Import | ast.ImportFrom, known: dict[str, Module]) -> list[str]:
    """The modules ``node`` imports, resolved: ``from a import b`` is ``a.b`` when that is a module."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        package = module.name.split('.') if module.is_package else module.name.split('.')[:-1]
        if node.level - 1 > len(package):
            raise ValueError(f'{module.path}:{node.lineno}: relative import beyond the top-level package')
        base = package[: len(package) - (node.level - 1)]
        source = '.'.join([*base, *([node.module] if node.module else [])])
    else:
        source = node.module or ''
    names = []
    for alias in node.names:
        candidate = f'{source}.{alias.name}' if source else alias.name
        names.append(candidate if candidate in known else source)
    return names


def is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING`` (the condition of a block that never runs)."""
    if isinstance(test, ast.Name):
        return test.id == 'TYPE_CHECKING'
    return isinstance(test, ast.Attribute) and test.attr == 'TYPE_CHECKING'


def walk_imports(node: ast.AST, in_function: bool = False) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Each import statement that runs, with whether it is inside a function (skips TYPE_CHECKING blocks)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and is_type_checking(child.test):
            for other in child.orelse:
                yield from walk_imports_of(other, in_function)
            continue
        yield from walk_imports_of(child, in_function)


def walk_imports_of(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node, in_function
        return
    inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
    yield from walk_imports(node, inner)


def analyse(modules: dict[str, Module]) -> dict[str, Module]:
    """Fill in each module's top-level edges (to known modules) and function-local rq imports."""
    for module in modules.values():
        tree = ast.parse(module.path.read_text(encoding='utf-8'), str(module.path))
        for node, in_function in walk_imports(tree):
            names = imported_names(module, node, modules)
            if in_function:
                rq_names = [name for name in names if is_rq(name)]
                if rq_names:
                    module.local.append((node.lineno, node.end_lineno or node.lineno, rq_names))
            else:
                module.top_level.update(name for name in names if name in modules and name != module.name)
    return modules


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def one_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest path from the component's first module back to itself, through the component."""
    start, members = component[0], set(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(graph[node] & members):
                if successor == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if successor not in previous:
                    previous[successor] = node
                    following.append(successor)
        frontier = following
    raise AssertionError(f'no cycle through {start} in {component}')  # (impossible in a component)


def comment_lines(path: Path) -> dict[int, str]:
    """The comments of a source file, by line number."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding='utf-8')).readline)
    return {token.start[0]: token.string for token in tokens if token.type == tokenize.COMMENT}


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def undeclared_deferrals(module: Module) -> list[str]:
    """``file:line`` of each function-local rq import without its ``# deferred:`` comment (on one of
    the statement's lines, or alone on the line above it)."""
    if not module.local:
        return []
    comments = comment_lines(module.path)
    lines = module.path.read_text(encoding='utf-8').splitlines()
    offenders = []
    for line, end, targets in module.local:
        said = [comments.get(number, '') for number in range(line, end + 1)]
        if line > 1 and lines[line - 2].lstrip().startswith('#'):
            said.append(comments.get(line - 1, ''))
        if not any(text.startswith(DEFERRED) for text in said):
            offenders.append(f'{shown(module.path)}:{line} imports {", ".join(sorted(set(targets)))}')
    return offenders


@pytest.fixture(scope='module')
def modules() -> dict[str, Module]:
    return analyse(discover(PACKAGES))


def of(modules: dict[str, Module], distribution: str) -> list[Module]:
    found = [module for module in modules.values() if module.distribution == distribution]
    assert found, f'no modules found for {distribution}'
    return found


@pytest.mark.parametrize('distribution', DISTRIBUTIONS)
def test_no_import_circle(modules: dict[str, Module], distribution: str) -> None:
    """No circle of top-level imports runs through this distribution's modules (the graph spans all
    five distributions: a circle may cross them)."""
    graph = {name: module.top_level for name, module in modules.items()}
    ours = {module.name for module in of(modules, distribution)}
    found = [component for component in circles(graph) if ours & set(component)]
    described = [' -> '.join(one_cycle(graph, component)) + f'  (circle of {component})' for component in found]
    assert described == [], '\n'.join(described)


@pytest.mark.parametrize('distribution', DISTRIBUTIONS)
def test_function_local_rq_imports_are_declared_deferrals(modules: dict[str, Module], distribution: str) -> None:
    offenders = [text for module in of(modules, distribution) for text in undeclared_deferrals(module)]
    assert offenders == [], 'function-local rq imports without a "# deferred: <why>" comment:\n' + '\n'.join(offenders)


@pytest.mark.parametrize('distribution', DISTRIBUTIONS)
def test_no_module_over_the_line_limit(modules: dict[str, Module], distribution: str) -> None:
    long = []
    for module in of(modules, distribution):
        count = len(module.path.read_text(encoding='utf-8').splitlines())
        if count > MAX_LINES:
            long.append(f'{shown(module.path)}: {count} lines')
    assert long == [], f'modules over {MAX_LINES} lines:\n' + '\n'.join(long)


@pytest.mark.parametrize('distribution', DISTRIBUTIONS)
def test_each_module_starts_with_a_docstring_saying_what_it_is(modules: dict[str, Module], distribution: str) -> None:
    missing = []
    for module in of(modules, distribution):
        source = module.path.read_text(encoding='utf-8')
        tree = ast.parse(source)
        first = source.splitlines()[0] if source else ''
        said = first.strip().lstrip('rRbBuU').strip('"\'').strip()
        starts = bool(tree.body) and tree.body[0].lineno == 1 and ast.get_docstring(tree) is not None
        if not (starts and said):
            missing.append(f'{shown(module.path)}: {first!r}')
    assert missing == [], 'modules whose first line is no docstring saying what they are:\n' + '\n'.join(missing)


#: What rq-core's protocol (``rq/_redis/``) may import besides itself: the ground floor, which knows
#: nothing of rq (see the README's development section).
GROUND_FLOOR = {'rq.exceptions', 'rq.defaults', 'rq.serializers', 'rq._importing'}


#: What the job model (``rq/_jobs/``) may import besides itself and the protocol: the ground floor and
#: the value modules it is made of (results, webhooks, callbacks, helpers, the trust policy that signs
#: a job's hash and gates the imports of its callables), none of which reaches up.
MODEL_FLOOR = GROUND_FLOOR | {'rq._utils', 'rq.webhook', 'rq.results', 'rq.callbacks', 'rq.timeouts', 'rq.trust'}


def test_the_job_model_does_not_reach_up(modules: dict[str, Module]) -> None:
    """The model knows a job's data and its hash; what is done with a job (``rq._job_operations``,
    ``rq._outcome``, ``rq._lifecycle``...) and the public facades sit above it."""
    below = {'rq._jobs', 'rq._redis'}
    reaching_up = [
        f'{module.name} -> {target}'
        for module in of(modules, 'rq-core')
        if module.name in MODEL_FLOOR - GROUND_FLOOR or module.name.startswith('rq._jobs')
        for target in sorted(module.top_level)
        if target.split('.')[0:2] != ['rq', '_jobs']
        and not any(target == b or target.startswith(b + '.') for b in below)
        and target not in MODEL_FLOOR | {'rq'}
    ]
    assert reaching_up == []


def test_the_protocol_imports_only_the_ground_floor(modules: dict[str, Module]) -> None:
    reaching_up = [
        f'{module.name} -> {target}'
        for module in of(modules, 'rq-core')
        if module.name.startswith('rq._redis')
        for target in sorted(module.top_level)
        if not target.startswith('rq._redis') and target not in GROUND_FLOOR | {'rq'}
    ]
    assert reaching_up == []


# -- the checker itself, on sources written for it ------------------------------------------------

FIXTURE_SOURCES = {
    'demo/src/rq/__init__.py': '"""Root."""\n',
    'demo/src/rq/pkg/__init__.py': '"""A package."""\nfrom .a import A\n',
    'demo/src/rq/pkg/a.py': '"""A."""\nfrom . import b\nA = 1\n',
    'demo/src/rq/pkg/b.py': '"""B."""\nfrom ..pkg.c import C\n',
    'demo/src/rq/pkg/c.py': (
        '"""C: closes the circle a -> b -> c -> a; its TYPE_CHECKING import of d is no edge."""\n'
        'from typing import TYPE_CHECKING\n'
        'import rq.pkg.a\n'
        'if TYPE_CHECKING:\n'
        '    from rq.pkg import d\n'
        'else:\n'
        '    import json\n'
        'C = 1\n'
    ),
    'demo/src/rq/pkg/d.py': (
        '"""D: imports c only inside functions, once declared and once not."""\n'
        'def declared():\n'
        '    # deferred: measured, 40 ms\n'
        '    from .c import C\n'
        '    return C\n'
        '\n'
        'def hidden():\n'
        '    from rq.pkg import (\n'
        '        c,\n'
        '    )\n'
        '    return c\n'
        '\n'
        'def inline():\n'
        '    from rq.pkg.c import C  # deferred: an optional distribution\n'
        '    return C\n'
    ),
}


def test_the_checker_resolves_relative_imports_skips_type_checking_and_finds_hidden_deferrals(
    tmp_path: Path,
) -> None:
    for relative, text in FIXTURE_SOURCES.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding='utf-8')
    found = analyse(discover(tmp_path))
    assert found['rq.pkg'].top_level == {'rq.pkg.a'}
    assert found['rq.pkg.a'].top_level == {'rq.pkg.b'}
    assert found['rq.pkg.b'].top_level == {'rq.pkg.c'}
    assert found['rq.pkg.c'].top_level == {'rq.pkg.a'}  # (not d: under TYPE_CHECKING)
    assert found['rq.pkg.d'].top_level == set()
    graph = {name: module.top_level for name, module in found.items()}
    assert circles(graph) == [['rq.pkg.a', 'rq.pkg.b', 'rq.pkg.c']]
    assert one_cycle(graph, ['rq.pkg.a', 'rq.pkg.b', 'rq.pkg.c']) == ['rq.pkg.a', 'rq.pkg.b', 'rq.pkg.c', 'rq.pkg.a']
    offenders = undeclared_deferrals(found['rq.pkg.d'])
    assert len(offenders) == 1 and offenders[0].endswith('d.py:8 imports rq.pkg.c'), offenders
