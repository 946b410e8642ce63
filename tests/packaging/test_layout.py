"""The five distributions fit together: one version, exact internal pins, one ``rq/__init__.py``,
a ``py.typed`` each, no upstream ``rq`` installed, rq-core importing none of the others, and wheels
in which every file has exactly one owner (``scripts/check_wheels.py``)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import rq
from repo_scripts import load_script
from rq.version import VERSION
from shared_wheels import built_wheels, check_summary

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / 'packages'
DISTRIBUTIONS = ('rq-core', 'rq-worker', 'rq-cron', 'rq-cli', 'rq-testing')
#: Each distribution's portion of the shared ``rq`` package, and its ``py.typed`` marker.
PY_TYPED = {
    'rq-core': 'rq/py.typed',
    'rq-worker': 'rq/worker/py.typed',
    'rq-cron': 'rq/cron/py.typed',
    'rq-cli': 'rq/cli/py.typed',
    'rq-testing': 'rq/testing/py.typed',
}
OPTIONAL_SUBPACKAGES = ('rq.worker', 'rq.cron', 'rq.cli', 'rq.testing')


def normalize(name: str) -> str:
    return re.sub(r'[-_.]+', '-', name).lower()


def requirement_name_and_spec(requirement: str) -> tuple[str, str]:
    match = re.match(r'^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)', requirement)
    assert match is not None, requirement
    return normalize(match[1]), re.sub(r'\s+', '', match[2])


def project(distribution: str) -> dict[str, Any]:
    with (PACKAGES / distribution / 'pyproject.toml').open('rb') as f:
        return dict(tomllib.load(f)['project'])


def test_the_five_distributions_are_the_packages() -> None:
    assert sorted(p.name for p in PACKAGES.iterdir() if (p / 'pyproject.toml').exists()) == sorted(DISTRIBUTIONS)
    assert [project(d)['name'] for d in DISTRIBUTIONS] == list(DISTRIBUTIONS)


@pytest.mark.parametrize('distribution', DISTRIBUTIONS)
def test_each_distribution_has_a_readme_that_is_its_package_page(distribution: str) -> None:
    """What it is, how to install it (from the checkout: the names on PyPI are not ours), an example
    in Python, a link to the top README; no placeholder text left from before it was built."""
    assert project(distribution)['readme'] == 'README.md'
    text = (PACKAGES / distribution / 'README.md').read_text()
    assert text.startswith(f'# {distribution}\n')
    assert re.search(rf'^python scripts/install\.py (?:[^\n]* )?{distribution}\b', text, re.MULTILINE), (
        'no install line'
    )
    assert 'pip install rq-' not in text.replace('`pip install rq-cli` would', '').replace(
        '`pip install rq-cron` would', ''
    ), 'an install by name from PyPI'
    assert '```python\n' in text or re.search(r'^rq \w', text, re.MULTILINE), 'no example'
    assert '(../../README.md' in text, 'no link to the top README'
    for stale in ('placeholder', 'not implemented', 'TODO'):
        assert stale not in text, stale


def test_versions_in_lockstep_and_internal_dependencies_pinned_exactly() -> None:
    assert rq.VERSION == rq.__version__ == VERSION
    assert {d: project(d)['version'] for d in DISTRIBUTIONS} == {d: VERSION for d in DISTRIBUTIONS}
    problems = []
    for distribution in DISTRIBUTIONS:
        internal = {}
        for requirement in project(distribution).get('dependencies', []):
            name, spec = requirement_name_and_spec(requirement)
            if name == 'rq':
                problems.append(f'{distribution} depends on upstream rq: {requirement!r}')
            elif name.startswith('rq-'):
                internal[name] = spec
        for name, spec in internal.items():
            if name not in DISTRIBUTIONS or spec != f'=={VERSION}':
                problems.append(f'{distribution} requires {name}{spec}: must be one of ours, pinned =={VERSION}')
        if distribution == 'rq-core' and internal:
            problems.append(f'rq-core depends on {sorted(internal)}: it must need none of the others')
        if distribution != 'rq-core' and 'rq-core' not in internal:
            problems.append(f'{distribution} does not depend on rq-core')
    assert problems == []


def test_only_rq_core_ships_rq_init() -> None:
    inits = sorted(str(p.relative_to(PACKAGES)) for p in PACKAGES.glob('rq-*/src/rq/__init__.py'))
    assert inits == ['rq-core/src/rq/__init__.py']


def test_every_distribution_has_its_py_typed() -> None:
    missing = [f'{d}/src/{marker}' for d, marker in PY_TYPED.items() if not (PACKAGES / d / 'src' / marker).is_file()]
    assert missing == []


def test_no_upstream_rq_distribution_is_installed() -> None:
    names = {normalize(d.metadata['Name'] or '') for d in importlib.metadata.distributions()}
    assert 'rq' not in names, 'upstream rq is installed: it overwrites our rq/ files (pip uninstall rq)'
    assert 'rq-core' in names
    # ... and every file of the rq package imported here is ours: a portion is one of our source trees
    # (editable install) or holds only files recorded by our five distributions (wheel install), so
    # a copy of upstream unpacked into site-packages/rq shows up even without its metadata.
    recorded = {
        Path(str(d.locate_file(f))).resolve()
        for name in DISTRIBUTIONS
        for d in [importlib.metadata.distribution(name)]
        for f in d.files or []
    }
    sources = {(PACKAGES / name / 'src' / 'rq').resolve() for name in DISTRIBUTIONS}
    foreign = [
        str(path)
        for portion in map(Path, rq.__path__)
        if portion.resolve() not in sources
        for path in portion.rglob('*.py')
        if path.resolve() not in recorded
    ]
    assert foreign == []
    assert (Path(rq.__file__).parent / '_redis' / 'keys.py').is_file()


#: Run in a fresh interpreter: import every module of rq-core (found by walking its source tree),
#: then report which modules of the other distributions got imported along the way.
IMPORT_ALL_CORE = """
import importlib, json, sys
from pathlib import Path

core = Path(sys.argv[1])
names = []
for path in sorted(core.rglob('*.py')):
    parts = list(path.relative_to(core.parent).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts.pop()
    names.append('.'.join(parts))
for name in names:
    importlib.import_module(name)
optional = ('rq.worker', 'rq.cron', 'rq.cli', 'rq.testing')
leaked = sorted(m for m in sys.modules if any(m == o or m.startswith(o + '.') for o in optional))
print(json.dumps({'imported': names, 'leaked': leaked}))
"""


def test_importing_every_core_module_imports_no_other_distribution() -> None:
    core = PACKAGES / 'rq-core' / 'src' / 'rq'
    completed = subprocess.run(
        [sys.executable, '-c', IMPORT_ALL_CORE, str(core)], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert 'rq' in report['imported'] and 'rq._redis.ops' in report['imported'] and 'rq.queue' in report['imported']
    assert len(report['imported']) == len(list(core.rglob('*.py')))
    assert report['leaked'] == []


# -- the wheel check --------------------------------------------------------------------------------


def test_wheel_check_script_passes(tmp_path: Path) -> None:
    """``scripts/check_wheels.py`` builds the five wheels and finds nothing wrong (the shared build
    the install tests use is that script's own run: see tests/support/shared_wheels.py)."""
    wheels = built_wheels(tmp_path / 'dist')
    summary = check_summary().strip().splitlines()
    assert len(summary) == 1 and 'OK' in summary[0], summary
    assert sorted(p.name for p in wheels) == sorted(
        f'{d.replace("-", "_")}-{VERSION}-py3-none-any.whl' for d in DISTRIBUTIONS
    )
    with zipfile.ZipFile(tmp_path / 'dist' / f'rq_worker-{VERSION}-py3-none-any.whl') as worker_wheel:
        assert 'rq/__init__.py' not in worker_wheel.namelist()
        assert 'rq/worker/py.typed' in worker_wheel.namelist()


def test_wheel_check_first_removes_wheels_left_from_before(tmp_path: Path) -> None:
    """Only the wheels of this build are checked: a stale one in the directory would be a sixth."""
    dist = tmp_path / 'dist'
    dist.mkdir()
    (dist / 'stale-0.0.1-py3-none-any.whl').write_bytes(b'not a wheel')
    (dist / 'notes.txt').write_text('kept')
    load_script('check_wheels').remove_old_wheels(dist)
    assert sorted(p.name for p in dist.iterdir()) == ['notes.txt']


def good_wheels(check: ModuleType) -> list[Any]:
    wheels = []
    for distribution, marker in PY_TYPED.items():
        portion = marker.rsplit('/', 1)[0]
        files = [marker, f'{portion}/module_{distribution[3:]}.py']
        if distribution == 'rq-core':
            files.append('rq/__init__.py')
        requires = [] if distribution == 'rq-core' else ['rq-core==1.2.3', 'redis>=5']
        path = Path(f'{distribution.replace("-", "_")}-1.2.3-py3-none-any.whl')
        wheels.append(check.Wheel(path=path, name=distribution, version='1.2.3', files=files, requires=requires))
    return wheels


def _by_name(wheels: list[Any], name: str) -> Any:
    return next(w for w in wheels if w.name == name)


def _duplicate_file(wheels: list[Any]) -> str:
    _by_name(wheels, 'rq-cli').files.append('rq/worker/py.typed')
    return 'rq/worker/py.typed is shipped by 2 wheels'


def _second_init(wheels: list[Any]) -> str:
    _by_name(wheels, 'rq-cron').files.append('rq/__init__.py')
    return 'ships rq/__init__.py: only rq-core may'


def _core_without_init(wheels: list[Any]) -> str:
    _by_name(wheels, 'rq-core').files.remove('rq/__init__.py')
    return 'does not ship rq/__init__.py'


def _missing_py_typed(wheels: list[Any]) -> str:
    _by_name(wheels, 'rq-testing').files.remove('rq/testing/py.typed')
    return 'does not ship its own rq/testing/py.typed'


def _version_drift(wheels: list[Any]) -> str:
    _by_name(wheels, 'rq-worker').version = '1.2.4'
    return 'versions differ'


def _loose_pin(wheels: list[Any]) -> str:
    _by_name(wheels, 'rq-cli').requires = ['rq-core>=1.2.3', 'rq-worker==1.2.3']
    return "rq-cli requires 'rq-core>=1.2.3'"


def _old_pin(wheels: list[Any]) -> str:
    _by_name(wheels, 'rq-cron').requires = ['rq_core (==1.2.2)']
    return 'must be pinned ==1.2.3'


def _upstream_dependency(wheels: list[Any]) -> str:
    _by_name(wheels, 'rq-testing').requires.append('rq>=2')
    return 'depends on upstream rq'


def _missing_wheel(wheels: list[Any]) -> str:
    wheels.remove(_by_name(wheels, 'rq-cron'))
    return 'no wheel for rq-cron'


def _extra_wheel(wheels: list[Any]) -> str:
    wheels.append(wheels[0].__class__(path=Path('rq_core-1.2.3-py3-none-any.whl'), name='rq-core', version='1.2.3'))
    return '2 wheels for rq-core'


@pytest.mark.parametrize(
    'break_it',
    [
        _duplicate_file,
        _second_init,
        _core_without_init,
        _missing_py_typed,
        _version_drift,
        _loose_pin,
        _old_pin,
        _upstream_dependency,
        _missing_wheel,
        _extra_wheel,
    ],
)
def test_wheel_check_reports_each_problem(break_it: Any) -> None:
    check = load_script('check_wheels')
    wheels = good_wheels(check)
    assert check.check_wheels(wheels) == []
    expected = break_it(wheels)
    problems = check.check_wheels(wheels)
    assert any(expected in problem for problem in problems), problems


def test_wheel_check_reads_wheel_metadata(tmp_path: Path) -> None:
    check = load_script('check_wheels')
    path = tmp_path / 'rq_worker-1.2.3-py3-none-any.whl'
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('rq/worker/__init__.py', '')
        archive.writestr('rq/worker/py.typed', '')
        archive.writestr(
            'rq_worker-1.2.3.dist-info/METADATA',
            'Metadata-Version: 2.4\nName: rq-worker\nVersion: 1.2.3\nRequires-Dist: rq-core==1.2.3\n',
        )
        archive.writestr('rq_worker-1.2.3.dist-info/RECORD', '')
    wheel = check.read_wheel(path)
    assert (wheel.name, wheel.version) == ('rq-worker', '1.2.3')
    assert wheel.files == ['rq/worker/__init__.py', 'rq/worker/py.typed']
    assert wheel.requires == ['rq-core==1.2.3']
