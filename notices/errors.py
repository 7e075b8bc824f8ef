"""Error responses decided at app level: JSON under /api/, a page everywhere else."""
import math
from datetime import timedelta
from typing import NamedTuple

from flask import render_template
from flask import request
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from notices import expiry
from notices import lookups
from notices.api import error_response
from notices.extensions import limiter
from notices.wording import cn_date

MESSAGES = {
    400: "请求有误",
    403: "没有权限访问此页",
    404: "找不到这个页面或公告",
    405: "不支持这种请求方式",
    413: "提交的内容过大",
    429: "操作太频繁,请稍后再试",
    500: "服务器出错了,我们会尽快修复",
}

# How a rate limit's period reads: "per 1 minute" is 每分钟, "per 5 minute" 每 5 分钟.
PERIODS = {
    "second": ("秒", "秒"),
    "minute": ("分钟", "分钟"),
    "hour": ("小时", "小时"),
    "day": ("天", "天"),
    "month": ("月", "个月"),
    "year": ("年", "年"),
}


class Refusal(NamedTuple):
    """What a person refused by a rate limit is told: why, the limit, and when to try again."""

    message: str | None
    limit: str | None
    retry: str | None
    # Whole seconds until a retry may succeed, for the Retry-After header; None if unknown.
    seconds: int | None

    def sentences(self):
        message = self.message or MESSAGES[429] + "。"
        return "".join(part for part in (message, self.limit, self.retry) if part)


def limit_words(item):
    """Return a rate limit (a ``limits`` item) in words: 上限为每 5 分钟 3 次。"""
    one, several = PERIODS.get(item.GRANULARITY.name, (item.GRANULARITY.name, item.GRANULARITY.name))
    period = f"每{one}" if item.multiples == 1 else f"每 {item.multiples} {several}"
    return f"上限为{period} {item.amount} 次。"


def retry_words(seconds, now):
    """Return when a refused request may be tried again ``seconds`` after the aware ``now``:
    请于 3 分钟后(北京时间 14:05 以后)再试。"""
    if seconds < 60:
        return f"请于 {seconds} 秒后再试。"
    local = now.astimezone(expiry.BOARD_TZ)
    # ``seconds`` was rounded up to a whole second, so the fraction of a second goes again.
    until = (local + timedelta(seconds=seconds)).replace(microsecond=0)
    if until.second:
        # Shown to the minute, so rounded up: a person trying at that minute is let in.
        until = until.replace(second=0) + timedelta(minutes=1)
    # The clock time is the exact one; the wait is said to the nearest minute.
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    wait = " ".join(
        f"{n} {unit}" for n, unit in ((days, "天"), (hours, "小时"), (minutes, "分钟")) if n
    )
    if until.date() == local.date():
        day = ""
    elif until.date() == local.date() + timedelta(days=1):
        day = "明天 "
    else:
        day = cn_date(until.date()) + " "
    return f"请于 {wait}后(北京时间 {day}{until:%H:%M} 以后)再试。"


def _seconds_left(error, now):
    """Return the whole seconds from ``now`` until the limit ``error`` broke lets a request
    through again, or None if the store cannot tell."""
    current = limiter.current_limit
    if current is None or not current.breached:
        return None
    try:
        # The window's own end; RequestLimit.reset_at adds a second to it.
        reset_at = current.window.reset_time
    except Exception:
        # The store went away after refusing (RATELIMIT_SWALLOW_ERRORS lets the limits
        # themselves carry on so): the refusal stands, only without a time.
        return None
    seconds = reset_at - now.timestamp()
    if error.limit.scope == lookups.DAILY_SCOPE:
        # The day's count is kept under the board's date, so it starts afresh at midnight.
        seconds = min(seconds, lookups.seconds_to_next_day(now))
    return max(1, math.ceil(seconds))


def refusal(error):
    """Return what to tell someone a rate limit refused, from the RateLimitExceeded ``error``."""
    # Without a message of ours, Flask-Limiter describes the limit itself: "20 per 1 hour".
    message = error.description if error.limit.error_message else None
    now = expiry.utcnow()
    seconds = _seconds_left(error, now)
    retry = retry_words(seconds, now) if seconds else None
    return Refusal(message, limit_words(error.limit.limit), retry, seconds)


def retry_header(refused):
    """Return the Retry-After header for a Refusal, or no header if the time is unknown."""
    return {"Retry-After": str(refused.seconds)} if refused.seconds else {}


def handle_csrf_error(error):
    """Explain a refused form in words a person can act on."""
    error.description = "页面已过期或来源不明。请返回上一页,刷新后重新提交。"
    return handle_http_error(error)


def _own_description(error):
    """Return the description the board gave ``error``, or None for werkzeug's English one."""
    return error.description if error.description != type(error).description else None


def handle_rate_limit(error):
    """Answer a request over a rate limit, saying in Chinese when to try again."""
    refused = refusal(error)
    if request.path.startswith("/api/"):
        response = error_response(429, refused.sentences())
    else:
        response = render_template(
            "errors/error.html", code=429, title=MESSAGES[429], detail=refused.message,
            limit=refused.limit, retry=refused.retry,
        )
    return response, 429, retry_header(refused)


def handle_http_error(error):
    """Answer an HTTP error in the form the client asked for."""
    if isinstance(error, RateLimitExceeded):
        return handle_rate_limit(error)
    own = _own_description(error)
    if request.path.startswith("/api/"):
        if error.code in (400, 404):
            message = error.description
        else:
            message = own or MESSAGES.get(error.code)
        response = error_response(error.code, message or error.name)
    else:
        response = render_template(
            "errors/error.html",
            code=error.code,
            title=MESSAGES.get(error.code, error.name),
            detail=own,
        ), error.code
    return response


def init_app(app):
    # Unexpected exceptions reach this too, as a 500, after Flask has logged them.
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
