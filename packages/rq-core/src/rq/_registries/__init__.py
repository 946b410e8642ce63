"""The registry classes behind :mod:`rq.registry` that need a module of their own: the base class and
the started registry (which fails abandoned jobs)."""
