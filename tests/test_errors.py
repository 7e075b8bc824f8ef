"""Error answers: the rate-limit refusals say, in Chinese, what the limit is and when to retry."""
import re
from datetime import datetime
from datetime import timezone

import limits
import pytest
from conftest import EDITOR_PASSWORD

from notices import errors
from notices import expiry
from notices import lookups
from notices.extensions import limiter

AFTERNOON = datetime(2024, 3, 8, 14, 3, 20, 250_000, tzinfo=expiry.BOARD_TZ)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "请于 1 秒后再试。"),
        (59, "请于 59 秒后再试。"),
        (60, "请于 1 分钟后(北京时间 14:05 以后)再试。"),
        (100, "请于 2 分钟后(北京时间 14:05 以后)再试。"),
        (40 * 60, "请于 40 分钟后(北京时间 14:44 以后)再试。"),
        (3600, "请于 1 小时后(北京时间 15:04 以后)再试。"),
        (2 * 3600 + 25 * 60, "请于 2 小时 25 分钟后(北京时间 16:29 以后)再试。"),
        (10 * 3600, "请于 10 小时后(北京时间 明天 00:04 以后)再试。"),
        (86400 + 3600, "请于 1 天 1 小时后(北京时间 明天 15:04 以后)再试。"),
        (3 * 86400, "请于 3 天后(北京时间 2024年3月11日 14:04 以后)再试。"),
    ],
)
def test_when_to_try_again_reads_as_a_wait_and_a_clock_time(seconds, words):
    assert errors.retry_words(seconds, AFTERNOON) == words


def test_the_clock_time_is_the_boards_whatever_the_zone_of_now():
    utc = AFTERNOON.astimezone(timezone.utc)
    assert errors.retry_words(600, utc) == errors.retry_words(600, AFTERNOON)


def test_a_wait_ending_on_the_minute_is_not_rounded_past_it():
    # The daily budget ends at midnight: whole seconds to it, however late in the second now is.
    now = datetime(2024, 3, 8, 23, 55, 0, 900_000, tzinfo=expiry.BOARD_TZ)
    seconds = int(lookups.seconds_to_next_day(now)) + 1
    assert errors.retry_words(seconds, now) == "请于 5 分钟后(北京时间 明天 00:00 以后)再试。"


def test_the_next_board_day_starts_at_midnight_in_tibet():
    assert lookups.seconds_to_next_day(AFTERNOON) == pytest.approx(9 * 3600 + 56 * 60 + 39.75)
    utc_evening = datetime(2024, 3, 8, 15, 30, tzinfo=timezone.utc)  # 23:30 in Lhasa
    assert lookups.seconds_to_next_day(utc_evening) == 30 * 60


@pytest.mark.parametrize(
    ("limit", "words"),
    [
        ("3 per minute", "上限为每分钟 3 次。"),
        ("3 per 1 minute", "上限为每分钟 3 次。"),
        ("20 per hour", "上限为每小时 20 次。"),
        ("5 per 10 minutes", "上限为每 10 分钟 5 次。"),
        ("2000 per day", "上限为每天 2000 次。"),
        ("4 per 2 months", "上限为每 2 个月 4 次。"),
        ("1/second", "上限为每秒 1 次。"),
    ],
)
def test_a_limit_reads_in_chinese(limit, words):
    assert errors.limit_words(limits.parse(limit)) == words


@pytest.fixture
def limited(app):
    """The app with its rate limits on, counting from zero."""
    app.config.update(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute", SUBMIT_RATE_LIMIT="1 per hour")
    limiter.init_app(app)
    yield app
    limiter.reset()


def test_the_limit_page_says_when_to_try_again(limited, editor):
    client = limited.test_client()
    for _ in range(3):
        client.post("/editor/login", data={"username": "editor", "password": "wrong-password"})
    response = client.post("/editor/login", data={"username": "editor", "password": EDITOR_PASSWORD})
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    page = response.get_data(as_text=True)
    assert "<title>操作太频繁,请稍后再试 · " in page
    assert "<p>登录尝试次数过多。</p>" in page
    assert "<p>上限为每分钟 3 次。</p>" in page
    assert re.search(r'<p class="retry">请于 \d+ 秒后再试。</p>|<p class="retry">请于 1 分钟后', page)
    assert "per 1 minute" not in page and "Too Many Requests" not in page


def test_the_api_answers_a_limit_in_json_with_chinese_words_and_retry_after(limited):
    from test_api import submission

    client = limited.test_client()
    assert client.post("/api/v1/submissions", json=submission()).status_code == 201
    response = client.post("/api/v1/submissions", json=submission(declarant="格桑"))
    assert response.status_code == 429
    assert response.is_json
    assert 3500 < int(response.headers["Retry-After"]) <= 3600
    message = response.get_json()["error"]
    assert message.startswith("提交过于频繁。为防止滥用,每个网络地址可提交的公告数量有限。上限为每小时 1 次。请于 ")
    assert re.search(r"请于 (60 分钟|1 小时)后\(北京时间 [^)]+ 以后\)再试。$", message)
