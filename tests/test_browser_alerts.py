"""Following a search by e-mail in a real browser, with mail through a real SMTP server.

A reader subscribes from the search page, confirms through the link in the mail the local
SMTP server caught, an editor publishes a matching notice, the alert arrives, and the reader's
mail program unsubscribes in one POST to the List-Unsubscribe address (RFC 8058), with no
cookie and no CSRF token, while the board checks CSRF tokens as in production.
"""
import re
import time

from playwright.sync_api import expect
from test_browser_workflow import approve
from test_browser_workflow import log_in as log_in  # noqa: F401 (a fixture)
from test_browser_workflow import open_in_queue
from test_browser_workflow import press
from test_browser_workflow import submit

from notices import mail
from notices.extensions import db
from notices.models import AlertSubscription

READER = "yangjin@example.cn"


def deliver(app):
    with app.app_context():
        return mail.send_due()


def to_reader(smtp_server):
    return [m for m in smtp_server.messages if m["To"] == READER]


def subscriptions(app):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(AlertSubscription))


def test_subscribe_confirm_receive_and_unsubscribe_in_one_click(
    app, browser, page, server, smtp_server, log_in  # noqa: F811 (the fixture imported above)
):
    app.config["WTF_CSRF_ENABLED"] = True

    # The reader searches, and asks to be told of new results.
    page.goto(server + "/search?q=城南小学&type=wage_clearance")
    form = page.locator("form.alert-inline")
    form.get_by_label("邮箱(不会公开)").fill(READER)
    press(page, "订阅提醒")
    expect(page.get_by_role("heading", level=1)).to_have_text("请查收确认邮件")
    expect(page.locator("main")).not_to_contain_text(READER)

    # The confirmation mail's link opens a page whose button confirms.
    deliver(app)
    [confirmation] = to_reader(smtp_server)
    confirm = re.search(r"http://\S+/alerts/confirm/\S+", confirmation.text).group()
    assert confirm.startswith(server)
    page.goto(confirm)
    assert subscriptions(app) == 1
    press(page, "确认订阅")
    expect(page.locator(".flash-success")).to_contain_text("订阅已确认")
    expect(page.locator(".alert-summary")).to_contain_text("搜索“城南小学”(类型:工资结清公示)的新结果")

    # A clerk submits a matching notice, and an editor publishes it.
    clerk = browser.new_page()
    ref, _ = submit(clerk, server, "wage_clearance")
    clerk.close()
    editor = log_in()
    editor.goto(server + "/editor/")
    open_in_queue(editor, ref)
    approve(editor, ref)
    approved = time.monotonic()
    deliver(app)
    delivered = time.monotonic()
    alerts = [m for m in to_reader(smtp_server) if m["List-Unsubscribe"]]
    assert len(alerts) == 1
    [alert] = alerts
    assert f"{server}/notices/{ref}" in alert.text
    assert "城南小学" in alert.text and "工资结清公示" in alert["Subject"]
    assert delivered - approved < 10
    print(f"approval to mail accepted by the SMTP server: {delivered - approved:.2f} s")

    # The mail program unsubscribes in one POST: no cookie, no token, no page.
    unsubscribe = re.fullmatch(r"<(http://\S+)>", alert["List-Unsubscribe"]).group(1)
    assert alert["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    mail_program = browser.new_context()
    answer = mail_program.request.post(unsubscribe, form={"List-Unsubscribe": "One-Click"})
    assert answer.status == 200
    mail_program.close()
    assert subscriptions(app) == 0

    # Nothing more arrives for the next matching notice.
    clerk = browser.new_page()
    second, _ = submit(clerk, server, "wage_clearance")
    clerk.close()
    editor.goto(server + "/editor/")
    open_in_queue(editor, second)
    approve(editor, second)
    deliver(app)
    assert len([m for m in to_reader(smtp_server) if m["List-Unsubscribe"]]) == 1
