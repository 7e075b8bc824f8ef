"""The mail worker behind ``flask send-mail``: claim a due mail, send it, settle it; repeat.

Any number of workers may run, on any number of servers (see outbox.py for how they share
the outbox). A temporary failure (a 4xx answer, a server down or unreachable) is tried again
after a backoff that doubles each time; a permanent refusal (5xx for the recipient or the
message) or the last of MAIL_MAX_ATTEMPTS tries gives the mail up, and the log records why.
"""
import logging
import os
import re
import secrets
import socket
import sys
from dataclasses import dataclass

from flask import current_app

from notices import expiry
from notices.mail import outbox
from notices.mail import transport as transports
from notices.mail.transport import Failure

log = logging.getLogger(__name__)


@dataclass
class Sent:
    """What one pass of the worker did."""

    sent: int = 0
    # Failed for now, due again later.
    retried: int = 0
    # Refused for good, or out of attempts.
    failed: int = 0

    def __bool__(self):
        return bool(self.sent or self.retried or self.failed)


def worker_name():
    """Return a name for this worker, unique among all: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"[-100:]


def send_due(*, transport=None, clock=expiry.utcnow):
    """Send the mail that is due, until none is; return :class:`Sent`.

    No transaction is open while the server is spoken to. ``transport`` defaults to the
    settings' (SMTP, or printing to standard output) and is closed at the end; ``clock`` gives
    the current instant, read afresh for each step.
    """
    config = current_app.config
    own = transport is None
    if own:
        transport = transports.from_config(config, sys.stdout)
    worker = worker_name()
    done = Sent()
    try:
        if not outbox.anything_due(clock()):
            return done
        while True:
            row = outbox.claim(worker, clock())
            if row is None:
                break
            try:
                transport.send(transports.compose(row, config["MAIL_SENDER"]))
            except Failure as failed:
                _settle(row, worker, failed, clock(), done)
                if failed.broken:
                    break
            else:
                outbox.record(row, clock())
                done.sent += 1
                log.info("mail %s (%s) sent as %s", row.id, row.kind, row.message_id)
    finally:
        if own:
            transport.close()
    return done


def _settle(row, worker, failed, now, done):
    """Retry ``row`` later or give it up, by what the failure says and the attempts left."""
    # A server's answer often quotes the address: the log keeps only its hash.
    reply = re.sub(re.escape(row.recipient), "<recipient>", failed.reply, flags=re.IGNORECASE)
    if failed.permanent or row.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        outbox.record(row, now, outcome="failed", error=reply)
        done.failed += 1
        log.warning("mail %s (%s) given up after %s attempts: %s",
                    row.id, row.kind, row.attempts, reply)
    else:
        due = outbox.retry(row, worker, reply, now)
        done.retried += 1
        log.warning("mail %s (%s) not sent (attempt %s): %s; trying again at %s",
                    row.id, row.kind, row.attempts, reply, due.isoformat(timespec="seconds"))
