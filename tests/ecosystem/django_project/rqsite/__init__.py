"""A small Django site that uses django-rq on our rq packages (driven by tests/ecosystem/test_django_rq.py)."""
