"""The public pages in a real browser: Debian's Chromium driving the app served over HTTP."""
import re

import pytest
from conftest import DESKTOP
from conftest import PHONE
from conftest import SEED_EDITOR
from playwright.sync_api import expect

from notices import accounts
from notices import expiry
from notices import kinds
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
    expect(page.locator(".notice-text h2", has_text="一、征集时间")).to_have_count(1)
    expect(page.locator(".notice-text h2").first).to_have_text("一、征集时间")


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
    expect(page.locator(".nav a[aria-current]:visible")).to_have_text("归档")

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


# --- A citizen on a phone -----------------------------------------------------------------

NARROW = {**PHONE, "viewport": {"width": 320, "height": 640}}


def phone_page(browser, device=PHONE, **options):
    context = browser.new_context(**device, **options)
    context.set_default_timeout(10_000)
    return context, context.new_page()


def first_ref(app, code):
    with app.app_context():
        return db.session.scalar(db.select(Notice.ref).where(Notice.kind == code))


@pytest.mark.parametrize("device", [PHONE, NARROW], ids=["390", "320"])
def test_the_phone_navigation_fits_one_line(browser, server, device):
    context, page = phone_page(browser, device)
    try:
        page.goto(server + "/")
        items = page.locator(".masthead .brand, .nav-list > li:visible")
        expect(items).to_have_count(4)  # the name, 搜索, 挂失查询, 菜单
        boxes = [items.nth(i).bounding_box() for i in range(4)]
        middles = [box["y"] + box["height"] / 2 for box in boxes]
        assert max(middles) - min(middles) < 8, boxes
        bar = page.locator(".masthead").bounding_box()
        assert bar["height"] < 70 and boxes[-1]["x"] + boxes[-1]["width"] <= device["viewport"]["width"]
    finally:
        context.close()


def test_the_phone_menu_opens_without_javascript(browser, server):
    context, page = phone_page(browser, java_script_enabled=False)
    try:
        page.goto(server + "/")
        menu_link = page.locator(".nav-menu").get_by_role("link", name="遗失声明", exact=True)
        expect(menu_link).to_be_hidden()
        page.get_by_text("菜单", exact=True).click()
        expect(menu_link).to_be_visible()
        menu_link.click()
        expect(page).to_have_url(f"{server}/types/loss_declaration")
        expect(page.locator("h1")).to_have_text("遗失声明")
    finally:
        context.close()


def test_the_skip_link_moves_focus_to_the_content(browser, server):
    context, page = phone_page(browser)
    try:
        page.goto(server + "/")
        skip = page.get_by_role("link", name="跳到正文")
        page.keyboard.press("Tab")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()
        page.keyboard.press("Enter")
        expect(page.locator("main")).to_be_focused()
        page.keyboard.press("Tab")
        # The next stop is inside the content: the front page's search box.
        expect(page.locator("#front-q")).to_be_focused()
    finally:
        context.close()


@pytest.mark.parametrize("device", [NARROW, PHONE], ids=["320", "390"])
def test_no_page_scrolls_sideways_on_a_phone(app, browser, server, device):
    refs = [first_ref(app, code) for code in kinds.KINDS]
    urls = ["/", "/search?q=西藏&status=all&date_from=2024-01-01", "/lost?number=T540059775",
            "/types/supplier_call", "/archive"] + [f"/notices/{ref}" for ref in refs]
    context, page = phone_page(browser, device)
    try:
        for url in urls:
            page.goto(server + url)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), url
        page.goto(server + "/")
        page.get_by_text("菜单", exact=True).click()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()


def lines_of(page, selector, words):
    """Return how many lines ``words`` takes inside the first element matching ``selector``."""
    return page.locator(selector, has_text=words).first.evaluate(
        """(element, words) => {
            const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                const at = node.data.indexOf(words);
                if (at < 0) continue;
                const range = document.createRange();
                range.setStart(node, at);
                range.setEnd(node, at + words.length);
                return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
            }
            return 0;
        }""",
        words,
    )


@pytest.mark.parametrize("device", [NARROW, PHONE], ids=["320", "390"])
def test_company_names_do_not_break_mid_word(app, browser, server, device):
    context, page = phone_page(browser, device)
    try:
        page.goto(server + "/")
        assert lines_of(page, ".card-title", "西藏开发投资集团有限公司") == 1
        assert lines_of(page, ".card-title", "西藏星灿建设工程有限公司") == 1
        if device is PHONE:  # at 320 px the unit's 17 characters are wider than the card
            assert lines_of(page, ".card-line .name", "西藏开发投资集团有限公司招标采购中心") == 1
        page.goto(f"{server}/notices/{first_ref(app, 'expert_call')}")
        assert lines_of(page, "h1", "西藏开发投资集团有限公司") == 1
    finally:
        context.close()


@pytest.mark.parametrize("device", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_printed_notice_is_the_notice_alone_with_its_address_and_qr_code(app, browser, server,
                                                                          device):
    ref = first_ref(app, "loss_declaration")
    context, page = phone_page(browser, device)
    try:
        page.goto(f"{server}/notices/{ref}")
        proof = page.locator(".notice-proof")
        expect(proof).to_be_hidden()
        expect(page.get_by_role("button", name="打印")).to_be_visible()  # print.js ran
        page.emulate_media(media="print")
        for hidden in [".masthead", ".footer", ".breadcrumbs", ".print-actions", "button"]:
            expect(page.locator(hidden).first).to_be_hidden()
        expect(page.locator(".notice-text")).to_be_visible()
        expect(proof).to_be_visible()
        expect(proof.locator("dt")).to_have_text(["本页永久地址", "编号", "本页生成日期"])
        today = expiry.board_today(expiry.utcnow())
        expect(proof.locator("dd")).to_have_text(
            [f"{server}/notices/{ref}", ref, f"{today.year}年{today.month}月{today.day}日(北京时间)"]
        )
        qr = proof.get_by_role("img", name="本页地址的二维码")
        expect(qr).to_be_visible()
        box = qr.bounding_box()
        assert box["width"] > 100 and abs(box["width"] - box["height"]) < 1
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()
