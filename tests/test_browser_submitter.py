"""What a submitter meets in a real browser: the error summary, the receipt with its tracking
address, and a rejected notice filled in again."""
import re

import pytest
from conftest import DESKTOP
from conftest import PHONE
from playwright.sync_api import expect
from test_browser import CSP_PROBE
from test_browser_workflow import CONSENT
from test_browser_workflow import FORMS
from test_browser_workflow import confirm
from test_browser_workflow import expect_filled
from test_browser_workflow import fill
from test_browser_workflow import group
from test_browser_workflow import open_form
from test_browser_workflow import press


def watch(page):
    """Return the list the console's errors and page errors of ``page`` go to, and record its
    CSP violations."""
    errors = []

    def on_console(msg):
        # A refused form is answered 422, which Chromium reports; that is the form working.
        if msg.type == "error" and "status of 422" not in msg.text:
            errors.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.add_init_script(CSP_PROBE)
    return errors


def clean(page, errors):
    assert errors == []
    assert page.evaluate("window.__cspViolations") == []


def test_the_error_summary_takes_focus_and_each_link_focuses_its_field(page, server):
    errors = watch(page)
    open_form(page, server, "loss_declaration")
    first = {"证件所有人": "旦增尼玛", "证件类型": "出生医学证明", "证件编号": "U540012345"}
    fill(page, {"声明人": "格桑卓玛", "第 1 项": first, "提交人": "格桑卓玛", "提交人电话": "12345"})
    press(page, "再添加一项证件")
    fill(page, {"第 2 项": {"证件类型": "警官证", "证件编号": "12"}})
    press(page, "预览")

    expect(page).to_have_title(re.compile(r"^错误:提交遗失声明"))
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading", level=2)).to_have_text("提交前请修改以下问题")
    links = summary.get_by_role("link")
    expect(links).to_have_count(2)
    expect(links.nth(0)).to_contain_text("第 2 项")
    expect(links.nth(1)).to_contain_text("提交人电话:请填写11位手机号")

    number = group(page, "第 2 项").get_by_label("证件编号")
    links.nth(0).click()
    expect(number).to_be_focused()
    # The row's legend is brought into view with the field, so the person sees which row it is.
    expect(group(page, "第 2 项").locator("legend")).to_be_in_viewport()
    number.fill("397403")

    page.keyboard.press("Shift+Tab")  # anywhere else, then back by the summary
    page.evaluate("window.scrollTo(0, 0)")
    links.nth(1).click()
    phone = page.get_by_label("提交人电话")
    expect(phone).to_be_focused()
    expect(page.locator("label[for=submitter_phone]")).to_be_in_viewport()
    phone.fill("13618901234")
    phone.press("Enter")
    expect(page.get_by_role("button", name="确认提交")).to_be_visible()
    expect(page.locator(".error-summary")).to_have_count(0)
    clean(page, errors)


def test_a_summary_link_to_a_group_of_checkboxes_focuses_the_first_box(page, server):
    open_form(page, server, "supplier_call")
    fill(page, {label: value for label, value in FORMS["supplier_call"].items() if label != "征集范围"})
    press(page, "预览")
    link = page.locator(".error-summary").get_by_role("link", name="请至少选择一项征集范围")
    link.click()
    boxes = group(page, "征集范围")
    expect(boxes.get_by_label("工程", exact=True)).to_be_focused()
    expect(boxes.locator("legend")).to_be_in_viewport()


def test_the_editor_login_has_the_summary_too(page, server, editor):
    page.goto(server + "/editor/login")
    page.get_by_label("用户名").fill("editor")
    page.get_by_label("密码").fill("not-the-password")
    press(page, "登录")
    expect(page).to_have_title(re.compile(r"^错误:编辑登录"))
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    summary.get_by_role("link", name="用户名或密码不正确").click()
    expect(page.get_by_label("密码")).to_be_focused()


@pytest.mark.parametrize("device", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_receipt_shows_the_tracking_address_and_copies_it(browser, server, device):
    context = browser.new_context(**device)
    context.set_default_timeout(10_000)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page = context.new_page()
    errors = watch(page)
    open_form(page, server, "supplier_call")
    fill(page, FORMS["supplier_call"])
    press(page, "预览")
    ref, url = confirm(page, "supplier_call")

    expect(page.locator(".tracking")).to_contain_text("这个地址是回到这份提交的唯一途径")
    expect(page.locator("#tracking-url")).to_have_text(url)
    expect(page.locator(".tracking")).to_contain_text("这个地址也会以邮件发到您填写的邮箱 cgb@lscjt.cn")
    qr = page.get_by_role("img", name="本页地址的二维码")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    # The long address wraps: nothing scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.get_by_role("button", name="复制地址").click()
    expect(page.locator(".copy-status")).to_have_text("已复制")
    assert page.evaluate("navigator.clipboard.readText()") == url
    # The copied text is selected too, so the person sees what was taken.
    assert page.evaluate("window.getSelection().toString()") == url
    clean(page, errors)
    context.close()


def test_without_javascript_the_address_is_still_there_to_select(browser, server, make_notice):
    notice = make_notice("loss_declaration", status="submitted")
    context = browser.new_context(**PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server}/track/{notice.token}")
    address = page.locator("#tracking-url")
    expect(address).to_have_text(f"{server}/track/{notice.token}")
    expect(page.get_by_role("img", name="本页地址的二维码")).to_be_visible()
    # The copy button needs JavaScript, so it is not offered without it.
    expect(page.get_by_role("button", name="复制地址")).to_be_hidden()
    address.click()
    assert page.evaluate("window.getSelection().toString()") == f"{server}/track/{notice.token}"
    context.close()


def test_a_rejected_notice_is_filled_in_again_and_submitted_anew(page, server, make_notice):
    items = [
        {"owner_name": "巴登曲加", "document_type": "birth_certificate", "document_number": "T540059774"},
        {"owner_name": "", "document_type": "police_id", "document_number": "397403"},
    ]
    rejected = make_notice("loss_declaration", status="rejected", items=items)
    errors = watch(page)
    page.goto(f"{server}/track/{rejected.token}")
    expect(page.locator(".track-status")).to_have_text("未通过")
    page.get_by_role("link", name="重新提交").click()

    expect(page).to_have_title(re.compile(r"^重新提交遗失声明"))
    expect(page.locator(".resubmitting")).to_contain_text(f"已按编号 {rejected.ref} 的内容填好")
    expect(page.locator(".resubmitting")).to_contain_text("编辑的意见:材料不全")
    expect_filled(page, {
        "声明人": "扎西央珍",
        "第 1 项": {"证件所有人": "巴登曲加", "证件类型": "出生医学证明", "证件编号": "T540059774"},
        "第 2 项": {"证件所有人": "扎西央珍", "证件类型": "警官证", "证件编号": "397403"},
        "提交人": "扎西央珍",
        "提交人电话": "0891-6323333",
    })
    expect(page.locator("fieldset.item")).to_have_count(2)

    # The consent is asked anew: unticked until the submitter ticks it.
    expect(page.get_by_label(CONSENT)).not_to_be_checked()
    fill(page, {CONSENT: True})
    # Enter in a field previews, here too, and the rows stay as they are.
    group(page, "第 2 项").get_by_label("证件编号").press("Enter")
    lines = page.locator("article.notice .notice-text p")
    expect(lines).to_have_text([
        "扎西央珍不慎,将巴登曲加的出生医学证明(编号:T540059774)丢失,声明作废。",
        "扎西央珍不慎,将警官证(警号:397403)丢失,声明作废。",
    ])
    ref, url = confirm(page, "loss_declaration")
    assert ref != rejected.ref
    assert url != f"{server}/track/{rejected.token}"
    page.goto(f"{server}/track/{rejected.token}")
    expect(page.locator(".track-status")).to_have_text("未通过")
    clean(page, errors)
