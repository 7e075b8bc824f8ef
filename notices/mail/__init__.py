"""Mail the board sends: written to an outbox with the event it tells of, sent by a worker.

A service that causes a mail (a submission, a decision) adds an outbox row in its own
transaction with :func:`queue`, so the mail exists exactly when the event does: a refused
submission writes none, and a crash after the commit loses none. ``flask send-mail`` (the
worker, ``worker.py``) sends what is due through SMTP (``transport.py``), never inside a
request, retrying what a server refuses for now, and moves each row to the mail log once it
is sent or given up. What the board says to submitters is in ``submitters.py``; later
senders (subscriptions, document watches) call :func:`queue` the same way, with a
``dedupe_key`` and their own headers (List-Unsubscribe).
"""
import json
import os
from urllib.parse import urlsplit

from notices.mail.outbox import queue  # noqa: F401
from notices.mail.outbox import recipient_hash  # noqa: F401
from notices.mail.worker import Sent  # noqa: F401
from notices.mail.worker import send_due  # noqa: F401

# Settings that are text whatever they look like: from_prefixed_env reads every FLASK_*
# value as JSON when it can, and a password of 123456 or true would become a number or True.
TEXT_SETTINGS = ("MAIL_SERVER", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_SENDER")


def init_app(app):
    """Settle the mail settings, and refuse ones that cannot work together."""
    for name in TEXT_SETTINGS:
        raw = os.environ.get(f"FLASK_{name}")
        if raw is not None and not isinstance(app.config.get(name), str):
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw
            if parsed == app.config.get(name):
                app.config[name] = raw
    if app.config["MAIL_USE_TLS"] and app.config["MAIL_USE_SSL"]:
        raise RuntimeError(
            "MAIL_USE_TLS (STARTTLS, port 587) and MAIL_USE_SSL (TLS from the start, port 465) "
            "exclude each other: set one"
        )
    if not app.config["MAIL_PORT"]:
        app.config["MAIL_PORT"] = (
            465 if app.config["MAIL_USE_SSL"] else 587 if app.config["MAIL_USE_TLS"] else 25
        )
    if not app.config["MAIL_SENDER"]:
        host = urlsplit(app.config["PUBLIC_URL"]).hostname or "localhost"
        # An address literal makes no sender a server accepts; the demo serves on 127.0.0.1.
        if host.replace(".", "").isdigit() or ":" in host:
            host = "localhost"
        app.config["MAIL_SENDER"] = f"西藏公告栏 <noreply@{host}>"


def printing(config):
    """Return True if the worker prints mail instead of sending it (no MAIL_SERVER)."""
    return not config.get("MAIL_SERVER")
