"""The Redis protocol of RQ 2.x, in one place: key names, encodings, scripts and state transitions.

Nothing outside this package spells an ``rq:`` key or chains raw commands on one.
"""
