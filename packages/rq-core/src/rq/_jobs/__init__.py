"""The job model, split by responsibility; the public names are re-exported by :mod:`rq.job`."""
