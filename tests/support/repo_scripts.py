"""Load one of the repository's ``scripts/`` as a module, as it finds its siblings when run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[2] / 'scripts'


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a fresh module (its sibling modules, such as ``wheel_metadata``,
    import as they do when the script runs: ``scripts/`` is on ``sys.path``)."""
    if str(SCRIPTS) not in sys.path:
        sys.path.append(str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(f'rq_script_{name}', SCRIPTS / f'{name}.py')
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (its dataclasses look their module up there)
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module
