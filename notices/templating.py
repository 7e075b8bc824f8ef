"""Jinja filters and globals shared by every template."""
import re

from flask import request
from flask import url_for
from markupsafe import Markup
from markupsafe import escape

from notices import expiry
from notices import kinds
from notices import search
from notices.services import STATUS_NAMES
from notices.urls import public_url
from notices.wording import cn_date

# How the audit trail's actions read on the review page.
ACTION_NAMES = {
    "submit": "提交",
    "approve": "通过并发布",
    # Published by `flask import-notices`, at the moment the archive says it was.
    "import": "导入并发布",
    "reject": "退回",
    "withdraw": "撤回",
    "revoke": "撤销",
    "expire": "期满",
}

URL = re.compile(r"https?://[^\s()<>()]+")


def linkify(text):
    """Escape ``text`` and turn its http(s) addresses into links."""
    out, last = [], 0
    for match in URL.finditer(text):
        out.append(escape(text[last : match.start()]))
        url = match.group(0)
        out.append(Markup('<a href="{0}" rel="nofollow noopener">{0}</a>').format(url))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def board_time(moment):
    """Return an aware datetime as the board's local date and time: 2024年3月8日 09:00."""
    local = moment.astimezone(expiry.BOARD_TZ)
    return f"{cn_date(local)} {local:%H:%M}"


def page_url(page):
    """Return the current listing's URL at another page, keeping its filters."""
    args = {**request.args.to_dict(), **(request.view_args or {}), "page": page}
    return url_for(request.endpoint, **args)


def init_app(app):
    app.add_template_filter(cn_date)
    app.add_template_filter(linkify)
    app.add_template_filter(board_time)
    app.add_template_global(page_url)
    app.add_template_global(public_url)
    app.add_template_global(search.highlight, "highlight")
    app.add_template_global(kinds.KINDS, "KINDS")
    app.add_template_global(STATUS_NAMES, "STATUS_NAMES")
    app.add_template_global(ACTION_NAMES, "ACTION_NAMES")
