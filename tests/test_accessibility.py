"""Every page of the board checked by axe-core in Debian's Chromium, on a phone and a desktop.

The pages are reached as their users reach them: a citizen's public pages and lookups, a
clerk's forms with mistakes, previews and receipts, an editor's queue and review pages. A
page with a violation of any rule axe-core runs (WCAG 2.x A and AA among them, and its best
practices such as heading order) fails, and the report names the rule and the elements.
"""
import os
import pathlib
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from conftest import DESKTOP
from conftest import EDITOR_PASSWORD
from conftest import PHONE
from conftest import SEED_EDITOR
from playwright.sync_api import expect
from test_browser_workflow import FORMS
from test_browser_workflow import REJECTION
from test_browser_workflow import fill
from test_browser_workflow import open_form
from test_browser_workflow import press

from notices import accounts
from notices import expiry
from notices import kinds
from notices import services
from notices.alerts import subscriptions as alerts
from notices.extensions import db
from notices.models import Notice

AXE = Axe()
# BOARD_SCREENSHOTS=DIR also saves each page checked, whole, as DIR/<device>-<n> <where>.png:
# every page at both sizes, to be looked at after a change.
SCREENSHOTS = os.environ.get("BOARD_SCREENSHOTS")


def check(page, where, found):
    """Run axe-core on the page as it stands; record its violations under ``where``."""
    if SCREENSHOTS:
        device = "phone" if page.viewport_size["width"] < 600 else "desktop"
        taken = len(list(pathlib.Path(SCREENSHOTS).glob(f"{device}-*.png")))
        page.screenshot(path=f"{SCREENSHOTS}/{device}-{taken:02d} {where}.png", full_page=True)
    results = AXE.run(page)
    for violation in results.response["violations"]:
        targets = [" ".join(node["target"]) for node in violation["nodes"]][:5]
        found.append(f"{where}: {violation['id']} ({violation['impact']}) {targets}")


def visit(page, url, where, found):
    response = page.goto(url)
    assert response.status < 500, f"{where}: {response.status}"
    check(page, where, found)


def seeded(app):
    """Revoke a seed notice and make an admin; return one published ref per type and the
    revoked one's."""
    with app.app_context():
        accounts.create_user("admin", EDITOR_PASSWORD, role="admin")
        editor = accounts.find(SEED_EDITOR)
        published = {}
        for notice in db.session.scalars(db.select(Notice).order_by(Notice.id)):
            published.setdefault(notice.kind, notice.ref)
        revoked = db.session.scalar(db.select(Notice).where(Notice.kind == "loss_declaration"))
        services.revoke(revoked, editor, "重复刊登", now=expiry.utcnow())
        return published, revoked.ref


def alert_links(app):
    """Subscribe an address as the form does; return the signed links its mails carry."""
    with app.app_context():
        subscription = alerts.subscribe(
            "reader@example.cn", now=expiry.utcnow(), q="工资", notice_kind="wage_clearance",
            frequency="daily",
        )
        return {"confirm": alerts.token(subscription, "confirm"),
                "manage": alerts.token(subscription, "manage")}


@pytest.mark.parametrize("device", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_page_passes_axe(app, browser, server, device):
    published, revoked = seeded(app)
    found = []
    context = browser.new_context(**device)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        # A citizen.
        visit(page, server + "/", "front page", found)
        for code in kinds.KINDS:
            visit(page, f"{server}/types/{code}", f"list of {code}", found)
            visit(page, f"{server}/notices/{published[code]}", f"notice {code}", found)
        visit(page, f"{server}/notices/{revoked}", "revoked notice", found)
        visit(page, server + "/archive", "archive", found)
        visit(page, server + "/search", "search, empty", found)
        visit(page, server + "/search?q=%E8%AD%A6%E5%AE%98%E8%AF%81", "search, found", found)
        visit(page, server + "/search?q=%E6%B2%A1%E6%9C%89%E7%9A%84%E8%AF%8D&status=all"
              "&date_from=2024-01-01&date_to=2024-02-01", "search, nothing found", found)
        visit(page, server + "/lost", "lookup, empty", found)
        visit(page, server + "/lost?number=T540059774", "lookup, found", found)
        visit(page, server + "/lost?number=T540000000", "lookup, missed", found)
        visit(page, server + "/notices/XX-20240101-00000", "page not found", found)

        # Someone following the board by mail: the forms (one with a mistake), the page after
        # asking, and the pages the mail's links open.
        visit(page, server + "/alerts/new?q=%E5%B7%A5%E8%B5%84&type=wage_clearance",
              "alerts, subscribe", found)
        press(page, "订阅")
        expect(page.locator(".field-error").first).to_be_visible()
        check(page, "alerts, subscribe with errors", found)
        page.get_by_label("邮箱").fill("reader@example.cn")
        press(page, "订阅")
        expect(page.get_by_role("heading", name="请查收确认邮件")).to_be_visible()
        check(page, "alerts, confirmation sent", found)
        visit(page, server + "/alerts/watch", "alerts, watch a number", found)
        links = alert_links(app)
        visit(page, f"{server}/alerts/confirm/{links['confirm']}", "alerts, confirm", found)
        press(page, "确认订阅")
        expect(page.get_by_text("订阅已确认")).to_be_visible()
        check(page, "alerts, manage", found)
        visit(page, f"{server}/alerts/unsubscribe/{links['manage']}", "alerts, unsubscribe", found)
        press(page, "确认退订")
        check(page, "alerts, unsubscribed", found)

        # A clerk: each form, with mistakes, previewed, and one confirmed.
        visit(page, server + "/submit", "choose a type", found)
        receipts = {}
        for code in kinds.KINDS:
            open_form(page, server, code)
            check(page, f"form {code}", found)
            press(page, "预览")
            expect(page.locator(".field-error, .error").first).to_be_visible()
            check(page, f"form {code} with errors", found)
            page.goto(f"{server}/submit/{code}")
            fill(page, FORMS[code])
            press(page, "预览")
            expect(page.get_by_role("button", name="确认提交")).to_be_visible()
            check(page, f"preview {code}", found)
            press(page, "确认提交")
            expect(page).to_have_url(re.compile(r"/track/[\w-]{20,}$"))
            receipts[code] = (page.locator("h1 small").inner_text().removeprefix("编号 "), page.url)
            if len(receipts) == 1:
                check(page, "receipt", found)
        visit(page, receipts["loss_declaration"][1] + "/withdraw", "withdraw", found)

        # An editor (an admin, who also sees the accounts page): the login, the queue, a
        # review page of each type waiting in it.
        visit(page, server + "/editor/login", "login", found)
        page.get_by_label("用户名").fill("admin")
        page.get_by_label("密码").fill(EDITOR_PASSWORD)
        press(page, "登录")
        expect(page).to_have_url(server + "/editor/")
        check(page, "queue", found)
        for code in kinds.KINDS:
            page.goto(server + "/editor/")
            rows = page.locator("table.queue tbody tr", has_text=kinds.get(code).ref_prefix + "-")
            rows.first.get_by_role("link").first.click()
            check(page, f"review {code}", found)
        # The last one reviewed is approved through its confirm page; the next one opens.
        press(page, "通过并发布")
        check(page, "approve, confirm", found)
        press(page, "确认发布")
        check(page, "after a decision", found)
        # A published notice's review page, and its revocation's confirm page.
        visit(page, f"{server}/editor/notices/{published['wage_clearance']}", "review, published",
              found)
        page.get_by_label("撤销理由(将公开显示)").fill("重复刊登")
        press(page, "撤销公告")
        check(page, "revoke, confirm", found)
        visit(page, server + "/editor/users", "accounts", found)

        # The clerk again: the receipt's address later, and after a rejection.
        visit(page, receipts["loss_declaration"][1], "tracking, waiting", found)
        ref, tracking = receipts["supplier_call"]
        with app.app_context():
            notice = db.session.scalar(db.select(Notice).filter_by(ref=ref))
            services.reject(notice, accounts.find("admin"), REJECTION, now=expiry.utcnow())
        visit(page, tracking, "tracking, rejected", found)
    finally:
        context.close()
    assert not found, "\n".join(found)
