"""Logs without secrets: tracking tokens, searched ID numbers and cookies never reach a log.

A tracking URL (/track/<token>) is the submitter's key to their notice, and a lookup or a
search can carry a full ID card number in its query string; both travel in the request
line and in the Referer header that gunicorn's access log and Flask's error log record. A
database error can quote the row it refused, phone numbers and all.
"""
import logging
import re
from urllib.parse import unquote

from gunicorn import glogging

# The tracking token in a path; the values of query parameters that may hold a person's
# document number or a secret (a query string alone, as gunicorn's %(q)s, starts with one);
# and anything shaped like a mainland ID card number, wherever it appears.
_SECRETS = re.compile(
    r"(?P<path>/track/)[^/?#\s\"]+"
    r"|(?P<param>(?:^|[?&;])(?:q|number|token|password|csrf_token)=)[^&#\s\"]*"
    r"|(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])"
)
# PostgreSQL explains a refused row by quoting it ("DETAIL:  Key (ref)=(YS-…) already exists.",
# "DETAIL:  Failing row contains (…)"), in text SQLAlchemy's hide_parameters never reaches:
# the rest of such a line goes, wherever the line appears.
_DB_DETAIL = re.compile(r"(?P<label>\bDETAIL:|\bKey \()[^\n]*")
# Request and response headers gunicorn could log as %({name}i)s or %({name}o)s that carry
# a credential.
_SECRET_HEADERS = ("cookie", "set-cookie", "authorization", "x-csrftoken", "idempotency-key")


def redact(text):
    """Return ``text`` with tokens, sensitive query values, ID numbers and the rows a database
    error quotes redacted.

    Percent-encoded text is decoded first, so /%74rack/… is caught like /track/….
    """
    text = unquote(text)
    text = _SECRETS.sub(lambda m: (m.group("path") or m.group("param") or "") + "[redacted]", text)
    return _DB_DETAIL.sub(lambda m: m.group("label").rstrip(" (") + " [redacted]", text)


class RedactingFilter(logging.Filter):
    """Redact a log record's message, with its arguments filled in, and its traceback."""

    def filter(self, record):
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # An exception's text can quote the data it failed on.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


redacting = RedactingFilter()


class GunicornLogger(glogging.Logger):
    """gunicorn's logger with every access-log field and error message redacted."""

    def setup(self, cfg):
        super().setup(cfg)
        self.error_log.addFilter(redacting)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if key[1:-2] in _SECRET_HEADERS:
                atoms[key] = "[redacted]"
            elif isinstance(value, str):
                atoms[key] = redact(value)
        return atoms


def init_app(app):
    """Redact the app's own log (a 500 names its path) and the development server's."""
    app.logger.addFilter(redacting)
    logging.getLogger("werkzeug").addFilter(redacting)
