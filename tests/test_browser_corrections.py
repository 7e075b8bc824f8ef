"""Corrections in a real browser: an editor corrects a call's end date, and a submitter asks
for a correction that an editor approves. Every page on the way is checked by axe-core."""
import os
import pathlib
import re
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from conftest import DESKTOP
from conftest import EDITOR_PASSWORD
from conftest import PHONE
from playwright.sync_api import expect
from test_browser_workflow import approve
from test_browser_workflow import open_in_queue
from test_browser_workflow import press
from test_browser_workflow import today

from notices.wording import cn_date

AXE = Axe()
# BOARD_SCREENSHOTS=DIR saves each page checked, at the size it was checked, into DIR.
SCREENSHOTS = os.environ.get("BOARD_SCREENSHOTS")
ISSUER = "拉萨城市建设投资有限公司"


def check(page, where):
    """Fail on any axe-core violation of the page as it stands; save it if asked to."""
    if SCREENSHOTS:
        device = "phone" if page.viewport_size["width"] < 600 else "desktop"
        page.screenshot(path=f"{SCREENSHOTS}/{device} {where}.png", full_page=True)
    violations = AXE.run(page).response["violations"]
    assert [f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}" for v in violations] == [], where


def at_both_sizes(browser, url, where):
    """Check a public page at a phone's size and a desktop's."""
    for size in (PHONE, DESKTOP):
        context = browser.new_context(**size)
        page = context.new_page()
        page.goto(url)
        check(page, where)
        # Nothing wider than the screen on a phone.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= page.viewport_size["width"], where
        context.close()


def as_phone(browser, page, where):
    """Check the page ``page`` shows, opened again at a phone's size with its cookies."""
    context = browser.new_context(**PHONE)
    context.add_cookies(page.context.cookies())
    phone = context.new_page()
    phone.goto(page.url)
    check(phone, where)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390, where
    context.close()


@pytest.fixture
def log_in(browser, server, editor):
    """Return a function that opens a page of the editor's, logged in, at the desktop's size."""
    context = browser.new_context(**DESKTOP)
    context.set_default_timeout(10_000)

    def open_page():
        page = context.new_page()
        page.goto(server + "/editor/login")
        page.get_by_label("用户名").fill("editor")
        page.get_by_label("密码").fill(EDITOR_PASSWORD)
        press(page, "登录")
        expect(page).to_have_url(server + "/editor/")
        return page

    yield open_page
    context.close()


@pytest.fixture
def call(server, make_notice):
    """A supplier call published today, with its ref and tracking token."""
    return make_notice("supplier_call", day=today(), issuer=ISSUER, contact_unit=f"{ISSUER}采购部")


def test_an_editor_corrects_a_calls_end_date_and_everything_agrees(browser, page, server, log_in, call):
    start, end, new_end = today(), today() + timedelta(days=30), today() + timedelta(days=50)
    editor = log_in()
    editor.goto(f"{server}/editor/notices/{call.ref}")
    editor.get_by_role("link", name="更正公告").click()
    expect(editor.get_by_role("heading", level=1)).to_have_text(f"更正公告 {call.ref}")
    expect(editor.get_by_label("征集截止日期")).to_have_value(end.isoformat())
    check(editor, "corrections-1 editor form")
    as_phone(browser, editor, "corrections-1 editor form")
    # Too long first: the form comes back with the message beside the field.
    editor.get_by_label("征集截止日期").fill((start + timedelta(days=91)).isoformat())
    press(editor, "预览更正")
    message = f"征集期最长90天,征集截止日期不能晚于{cn_date(start + timedelta(days=90))}"
    expect(editor.locator(".error-summary")).to_contain_text(message)
    expect(editor.get_by_label("征集截止日期")).to_have_attribute("aria-invalid", "true")
    check(editor, "corrections-2 editor form with a mistake")
    editor.get_by_label("征集截止日期").fill(new_end.isoformat())
    press(editor, "预览更正")
    row = editor.locator("table.correction-changes tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_have_text(re.compile(f"征集截止日期\\s*{cn_date(end)}\\s*{cn_date(new_end)}"))
    expect(editor.locator(".correction-preview")).to_contain_text(
        f"征集截止日期原为“{cn_date(end)}”,现更正为“{cn_date(new_end)}”。"
    )
    check(editor, "corrections-3 editor preview")
    press(editor, "确认发布更正")
    expect(editor).to_have_url(re.compile(r"/editor/notices/GY-\d{8}-\w{5}$"))
    correction = editor.url.rsplit("/", 1)[1]
    assert correction != call.ref
    expect(editor.locator(".flash-success")).to_contain_text("已发布更正")
    expect(editor.locator("ol.history")).to_contain_text(
        f"发布更正:更正 {call.ref}:征集截止日期:{cn_date(end)}→{cn_date(new_end)}"
    )
    check(editor, "corrections-4 editor review of the correction")
    as_phone(browser, editor, "corrections-4 editor review of the correction")

    # The original: as printed, marked corrected, its status that of the correction.
    page.goto(f"{server}/notices/{call.ref}")
    banner = page.locator(".correction-banner")
    expect(banner).to_contain_text(f"本公告已于{cn_date(today())}更正")
    expect(page.locator(".notice-status")).to_have_text("按更正后的公告:征集截止还有 50 天")
    expect(page.locator(".notice-text")).to_contain_text(f"{cn_date(start)}—{cn_date(end)}")
    at_both_sizes(browser, f"{server}/notices/{call.ref}", "corrections-5 original")
    banner.get_by_role("link").click()

    # The correction: the 更正启事 quoting the original, then the notice in full.
    expect(page).to_have_url(f"{server}/notices/{correction}")
    expect(page.locator(".notice-status")).to_have_text("征集截止还有 50 天")
    notice = page.locator(".correction-notice")
    expect(notice).to_contain_text(f"(编号:{call.ref})有误,现更正如下:")
    expect(notice).to_contain_text(f"{ISSUER} 非招标采购供应商入库征集公告")
    expect(page.locator(".notice-text")).to_contain_text(f"{cn_date(start)}—{cn_date(new_end)}")
    at_both_sizes(browser, f"{server}/notices/{correction}", "corrections-6 correction")

    # The search and the type's listing find the correction, once, with the same window.
    page.goto(f"{server}/search?q={ISSUER}")
    cards = page.locator(".card")
    expect(cards).to_have_count(1)
    expect(cards).to_contain_text(correction)
    expect(cards).to_contain_text("征集截止还有 50 天")
    page.goto(f"{server}/types/supplier_call")
    expect(page.locator(".card", has_text=call.ref)).to_have_count(0)
    expect(page.locator(".card", has_text=correction)).to_contain_text("征集截止还有 50 天")


@pytest.fixture
def phone(browser):
    """A page at a phone's size, where a submitter most often is."""
    context = browser.new_context(**PHONE)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_a_submitter_asks_for_a_correction_and_an_editor_approves_it(phone, server, log_in, make_notice):
    """On a phone: the submitter's form, preview and the request's own tracking page."""
    page = phone
    notice = make_notice("wage_clearance", day=today())
    page.goto(f"{server}/track/{notice.token}")
    page.get_by_role("link", name="申请更正").click()
    expect(page.get_by_label("项目名称")).to_have_value(
        "拉萨市尼木县卡如温泉驿站(核乡寻忆)景区2A级景区创建项目(二次)"
    )
    check(page, "corrections-7 submitter form")
    page.get_by_label("项目名称").fill("拉萨市尼木县卡如温泉驿站景区2A级景区创建项目(二次)")
    press(page, "预览更正")
    expect(page.locator("table.correction-changes tbody tr")).to_have_count(1)
    check(page, "corrections-8 submitter preview")
    press(page, "确认提交更正申请")
    expect(page).to_have_url(re.compile(r"/track/[\w-]{20,}$"))
    assert notice.token not in page.url
    expect(page.locator(".flash-success")).to_contain_text("更正申请已提交")
    expect(page.locator(".track-status")).to_have_text("待审核")
    expect(page.locator(".correction-banner")).to_contain_text(f"这是对编号 {notice.ref} 的更正申请")
    check(page, "corrections-9 request tracking page")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    ref = page.locator("h1 small").inner_text().removeprefix("编号 ")

    editor = log_in()
    open_in_queue(editor, ref)
    expect(editor.locator(".correction-banner")).to_contain_text(f"这是对 {notice.ref} 的更正申请")
    expect(editor.locator("table.correction-changes")).to_contain_text("项目名称")
    check(editor, "corrections-10 editor review of a request")
    approve(editor, ref)

    page.goto(f"{server}/track/{notice.token}")
    expect(page.locator(".correction-banner")).to_contain_text(f"本公告已于{cn_date(today())}更正")
    page.goto(f"{server}/notices/{notice.ref}")
    expect(page.locator(".correction-banner")).to_contain_text("项目名称")
    page.goto(f"{server}/notices/{ref}")
    expect(page.locator(".correction-notice")).to_contain_text(
        "项目名称原为“拉萨市尼木县卡如温泉驿站(核乡寻忆)景区2A级景区创建项目(二次)”,"
        "现更正为“拉萨市尼木县卡如温泉驿站景区2A级景区创建项目(二次)”。"
    )


@pytest.fixture(autouse=True)
def _screenshots_folder():
    if SCREENSHOTS:
        pathlib.Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
