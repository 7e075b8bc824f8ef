"""Objections to wage-clearance notices (异议): the ``objections`` blueprint (views.py) and the
only code that writes objections (records.py).

A worker objects from the notice's page while its 异议期 is open; the objection goes to the
authority the notice names (an ``authority`` account sees only those) and, by mail, to the
contractor; the authority records its handling, which the worker follows on a private page.
"""
from notices.objections.views import bp  # noqa: F401
