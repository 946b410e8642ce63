"""The version shared by the five rq distributions (kept in lockstep by a test)."""

VERSION = '0.1.0'
