"""Personal data: the privacy notice, the consent to publish, retention and the submitter's copy.

What the board keeps of whom, and for how long, is said once here: the privacy notice
(views.py) states these periods from the configuration, ``flask purge`` (purge.py) removes
what is due by the same rules, and a submitter's download (export.py) tells when each part
of their submission will be removed, computed by :func:`removal_dates`.

Periods are counted in board days (Asia/Shanghai), as windows are: a part kept ``N`` days
after a day ``D`` is kept through day ``D + N`` and removed by the purge run on ``D + N + 1``.
"""
from datetime import datetime
from datetime import time
from datetime import timedelta

from notices import expiry

# The privacy notice's version: changed whenever what the notice says changes, and recorded
# with every consent to publish so that it is known what the person was told.
PRIVACY_VERSION = "2026-11-27"

# What replaces a removed name or phone number; an e-mail address is removed outright (None),
# so nothing is ever sent to a marker.
MARKER = "〔已按期删除〕"

# What each type's form publishes, as its consent box and the privacy notice say it.
PUBLISHED = {
    "supplier_call": "发布单位名称、征集范围和条件、征集详情网址,以及联系单位、联系人姓名、联系电话和邮箱",
    "expert_call": "发布单位名称、专家条件和申请方式、征集详情网址,以及联系单位、联系人姓名、联系电话和邮箱",
    "wage_clearance": "承建单位名称、项目名称、联系电话和受理异议的部门",
    "loss_declaration": (
        "声明人姓名或名称,每件证件的所有人姓名、证件类型和证件编号"
        "(居民身份证号码只显示前4位和最后1位,统一社会信用代码只显示前6位和最后1位)"
    ),
}

# Published or revoked: the public record stays; the submitter's contacts are what goes.
KEPT_PUBLIC = ("published", "revoked")
# Closed without being published: everything personal goes after the shorter period.
UNPUBLISHED = ("rejected", "withdrawn")


def periods(config):
    """Return the retention periods in days, by name, from the app's configuration."""
    return {
        "contacts": config["RETAIN_CONTACTS_DAYS"],
        "unpublished": config["RETAIN_UNPUBLISHED_DAYS"],
        "mail": config["RETAIN_MAIL_DAYS"],
        "unconfirmed": config["ALERT_CONFIRM_DAYS"],
        "objections": config["RETAIN_OBJECTIONS_DAYS"],
    }


def removed_on(day, days):
    """Return the first board day a part kept ``days`` days after ``day`` is removed."""
    return day + timedelta(days=days + 1)


def kept_through(today, days):
    """Return the last day (``D``) a part kept ``days`` days after ``D`` is still kept on
    ``today``: anything whose day is before this is due."""
    return today - timedelta(days=days)


def day_start(day):
    """Return the aware instant board day ``day`` begins."""
    return datetime.combine(day, time(), tzinfo=expiry.BOARD_TZ)


def removal_dates(notice, config):
    """Return {part: the board day it is removed, or None while it is not yet known or kept
    for good} for a notice's submitter contacts and its content."""
    days = periods(config)
    if notice.status in KEPT_PUBLIC and notice.window_end is not None:
        return {"contacts": removed_on(notice.window_end, days["contacts"]), "content": None}
    if notice.status in UNPUBLISHED and notice.closed_at is not None:
        day = removed_on(expiry.board_today(notice.closed_at), days["unpublished"])
        return {"contacts": day, "content": day}
    # Under review: the periods start when the review ends.
    return {"contacts": None, "content": None}


# Days the shipped logrotate configuration (deploy/logrotate.conf) keeps access and error
# logs, and the days the README's backup rotation keeps a backup: what the privacy notice
# states, checked against the shipped configuration by the tests.
LOG_RETENTION_DAYS = 14
BACKUP_RETENTION_DAYS = 30


from notices.privacy.views import bp  # noqa: E402,F401
from notices.privacy.views import init_app  # noqa: E402,F401
