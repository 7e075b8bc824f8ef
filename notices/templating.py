"""Jinja filters and globals shared by every template."""
import re

import segno
from flask import request
from flask import url_for
from markupsafe import Markup
from markupsafe import escape

from notices import kinds
from notices import search
from notices.services import STATUS_NAMES
from notices.urls import public_url
from notices.wording import board_time
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
    # `flask purge`: personal data removed at the end of its retention period.
    "purge": "按期删除个人信息",
    # On a correction: published as one; on the notice it corrects: corrected by it.
    "correction": "发布更正",
    "corrected": "被更正",
    "request": "申请更正",
}

URL = re.compile(r"https?://[^\s()<>()]+")
# A mainland phone number standing alone: a mobile (13889099800), a landline with its area code
# and an optional extension (0891-6323333, 0891-6323333-801), or a 400/800 service number. A
# digit, letter, * or - on either side means it is part of something else (an ID number, masked
# or not, a credit code, a reference, a document number with a letter), so it is left as text.
# Every quantifier is bounded and the lookarounds are one character: the work per position is
# constant, so the scan is linear in the length of the text.
PHONE = re.compile(
    r"(?<![0-9A-Za-z*\-])"
    r"(?:1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}(?:-[0-9]{1,6})?|[48]00-?[0-9]{3}-?[0-9]{4})"
    r"(?![0-9A-Za-z*\-])"
)


def tel_link(number):
    """Return a phone number as a link that dials it, the number shown as written.

    A landline's extension (0891-6323333-801) is dialled after a pause, as phones read a comma.
    """
    parts = number.split("-")
    if number.startswith("0") and len(parts) == 3:
        digits = f"{parts[0]}{parts[1]},{parts[2]}"
    else:
        digits = "".join(parts)
    return Markup('<a href="tel:{0}" class="tel">{1}</a>').format(digits, number)


def _phones(text):
    out, last = [], 0
    for match in PHONE.finditer(text):
        out.append(escape(text[last : match.start()]))
        out.append(tel_link(match.group(0)))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def linkify(text, phones=False):
    """Escape ``text`` and turn its http(s) addresses into links, and with ``phones`` its phone
    numbers into tel: links. The text itself is unchanged: only links are added around it."""
    plain = _phones if phones else escape
    out, last = [], 0
    for match in URL.finditer(text):
        out.append(plain(text[last : match.start()]))
        url = match.group(0)
        out.append(Markup('<a href="{0}" rel="nofollow noopener">{0}</a>').format(url))
        last = match.end()
    out.append(plain(text[last:]))
    return Markup("").join(out)


def qr_code(address):
    """Return a QR code of ``address`` as inline SVG, drawn here so the page needs no script
    and no image from elsewhere (the CSP allows neither)."""
    svg = segno.make(address, error="m").svg_inline(omitsize=True, svgclass="qr-code",
                                                   title="本页地址的二维码")
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))


def page_url(page):
    """Return the current listing's URL at another page, keeping its filters."""
    args = {**request.args.to_dict(), **(request.view_args or {}), "page": page}
    return url_for(request.endpoint, **args)


def init_app(app):
    app.add_template_filter(cn_date)
    app.add_template_filter(linkify)
    app.add_template_global(qr_code)
    app.add_template_filter(board_time)
    app.add_template_global(page_url)
    app.add_template_global(public_url)
    app.add_template_global(search.highlight, "highlight")
    app.add_template_global(kinds.KINDS, "KINDS")
    app.add_template_global(STATUS_NAMES, "STATUS_NAMES")
    app.add_template_global(ACTION_NAMES, "ACTION_NAMES")
