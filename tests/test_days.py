"""The day pages: what the board published on one day, grouped as the column prints it, with
their neighbours, their feed and their print PDF; and a reader browsing them in Chromium."""
import re
import subprocess
from datetime import date
from datetime import timedelta

import feedparser
import pytest
from conftest import DESKTOP
from conftest import EDITOR_PASSWORD
from conftest import PHONE
from conftest import PUBLIC_URL
from playwright.sync_api import expect

from notices import expiry
from notices import kinds
from notices import services
from notices.extensions import db
from notices.models import Notice

DAY = date(2024, 3, 8)
SHOTS = "/work/shots/printday"


@pytest.fixture
def today():
    return expiry.board_today(expiry.utcnow())


def body(response):
    return response.get_data(as_text=True)


def headings(html):
    """Return the type headings of a day page, in order."""
    return re.findall(r'<h2 class="column-title">([^<]+?) <span', html)


def test_a_day_lists_its_notices_grouped_by_type_in_the_column_order(client, make_notice):
    # Published in the reverse of the column's order, and one the day before.
    refs = [make_notice(code, day=DAY).ref for code in reversed(list(kinds.KINDS))]
    other = make_notice("supplier_call", day=DAY - timedelta(days=1), index=0)
    waiting = make_notice("expert_call", day=DAY, status="submitted")
    response = client.get("/days/2024-03-08")
    assert response.status_code == 200
    html = body(response)
    assert headings(html) == [kind.name for kind in kinds.KINDS.values()]
    assert "2024年3月8日发布的公告" in html and "共 4 则" in html
    for ref in refs:
        assert ref in html
    assert other.ref not in html and waiting.ref not in html
    assert 'href="/days/2024-03-08.pdf"' in html
    assert 'href="/feeds/days/2024-03-08.atom"' in html


def test_a_day_links_the_nearest_days_with_notices(client, make_notice):
    make_notice("loss_declaration", day=date(2024, 3, 1))
    make_notice("loss_declaration", day=DAY)
    make_notice("loss_declaration", day=date(2024, 3, 15))
    # A day whose only notice was never published is not a neighbour.
    make_notice("loss_declaration", day=date(2024, 3, 10), status="rejected")
    html = body(client.get("/days/2024-03-08"))
    assert re.findall(r'href="/days/([0-9-]+)" rel="prev"', html)[0] == "2024-03-01"
    assert re.findall(r'href="/days/([0-9-]+)" rel="next"', html)[0] == "2024-03-15"
    empty = client.get("/days/2024-03-10")
    assert empty.status_code == 200
    html = body(empty)
    assert "2024年3月10日没有发布公告。" in html
    assert 'href="/days/2024-03-08" rel="prev"' in html
    assert 'href="/days/2024-03-15" rel="next"' in html
    # No PDF to offer for a day with nothing on it.
    assert ".pdf" not in html
    first = body(client.get("/days/2024-03-01"))
    assert 'rel="prev"' not in first and 'href="/days/2024-03-08" rel="next"' in first


def test_a_revoked_notice_is_listed_as_the_public_pages_show_it(client, make_notice):
    revoked = make_notice("loss_declaration", day=DAY, status="revoked")
    html = body(client.get("/days/2024-03-08"))
    notice_page = body(client.get(f"/notices/{revoked.ref}"))
    (status_line,) = re.findall(r'<p class="notice-status status-revoked">([^<]+)</p>', notice_page)
    assert "state-revoked" in html
    assert status_line in html
    assert revoked.ref in html


def test_the_notice_page_and_the_archive_link_to_the_days(client, make_notice):
    notice = make_notice("wage_clearance", day=DAY)
    page = body(client.get(f"/notices/{notice.ref}"))
    assert 'href="/days/2024-03-08"' in page
    assert 'href="/days"' in body(client.get("/archive"))
    latest = client.get("/days")
    assert latest.status_code == 302 and latest.location.endswith("/days/2024-03-08")


def test_a_crowded_day_runs_on_to_further_pages_and_has_no_pdf(app, client, make_notice,
                                                                monkeypatch):
    from notices import days

    monkeypatch.setattr(days, "DAY_PAGE_NOTICES", 2)
    app.config["PRINT_MAX_NOTICES"] = 2
    refs = [make_notice("loss_declaration", day=DAY, index=n).ref for n in range(3)]
    first = body(client.get("/days/2024-03-08"))
    second = body(client.get("/days/2024-03-08?page=2"))
    assert "共 3 则" in first
    assert [ref in first for ref in refs] == [True, True, False]
    assert [ref in second for ref in refs] == [False, False, True]
    assert 'href="/days/2024-03-08?page=2"' in first
    assert client.get("/days/2024-03-08?page=3").status_code == 404
    assert ".pdf" not in first
    assert client.get("/days/2024-03-08.pdf").status_code == 404


def test_without_notices_there_is_no_latest_day(client):
    assert client.get("/days").status_code == 404


@pytest.mark.parametrize("address", [
    "/days/2024-3-8", "/days/20240308", "/days/abcd-ef-gh", "/days/2024-02-30",
    "/days/2024-13-01", "/days/1999-12-31", "/days/9999-12-31", "/days/２０２４-０３-０８",
    "/days/" + "2" * 5000, "/days/2024-03-08x", "/days/-2024-03-0",
    "/days/2024-02-30.pdf", "/days/9999-12-31.pdf", "/days/x.pdf",
    "/feeds/days/2024-02-30.atom", "/feeds/days/9999-01-01.atom", "/feeds/days/today.atom",
])
def test_bad_dates_are_not_found(client, address):
    response = client.get(address)
    assert response.status_code == 404


def test_tomorrow_is_not_found_and_today_is_a_day(client, today):
    assert client.get(f"/days/{today + timedelta(days=1)}").status_code == 404
    assert client.get(f"/days/{today}").status_code == 200


def test_the_day_feed_carries_the_days_notices(client, make_notice):
    kept = make_notice("supplier_call", day=DAY)
    revoked = make_notice("loss_declaration", day=DAY, status="revoked")
    make_notice("loss_declaration", day=DAY + timedelta(days=1))
    response = client.get("/feeds/days/2024-03-08.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    parsed = feedparser.parse(response.get_data())
    assert not parsed.bozo
    assert parsed.feed.title == "2024年3月8日发布的公告 · 公告栏"
    assert [link.href for link in parsed.feed.links] == [
        f"{PUBLIC_URL}/feeds/days/2024-03-08.atom", f"{PUBLIC_URL}/days/2024-03-08",
    ]
    by_id = {entry.id: entry for entry in parsed.entries}
    assert sorted(by_id) == sorted(f"{PUBLIC_URL}/notices/{n.ref}" for n in (kept, revoked))
    assert by_id[f"{PUBLIC_URL}/notices/{revoked.ref}"].title.startswith("【已撤销】")
    # The revocation is the latest change: it comes first.
    assert parsed.entries[0].id.endswith(revoked.ref)


def test_a_day_page_is_kept_and_changes_with_the_data(app, client, make_notice, editor, today):
    make_notice("supplier_call", day=today)
    first = client.get(f"/days/{today}")
    again = client.get(f"/days/{today}", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    feed = client.get(f"/feeds/days/{today}.atom")
    assert client.get(f"/feeds/days/{today}.atom",
                      headers={"If-None-Match": feed.headers["ETag"]}).status_code == 304
    later = make_notice("loss_declaration", day=today)
    changed = client.get(f"/days/{today}", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200
    assert later.ref in body(changed)
    with app.app_context():
        notice = db.session.scalar(db.select(Notice).where(Notice.ref == later.ref))
        services.revoke(notice, db.session.merge(editor), "重复刊登", now=expiry.utcnow())
    html = body(client.get(f"/days/{today}"))
    assert "state-revoked" in html


def test_a_reader_browses_the_days_and_opens_the_print_pdf(browser, server, app, make_notice):
    """The seeds published today, one notice a week earlier: the reader follows the notice's
    publication date to its day, goes back a day with notices, and fetches the PDF."""
    today = expiry.board_today(expiry.utcnow())
    earlier = make_notice("wage_clearance", day=today - timedelta(days=7))
    for name, device in (("phone", PHONE), ("desktop", DESKTOP)):
        context = browser.new_context(**device)
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.goto(f"{server}/days/{today}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(
            f"{today.year}年{today.month}月{today.day}日发布的公告")
        expect(page.locator("h2.column-title")).to_have_count(len(kinds.KINDS))
        # Nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=f"{SHOTS}/day-{name}.png", full_page=True)
        context.close()
    page = browser.new_page(**DESKTOP)
    page.goto(f"{server}/notices/{earlier.ref}")
    page.locator(".notice-meta a").click()
    expect(page).to_have_url(f"{server}/days/{today - timedelta(days=7)}")
    expect(page.locator("h2.column-title")).to_have_text([re.compile("民工工资结清公示")])
    page.get_by_role("link", name=re.compile("后一天有公告")).first.click()
    expect(page).to_have_url(f"{server}/days/{today}")
    link = page.get_by_role("link", name="下载当天的打印版(PDF)")
    pdf = page.request.get(server + link.get_attribute("href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF-")
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf.body(),
                          capture_output=True, check=True, timeout=60).stdout.decode()
    with app.app_context():
        refs = db.session.scalars(db.select(Notice.ref).where(Notice.published_on == today)).all()
    assert len(refs) >= len(kinds.KINDS)
    for ref in refs:
        assert ref in text
    assert earlier.ref not in text
    page.close()


def test_the_day_pages_and_the_export_form_pass_axe(browser, server, app, make_notice):
    """axe-core finds nothing on a day with notices (one revoked), an empty day, and the export
    form blank and with a mistake, on a phone and a desktop."""
    from test_accessibility import check

    today = expiry.board_today(expiry.utcnow())
    make_notice("loss_declaration", day=today, index=1, status="revoked")
    found = []
    for device in (PHONE, DESKTOP):
        context = browser.new_context(**device)
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.goto(f"{server}/days/{today}")
        check(page, "day", found)
        page.goto(f"{server}/days/{today - timedelta(days=1)}")
        expect(page.locator("p.empty")).to_contain_text("没有发布公告")
        check(page, "empty day", found)
        page.goto(f"{server}/editor/login")
        page.get_by_label("用户名").fill("editor")
        page.get_by_label("密码").fill(EDITOR_PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.goto(f"{server}/editor/print")
        expect(page.get_by_role("heading", level=1)).to_have_text("导出打印版")
        check(page, "export form", found)
        page.get_by_label("发布日期从").fill("2024-03-08")
        page.get_by_label("发布日期到(不填则只导出一天)").fill("2024-06-08")
        page.get_by_role("button", name="导出 PDF").click()
        expect(page.locator(".error-summary")).to_contain_text("一次最多导出31天")
        page.screenshot(path=f"{SHOTS}/export-error-{'phone' if device is PHONE else 'desktop'}.png",
                        full_page=True)
        check(page, "export form with a mistake", found)
        context.close()
    assert found == []
