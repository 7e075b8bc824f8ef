"""Windows and expiry as pure functions of dates: no app, no patched clock."""
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from zoneinfo import ZoneInfo

import pytest

from notices import expiry

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_thirty_day_window_matches_the_printed_call():
    assert expiry.window_end(date(2024, 3, 8), 30) == date(2024, 4, 7)


def test_window_length_is_configurable():
    assert expiry.window_end(date(2024, 3, 8), 7) == date(2024, 3, 15)


def test_window_crosses_a_leap_day():
    assert expiry.window_end(date(2024, 2, 15), 30) == date(2024, 3, 16)


@pytest.mark.parametrize(
    ("today", "expired"),
    [
        (date(2024, 4, 6), False),
        (date(2024, 4, 7), False),  # the whole last day belongs to the window
        (date(2024, 4, 8), True),
    ],
)
def test_active_through_the_last_day(today, expired):
    assert expiry.is_expired(date(2024, 4, 7), today) is expired


@pytest.mark.parametrize(
    ("instant", "board_date"),
    [
        # The last minute of the last day, Beijing time.
        (datetime(2024, 4, 7, 23, 59, tzinfo=SHANGHAI), date(2024, 4, 7)),
        # The first minute after it.
        (datetime(2024, 4, 8, 0, 0, tzinfo=SHANGHAI), date(2024, 4, 8)),
        # 15:59 UTC is 23:59 in Lhasa: still the last day.
        (datetime(2024, 4, 7, 15, 59, tzinfo=timezone.utc), date(2024, 4, 7)),
        # 16:00 UTC on the 7th is already the 8th in Lhasa, though a UTC server says 7th.
        (datetime(2024, 4, 7, 16, 0, tzinfo=timezone.utc), date(2024, 4, 8)),
        # A server in New York: 12:00 on the 7th there is 00:00 on the 8th in Lhasa.
        (datetime(2024, 4, 7, 12, 0, tzinfo=ZoneInfo("America/New_York")), date(2024, 4, 8)),
        (datetime(2024, 4, 7, 11, 59, tzinfo=ZoneInfo("America/New_York")), date(2024, 4, 7)),
    ],
)
def test_board_today_counts_days_in_shanghai(instant, board_date):
    assert expiry.board_today(instant) == board_date


@pytest.mark.parametrize(
    ("instant", "expired"),
    [
        (datetime(2024, 4, 7, 23, 59, 59, tzinfo=SHANGHAI), False),
        (datetime(2024, 4, 8, 0, 0, tzinfo=SHANGHAI), True),
    ],
)
def test_expiry_at_the_minute(instant, expired):
    end = expiry.window_end(date(2024, 3, 8), 30)
    assert expiry.is_expired(end, expiry.board_today(instant)) is expired


def test_board_today_refuses_naive_datetimes():
    with pytest.raises(ValueError):
        expiry.board_today(datetime(2024, 4, 7, 12, 0))


def test_window_not_yet_open():
    assert not expiry.is_open(date(2024, 3, 8), date(2024, 3, 7))
    assert expiry.is_open(date(2024, 3, 8), date(2024, 3, 8))


def test_days_left():
    assert expiry.days_left(date(2024, 4, 7), date(2024, 4, 6)) == 1
    assert expiry.days_left(date(2024, 4, 7), date(2024, 4, 7)) == 0


@pytest.mark.parametrize(
    ("status", "today", "state"),
    [
        ("published", date(2024, 4, 7), "active"),
        ("published", date(2024, 4, 8), "expired"),
        ("revoked", date(2024, 3, 20), "revoked"),
        ("revoked", date(2025, 1, 1), "revoked"),
    ],
)
def test_public_state(status, today, state):
    assert expiry.public_state(status, date(2024, 4, 7), today) == state


def test_utcnow_is_aware():
    now = expiry.utcnow()
    assert now.tzinfo is not None
    assert abs(now - datetime.now(timezone.utc)) < timedelta(seconds=5)
