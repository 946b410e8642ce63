"""rq-core on its own, as a web app installs it: the core names import, the optional ones fail clearly.

Runs in two environments: the full workspace (``hatch run pytest``) and the core-only environment
(``hatch run core:test``, which installs only rq-core and sets ``RQ_TEST_CORE_ONLY=1``).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import rq
from rq._install_hint import install_advice
from rq.exceptions import MissingDistributionError

ROOT = Path(__file__).resolve().parents[2]
CORE_SRC = ROOT / 'packages' / 'rq-core' / 'src'
OPTIONAL_DISTRIBUTIONS = ('rq-worker', 'rq-cron', 'rq-cli', 'rq-testing')
CORE_ONLY = os.environ.get('RQ_TEST_CORE_ONLY') == '1'

#: Run in a fresh interpreter: drop the other distributions' ``packages/rq-*/src`` entries from
#: sys.path before the first ``import rq``, which is what an environment with only rq-core looks like.
SIMULATE_CORE_ONLY = """
import json, sys
from pathlib import Path

packages = Path(sys.argv[1]).resolve()
def other_portion(entry):
    path = Path(entry or '.').resolve()
    return path.name == 'src' and path.parent.parent == packages and path.parent.name != 'rq-core'
sys.path[:] = [entry for entry in sys.path if not other_portion(entry)]

def loaded(prefix):
    return sorted(m for m in sys.modules if m == prefix or m.startswith(prefix + '.'))

import rq
report = {'path': [str(Path(p).resolve()) for p in rq.__path__], 'after_import_rq': loaded('rq.worker')}
from rq import Queue, Retry, Repeat, Callback, get_current_job, cancel_job, requeue_job
report['core_names'] = [Queue.__name__, Retry.__name__, Repeat.__name__, Callback.__name__,
                        get_current_job.__name__, cancel_job.__name__, requeue_job.__name__]
report['after_core_names'] = loaded('rq.worker')
report['optional'] = {}
for name in ('Worker', 'SimpleWorker', 'SpawnWorker'):
    try:
        exec(f'from rq import {name}')
    except BaseException as exc:
        from rq.exceptions import MissingDistributionError
        report['optional'][name] = {
            'type': type(exc).__name__,
            'missing_distribution_error': isinstance(exc, MissingDistributionError),
            'import_error': isinstance(exc, ImportError),
            'message': str(exc),
            'distribution': getattr(exc, 'distribution', None),
        }
    else:
        report['optional'][name] = None
try:
    import rq.worker
    report['import_rq_worker'] = 'imported'
except ModuleNotFoundError as exc:
    report['import_rq_worker'] = exc.name
print(json.dumps(report))
"""


def run_core_only() -> Any:
    completed = subprocess.run(
        [sys.executable, '-c', SIMULATE_CORE_ONLY, str(ROOT / 'packages')],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(ROOT),
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_core_alone_imports_core_names_and_refuses_worker_clearly() -> None:
    report = run_core_only()
    # The simulation really left rq-core alone: the shared package has one portion, rq-core's.
    assert report['path'] == [str((CORE_SRC / 'rq').resolve())]
    assert report['after_import_rq'] == [] and report['after_core_names'] == []
    assert report['core_names'] == [
        'Queue',
        'Retry',
        'Repeat',
        'Callback',
        'get_current_job',
        'cancel_job',
        'requeue_job',
    ]
    assert report['import_rq_worker'] == 'rq.worker'
    for name in ('Worker', 'SimpleWorker', 'SpawnWorker'):
        error = report['optional'][name]
        assert error is not None, f'from rq import {name} worked without rq-worker'
        assert error['type'] == 'MissingDistributionError'
        assert error['missing_distribution_error'] and error['import_error']
        assert error['distribution'] == 'rq-worker'
        assert 'rq-worker' in error['message'] and install_advice('rq-worker') in error['message']


def installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def test_installed_distributions_match_this_environment() -> None:
    if CORE_ONLY:
        # `hatch run core:test`: rq-core alone, and rq works without the others.
        assert installed('rq-core')
        assert [d for d in OPTIONAL_DISTRIBUTIONS if installed(d)] == []
        assert [str(Path(p).resolve()) for p in rq.__path__] == [str((CORE_SRC / 'rq').resolve())]
        with pytest.raises(MissingDistributionError) as info:
            from rq import Worker  # noqa: F401
        assert isinstance(info.value, ImportError)
        assert install_advice('rq-worker') in str(info.value)
    else:
        # The workspace: all five, each providing its subpackage of the shared rq package.
        assert [d for d in ('rq-core', *OPTIONAL_DISTRIBUTIONS) if not installed(d)] == []
        subpackages = ('rq.worker', 'rq.cron', 'rq.cli', 'rq.testing')
        assert [name for name in subpackages if importlib.util.find_spec(name) is None] == []
