"""The public pages in a real browser: Debian's Chromium driving the app served over HTTP."""
import re

import pytest
from conftest import DESKTOP
from conftest import PHONE
from conftest import SEED_EDITOR
from playwright.sync_api import expect

from notices import accounts
from notices import expiry
from notices import services
from notices.extensions import db
from notices.models import Notice

CALL_TITLES = [
    "西藏开发投资集团有限公司 非招标采购供应商入库征集公告",
    "西藏开发投资集团有限公司 评标专家库专家征集公告",
]
WAGE_TITLE = "西藏星灿建设工程有限公司 民工工资结清公示"
LOSS_LINES = [
    "扎西央珍不慎,将巴登曲加的出生医学证明(编号:T540059774)丢失,声明作废。",
    "达娃曲珍不慎,将达瓦曲扎的出生医学证明(编号:S540022253)丢失,声明作废。",
    "索朗仁青不慎,将警官证(警号:397403)丢失,声明作废。",
    "朗杰不慎,将警官证(警号:159015)丢失,声明作废。",
    "景钦伟不慎,将警官证(警号:394279)丢失,声明作废。",
    "德吉央宗不慎,将永忠多吉的出生医学证明(编号:F000039579)丢失,声明作废。",
]
# Records Content-Security-Policy violations in the page, where the test can read them.
CSP_PROBE = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


@pytest.mark.parametrize("device", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_front_page_shows_every_seed_notice_without_overflow(browser, server, device):
    context = browser.new_context(**device)
    try:
        page = context.new_page()
        page.goto(server + "/")
        for title in CALL_TITLES + [WAGE_TITLE]:
            expect(page.locator(".card-title a", has_text=title)).to_have_count(1)
        loss_lines = page.locator("#loss_declaration .loss-line")
        expect(loss_lines).to_have_count(len(LOSS_LINES))
        assert sorted(loss_lines.all_inner_texts()) == sorted(LOSS_LINES)
        for line in LOSS_LINES:
            expect(page.get_by_text(line, exact=True)).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()


def test_loss_line_leads_to_its_permalink(page, server):
    page.goto(server + "/")
    card = page.locator(".card", has=page.get_by_text(LOSS_LINES[0], exact=True))
    ref = card.locator(".ref").inner_text().removeprefix("编号 ")
    card.get_by_role("link", name=LOSS_LINES[0]).click()
    expect(page).to_have_url(f"{server}/notices/{ref}")
    expect(page.locator(".notice-status")).to_have_text("公示期还剩 30 天")
    expect(page.locator(".notice-text p").first).to_have_text(LOSS_LINES[0])


def test_call_title_leads_to_its_permalink_with_the_printed_text(page, server):
    page.goto(server + "/")
    page.get_by_role("link", name=CALL_TITLES[0]).click()
    expect(page).to_have_url(re.compile(r"/notices/GY-\d{8}-\w+$"))
    expect(page.locator("h1.notice-title")).to_have_text(CALL_TITLES[0])
    expect(page.locator(".notice-status")).to_have_text(re.compile(r"^征集截止还有 \d+ 天$"))
    expect(page.locator(".notice-text h3", has_text="一、征集时间")).to_have_count(1)
    expect(page.locator(".notice-text h3").first).to_have_text("一、征集时间")


def test_revoked_notice_is_in_the_archive_and_says_why(app, page, server):
    with app.app_context():
        editor = accounts.find(SEED_EDITOR)
        notice = db.session.scalar(db.select(Notice).where(Notice.kind == "wage_clearance"))
        services.revoke(notice, editor, "重复刊登", now=expiry.utcnow())
        ref = notice.ref

    page.goto(server + "/")
    expect(page.get_by_text(WAGE_TITLE)).to_have_count(0)
    page.locator(".masthead nav").get_by_role("link", name="归档", exact=True).click()
    expect(page).to_have_url(f"{server}/archive")
    expect(page.locator(".nav a[aria-current]")).to_have_text("归档")

    cards = page.locator(".cards .card")
    expect(cards).to_have_count(1)
    expect(cards.locator(".ref")).to_have_text(f"编号 {ref}")
    expect(cards.locator(".status")).to_have_text("已撤销:重复刊登")

    cards.get_by_role("link", name=WAGE_TITLE).click()
    expect(page).to_have_url(f"{server}/notices/{ref}")
    expect(page.locator(".notice-status")).to_have_text("已撤销:重复刊登")


def test_front_page_has_no_console_errors_or_csp_violations(page, server):
    errors = []

    def on_console(msg):
        if msg.type == "error":
            errors.append(f"{msg.text} ({msg.location['url']})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.add_init_script(CSP_PROBE)
    response = page.goto(server + "/", wait_until="networkidle")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("link[rel=stylesheet]")).to_have_count(1)
    # The stylesheet applied: the masthead is the accent red, not the default transparent.
    assert page.locator(".masthead").evaluate("e => getComputedStyle(e).backgroundColor") == (
        "rgb(155, 28, 28)"
    )
    assert page.evaluate("window.__cspViolations") == []
    assert errors == []
