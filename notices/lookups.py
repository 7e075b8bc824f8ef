"""Limits on exact document-number lookups, so that nobody can enumerate them.

A masked number on a public page leaves at least 100,000 full numbers that fit it, and every
exact lookup (``/lost``, ``/api/v1/lost-documents``, a search for a number) answers "declared or
not" for one candidate. So each address may ask ``LOOKUP_RATE_LIMIT`` times, and the whole board
answers ``LOOKUP_DAILY_MISSES`` misses a day: an enumeration is almost all misses, while a person
checking the number in their hand asks once or twice. Both count in Flask-Limiter's store, which
every worker shares (Redis under gunicorn).
"""
from datetime import datetime
from datetime import time
from datetime import timedelta

from flask import current_app
from flask import g
from flask import request

from notices import expiry
from notices import search
from notices.extensions import limiter

PER_ADDRESS_MESSAGE = (
    "证件号码查询过于频繁。为防止有人逐个试探号码,每个网络地址查询次数有限。"
)
DAILY_MESSAGE = (
    "今天全站的证件号码查询已达上限。为防止有人逐个试探号码,每天查不到结果的查询次数有限。"
)
# The count of the whole board's misses, one a day (the 429 page says when the next one starts).
DAILY_SCOPE = "number-lookup-misses"


def _per_address():
    return current_app.config["LOOKUP_RATE_LIMIT"]


def _daily_misses():
    return f"{current_app.config['LOOKUP_DAILY_MISSES']} per day"


def _board_day():
    # One count for everyone, started afresh each day of the board's calendar.
    return "board-day-" + expiry.board_today(expiry.utcnow()).isoformat()


def seconds_to_next_day(now):
    """Return the seconds from the aware ``now`` to the next midnight of the board's calendar."""
    local = now.astimezone(expiry.BOARD_TZ)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(), expiry.BOARD_TZ)
    return (midnight - local).total_seconds()


def missed():
    """Record that the lookup of this request found nothing: it counts against the day's budget."""
    g.number_lookup_missed = True


def searched(q, total):
    """Record a search that looked a document number up and found nothing as a miss."""
    if not total and search.numbers_in(q):
        missed()


def asks_no_number():
    """Return True if this request's search (its ``q``) looks up no document number exactly."""
    return not search.numbers_in(request.args.get("q", ""))


def _was_missed(response):
    return g.get("number_lookup_missed", False)


def limited(exempt_when=None):
    """Limit a view that answers whether a document number was declared void.

    ``exempt_when`` tells requests that look up no number (an empty form, a search for words).
    """

    def decorate(view):
        view = limiter.shared_limit(
            _daily_misses, scope=DAILY_SCOPE, key_func=_board_day,
            deduct_when=_was_missed, exempt_when=exempt_when, error_message=DAILY_MESSAGE,
        )(view)
        return limiter.shared_limit(
            _per_address, scope="number-lookup", exempt_when=exempt_when,
            error_message=PER_ADDRESS_MESSAGE,
        )(view)

    return decorate
