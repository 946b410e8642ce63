"""Small helpers with RQ 2.x's public names (``parse_timeout``, ``import_attribute``, ``import_job_class``, ...).

rq's own modules import them from :mod:`rq._utils` (and :mod:`rq._class_lookup`, which needs the Job
and Queue classes); this module gathers them where RQ code looks for them.
"""

from __future__ import annotations

from . import _class_lookup, _utils
from ._class_lookup import *  # noqa: F403
from ._importing import ImportAttributeError as ImportAttributeError
from ._importing import ImportAttributeModuleError as ImportAttributeModuleError
from ._utils import *  # noqa: F403

__all__ = _utils.__all__ + _class_lookup.__all__
