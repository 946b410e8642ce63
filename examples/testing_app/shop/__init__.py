"""A small shop back end whose slow work runs in rq jobs (the example for rq-testing)."""
