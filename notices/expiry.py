"""Notice windows: pure functions of dates, counted in the board's time zone.

The clock is read once at the edge (a request, a CLI command) with :func:`utcnow`; everything
below takes ``now`` or ``today`` as an argument, so each rule is tested without an app.
"""
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from zoneinfo import ZoneInfo

# Days are counted in Tibet's legal time whatever zone the server runs in.
BOARD_TZ = ZoneInfo("Asia/Shanghai")


def utcnow():
    """Return the current time, aware, in UTC."""
    return datetime.now(timezone.utc)


def board_today(now):
    """Return the board's calendar date at the aware instant ``now``."""
    if now.tzinfo is None:
        raise ValueError("board_today() needs an aware datetime")
    return now.astimezone(BOARD_TZ).date()


def window_end(start, days):
    """Return the last day of a window of ``days`` days starting on ``start``.

    The newspaper's 30-day call starting 2024-03-08 runs to 2024-04-07: the end is
    ``start + days``, and that last day belongs to the window.
    """
    return start + timedelta(days=days)


def is_expired(end, today):
    """Return whether a window ending on ``end`` is over on ``today``.

    A notice is active through the whole of its last day and expired from the next midnight.
    """
    return today > end


def is_open(start, today):
    """Return whether a window starting on ``start`` has begun on ``today``."""
    return today >= start


def days_left(end, today):
    """Return how many days remain after ``today`` until the window's last day."""
    return (end - today).days


def active_clause(end_column, today):
    """Return the SQL condition that keeps notices whose window ends on or after ``today``.

    It is the negation of :func:`is_expired`, in SQL; a test checks the two agree.
    """
    return end_column >= today


def public_state(status, end, today):
    """Return what the public is told of a notice: ``active``, ``expired`` or ``revoked``."""
    if status == "revoked":
        return "revoked"
    return "expired" if is_expired(end, today) else "active"
