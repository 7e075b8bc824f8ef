"""Alerts by e-mail: the ``alerts`` blueprint (views.py) and its services (subscriptions.py).

Anyone may subscribe an address to a search, a type or a document number, confirm it from
the mail, switch between immediate mail and a daily digest, and unsubscribe in one click.
"""
from notices.alerts.views import bp  # noqa: F401
from notices.alerts.views import init_app  # noqa: F401
