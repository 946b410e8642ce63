"""The ``pytest11`` entry point of rq-testing; the plugin itself is :mod:`rq.testing.pytest_plugin`.

Why a top-level module: pytest rewrites the assertions of the package that holds an entry-point
plugin, and for an editable install it picks the outermost regular package of the entry point's
module. For ``rq.testing.pytest_plugin`` that is all of ``rq`` (rq-core, rq-worker, ...), whose
modules would then be rewritten in every pytest run of every project that has rq-testing
installed. Pointing the entry point at this module keeps the rewriting to this file.
"""

from rq.testing.pytest_plugin import *  # noqa: F403
