"""The consent to publish and the privacy notice in a real browser, on a phone and a desktop:
the unticked box refused through the error summary, the download from the tracking page,
and axe-core's rules on every page of it."""
import json
import os
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from conftest import DESKTOP
from conftest import PHONE
from playwright.sync_api import expect
from test_browser_workflow import CONSENT
from test_browser_workflow import FORMS
from test_browser_workflow import fill
from test_browser_workflow import press

from notices import privacy
from notices.forms import CONSENT_MESSAGE

AXE = Axe()
# BOARD_SCREENSHOTS=DIR saves each page checked as DIR/<device>-privacy-<n> <where>.png.
SCREENSHOTS = os.environ.get("BOARD_SCREENSHOTS")


def check(page, device, where, found):
    """Run axe-core on the page; record violations and any sideways scrolling under ``where``."""
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/{device}-privacy {where}.png", full_page=True)
    results = AXE.run(page)
    for violation in results.response["violations"]:
        targets = [" ".join(node["target"]) for node in violation["nodes"]][:5]
        found.append(f"{device} {where}: {violation['id']} {targets}")
    if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
        found.append(f"{device} {where}: scrolls sideways")


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_a_form_without_consent_is_refused_and_the_submitter_downloads_their_data(
    browser, server, tmp_path, device
):
    context = browser.new_context(**(PHONE if device == "phone" else DESKTOP), accept_downloads=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    found = []

    page.goto(f"{server}/submit/wage_clearance")
    box = page.get_by_label(CONSENT)
    expect(box).not_to_be_checked()
    expect(box).to_have_accessible_description(re.compile(re.escape(privacy.PUBLISHED["wage_clearance"])))
    check(page, device, "1 form", found)
    fields = {label: value for label, value in FORMS["wage_clearance"].items() if label != CONSENT}
    fill(page, fields)
    press(page, "预览")

    expect(page).to_have_title(re.compile(r"^错误:"))
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_text([CONSENT_MESSAGE])
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_have_accessible_description(re.compile(re.escape(CONSENT_MESSAGE)))
    expect(page.locator("#consent_publication-error")).to_have_text(CONSENT_MESSAGE)
    check(page, device, "2 form without consent", found)
    summary.get_by_role("link").click()
    expect(box).to_be_focused()
    # What was typed is all still there; only the box waits for the submitter.
    expect(page.get_by_label("项目名称")).to_have_value(fields["项目名称"])

    box.check()
    press(page, "预览")
    press(page, "确认提交")
    expect(page).to_have_url(re.compile(r"/track/[\w-]{20,}$"))
    expect(page.locator(".my-data")).to_contain_text("审核结束后开始计算保存期限")
    check(page, device, "3 tracking page", found)
    with page.expect_download() as download:
        page.get_by_role("link", name="下载我的数据").click()
    path = tmp_path / "mine.json"
    download.value.save_as(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert download.value.suggested_filename == f"{data['ref']}.json"
    assert data["fields"]["project_name"] == fields["项目名称"]
    assert data["consent_publication"]["privacy_version"] == privacy.PRIVACY_VERSION
    assert data["submitter"]["submitter_phone"] == fields["提交人电话"]

    page.get_by_role("link", name="个人信息保护说明").first.click()
    expect(page).to_have_title(re.compile(r"^个人信息保护说明"))
    expect(page.get_by_role("heading", level=2)).to_have_count(8)
    check(page, device, "4 privacy notice", found)
    context.close()
    assert found == []
