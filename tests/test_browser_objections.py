"""An objection in a real browser: a worker objects to a wage notice from its page, the
authority logs in and resolves it, the worker's tracking page shows how, and the public
page's counts change. Every page on the way is checked by axe-core on a phone and a desktop.

BOARD_SCREENSHOTS=DIR also saves each page checked (see test_accessibility.py).
"""
import re

from conftest import DESKTOP
from conftest import PHONE
from playwright.sync_api import expect
from test_accessibility import check
from test_browser_workflow import press

from notices import accounts
from notices.extensions import db
from notices.models import Notice

AUTHORITY_PASSWORD = "authority-password-1"
WORKER = {
    "姓名": "次仁多吉",
    "联系电话": "13908901234",
    "拖欠金额(元)": "12500",
    "拖欠期间": "2026年3月至6月",
    "所做工作": "钢筋工,驿站主体",
    "其他情况(选填)": "班组12人",
}


def wage_ref(app):
    """Return the seed wage notice's ref (its authority: the default, 当地劳动局)."""
    with app.app_context():
        return db.session.scalar(db.select(Notice.ref).where(Notice.kind == "wage_clearance"))


def test_a_worker_objects_and_the_authority_resolves_it(app, browser, server):
    app.config["WTF_CSRF_ENABLED"] = True
    ref = wage_ref(app)
    with app.app_context():
        accounts.create_user("laodongju", AUTHORITY_PASSWORD, role="authority", authority="当地劳动局")
    found = []
    worker_context = browser.new_context(**PHONE)
    worker_context.set_default_timeout(10_000)
    worker = worker_context.new_page()

    # The worker reads the notice on a phone and objects.
    worker.goto(f"{server}/notices/{ref}")
    counts = worker.locator(".objection-counts")
    expect(counts).to_have_text("收到异议 0 件,已解决 0 件")
    check(worker, "objection notice", found)
    worker.get_by_role("link", name="我有异议").click()
    expect(worker.get_by_role("heading", level=1)).to_have_text("我有异议")
    check(worker, "objection form", found)
    # A mistake first: the amount in words.
    for label, value in WORKER.items():
        worker.get_by_label(label).fill(value)
    worker.get_by_label("拖欠金额(元)").fill("一万二")
    press(worker, "提交异议")
    expect(worker.locator(".error-summary")).to_contain_text("请填写拖欠的金额(元)")
    check(worker, "objection form with a mistake", found)
    worker.get_by_label("拖欠金额(元)").fill(WORKER["拖欠金额(元)"])
    press(worker, "提交异议")
    expect(worker).to_have_url(re.compile(r"/objections/[\w-]{30,}$"))
    tracking = worker.url
    expect(worker.locator(".flash-success")).to_contain_text("异议已提交")
    expect(worker.locator(".objection-status")).to_have_text("已收到,待受理")
    objection_ref = worker.locator("h1 small").inner_text().removeprefix("编号 ")
    check(worker, "objection tracking", found)

    # The public page counts it at once, and says nothing of who objected.
    worker.goto(f"{server}/notices/{ref}")
    expect(counts).to_have_text("收到异议 1 件,已解决 0 件")
    expect(worker.locator("main")).not_to_contain_text("次仁多吉")
    expect(worker.locator("main")).not_to_contain_text("13908901234")

    # The authority logs in and lands on its objections.
    staff_context = browser.new_context(**DESKTOP)
    staff_context.set_default_timeout(10_000)
    staff = staff_context.new_page()
    staff.goto(f"{server}/editor/login")
    staff.get_by_label("用户名").fill("laodongju")
    staff.get_by_label("密码").fill(AUTHORITY_PASSWORD)
    press(staff, "登录")
    expect(staff).to_have_url(f"{server}/editor/objections")
    expect(staff.locator(".nav-editor")).not_to_contain_text("审核队列")
    check(staff, "objections list", found)
    staff.get_by_role("link", name=objection_ref).click()
    expect(staff.locator(".objection-phone")).to_have_text("13908901234")
    check(staff, "objection detail", found)
    press(staff, "记录")
    expect(staff.locator(".error-summary")).to_contain_text("请选择处理结果")
    check(staff, "objection detail with a mistake", found)
    staff.get_by_label("已解决").check()
    staff.get_by_label("处理说明").fill("承建单位已于11月20日补发12,500元")
    press(staff, "记录")
    expect(staff.locator(".flash-success")).to_contain_text("已记录:已解决")
    expect(staff.locator("h1 small")).to_contain_text("已解决")
    # The review queue stays closed to it.
    assert staff.goto(f"{server}/editor/").status == 403

    # The worker sees the outcome, and the public page counts it resolved.
    worker.goto(tracking)
    expect(worker.locator(".objection-status")).to_have_text("已解决")
    expect(worker.locator(".objection-history")).to_contain_text("承建单位已于11月20日补发12,500元")
    expect(worker.locator(".objection-history")).not_to_contain_text("laodongju")
    check(worker, "objection tracking resolved", found)
    worker.goto(f"{server}/notices/{ref}")
    expect(counts).to_have_text("收到异议 1 件,已解决 1 件")

    # The same pages at the other size.
    staff.set_viewport_size(PHONE["viewport"])
    staff.goto(f"{server}/editor/objections")
    check(staff, "objections list (phone)", found)
    staff.get_by_role("link", name=objection_ref).click()
    expect(staff.locator(".objection-history")).to_contain_text("laodongju")
    check(staff, "objection detail resolved (phone)", found)
    worker.set_viewport_size(DESKTOP["viewport"])
    worker.goto(f"{server}/notices/{ref}")
    check(worker, "objection notice (desktop)", found)
    worker.goto(f"{server}/notices/{ref}/objection")
    check(worker, "objection form (desktop)", found)
    worker.goto(tracking)
    check(worker, "objection tracking (desktop)", found)
    worker_context.close()
    staff_context.close()
    assert found == []
