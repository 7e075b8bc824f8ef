import re
from datetime import date
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest
from conftest import PUBLIC_URL
from conftest import seed_data
from werkzeug.datastructures import MultiDict

from notices import expiry
from notices import kinds
from notices import services
from notices.extensions import db
from notices.models import MailOutbox
from notices.models import Notice


def text(response):
    return response.get_data(as_text=True)


def posted(code, **changes):
    """Return the seed's fields as the HTML form posts them."""
    data = seed_data(code)
    if kinds.get(code).submitter_sets_window:
        data["window_start"] = expiry.board_today(expiry.utcnow()).isoformat()
    data.update(changes)
    return MultiDict(services.flatten(data))


# Posted fields that steer the form rather than carry the notice (notices/submit.py).
CONTROLS = ("csrf_token", "submission_key", "action")


class FormReader(HTMLParser):
    """Read what a browser would post from the form of a given class: its named inputs (checked
    boxes only), textareas and the selected option of each select; no buttons."""

    def __init__(self, form_class):
        super().__init__()
        self.form_class, self.inside, self.data = form_class, False, MultiDict()
        self.textarea = self.select = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = self.form_class in (attrs.get("class") or "").split()
        elif not self.inside or tag == "button":
            return
        elif tag == "input" and attrs.get("name"):
            if attrs.get("type") not in ("checkbox", "radio") or "checked" in attrs:
                self.data.add(attrs["name"], attrs.get("value", ""))
        elif tag == "textarea":
            self.textarea = [attrs["name"], ""]
        elif tag == "select":
            self.select = [attrs["name"], None]
        elif tag == "option" and self.select:
            if self.select[1] is None or "selected" in attrs:
                self.select[1] = attrs["value"]

    def handle_data(self, data):
        if self.textarea:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self.textarea:
            name, value = self.textarea
            # As in a browser, one line break right after <textarea> is not part of the value.
            self.data.add(name, value.removeprefix("\r\n").removeprefix("\n"))
            self.textarea = None
        elif tag == "select" and self.select:
            self.data.add(*self.select)
            self.select = None


def read_form(page, form_class):
    reader = FormReader(form_class)
    reader.feed(page)
    return reader.data


def summary(page):
    """Return the error summary's links as (href, text)."""
    box = re.search(r'<div class="error-summary".*?</ul>', page, re.S)
    return re.findall(r'<a href="([^"]+)">([^<]+)</a>', box.group(0)) if box else []


def notice_text(page):
    return re.search(r'<article class="notice">.*?</article>', page, re.S).group(0)


def count(app):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(Notice.id)))


def test_choose_page_offers_every_type(client):
    page = text(client.get("/submit"))
    for code, kind in kinds.KINDS.items():
        assert f'href="/submit/{code}"' in page and kind.name in page


@pytest.mark.parametrize("code", list(kinds.KINDS))
def test_each_form_renders_with_labels_help_and_defaults(client, code):
    page = text(client.get(f"/submit/{code}"))
    assert "提交人信息(仅编辑可见,不公开)" in page
    assert 'name="submitter_phone"' in page
    if kinds.get(code).submitter_sets_window:
        today = expiry.board_today(expiry.utcnow()).isoformat()
        assert f'name="window_start" type="date" value="{today}"' in page
    if code == "loss_declaration":
        assert 'name="items-0-document_number"' in page
        assert "警官证内页的6位警号" in page


def test_unknown_type_is_404(client):
    assert client.get("/submit/tender").status_code == 404
    assert client.post("/submit/tender/confirm").status_code == 404


def test_refused_form_keeps_what_was_typed_and_says_why_in_place(client, app):
    data = posted("wage_clearance", contact_phone="12345", project_name="")
    response = client.post("/submit/wage_clearance", data=data)
    assert response.status_code == 422
    page = text(response)
    assert "请填写项目名称" in page
    assert "请填写11位手机号" in page
    assert 'value="西藏星灿建设工程有限公司"' in page
    assert 'value="12345"' in page
    assert 'aria-invalid="true"' in page
    assert count(app) == 0


def test_preview_shows_the_canonical_wording_and_stores_nothing(client, app):
    page = text(client.post("/submit/loss_declaration", data=posted("loss_declaration")))
    assert "扎西央珍不慎,将巴登曲加的出生医学证明(编号:T540059774)丢失,声明作废。" in page
    assert 'name="items-0-document_number" value="T540059774"' in page
    assert count(app) == 0


def test_preview_masks_id_numbers_as_they_will_be_published(client):
    items = [{"owner_name": "", "document_type": "id_card", "document_number": "540102199001011233"}]
    page = text(client.post("/submit/loss_declaration", data=posted("loss_declaration", items=items)))
    assert "(身份证号:5401*************3)" in page


def test_add_and_remove_loss_rows_without_javascript(client):
    data = posted("loss_declaration")
    added = text(client.post("/submit/loss_declaration", data=MultiDict([*data.items(multi=True), ("action", "add")])))
    assert added.count('<fieldset class="item">') == 2
    assert "请填写" not in added  # adding a row is not a validation
    two = [
        *data.items(multi=True),
        ("items-1-owner_name", "格桑"),
        ("items-1-document_type", "police_id"),
        ("items-1-document_number", "123456"),
        ("action", "remove-0"),
    ]
    removed = text(client.post("/submit/loss_declaration", data=MultiDict(two)))
    assert removed.count('<fieldset class="item">') == 1
    assert 'name="items-0-owner_name" type="text" value="格桑"' in removed


def test_more_loss_items_than_the_limit_are_a_form_error_and_store_nothing(client, app):
    from test_api import police_items

    data = posted("loss_declaration", items=police_items(25))
    preview = client.post("/submit/loss_declaration", data=data)
    assert preview.status_code == 422
    assert "每份声明最多20件证件,请分成几份声明提交" in text(preview)
    assert "submission_key" not in text(preview)
    confirm = client.post("/submit/loss_declaration/confirm", data=data)
    assert confirm.status_code == 422
    assert "每份声明最多20件证件" in text(confirm)
    assert count(app) == 0


@pytest.mark.parametrize(
    "odd",
    [
        [("action", "remove-²")],
        [("action", "remove-" + "9" * 5000)],
        [("items-²-owner_name", "格桑")],
        [("items-" + "9" * 5000 + "-owner_name", "格桑")],
        [("items-" + "9" * 5000 + "-owner_name", "格桑"), ("action", "add")],
        [("items-٣-owner_name", "格桑"), ("action", "remove-٣")],
    ],
    ids=["superscript row", "huge row", "superscript key", "huge key", "huge key added to", "arabic-indic row"],
)
def test_row_numbers_no_form_writes_are_ignored_not_a_500(client, odd):
    data = MultiDict([*posted("loss_declaration").items(multi=True), *odd])
    response = client.post("/submit/loss_declaration", data=data)
    assert response.status_code in (200, 422)
    assert "扎西央珍" in text(response)


def test_confirm_stores_and_redirects_to_the_tracking_page(client, app):
    response = client.post("/submit/supplier_call/confirm", data=posted("supplier_call"))
    assert response.status_code == 302
    tracking = response.headers["Location"]
    assert re.fullmatch(r"/track/[A-Za-z0-9_-]{32}", tracking)
    page = client.get(tracking)
    assert page.headers["Cache-Control"] == "no-store"
    body = text(page)
    assert "提交成功,编号 GY-" in body and "待审核" in body
    assert count(app) == 1


def test_confirm_of_an_altered_preview_is_refused_and_stores_nothing(client, app):
    data = posted("supplier_call", contact_email="not-an-email")
    response = client.post("/submit/supplier_call/confirm", data=data)
    assert response.status_code == 422
    assert "邮箱格式不正确" in text(response)
    assert count(app) == 0


def test_tracking_unknown_token_is_404(client):
    assert client.get("/track/not-a-real-token").status_code == 404


def test_submitter_withdraws_while_pending(client, make_notice, app):
    notice = make_notice("loss_declaration", status="submitted")
    response = client.post(f"/track/{notice.token}/withdraw", follow_redirects=True)
    assert "已撤回" in text(response)
    again = client.post(f"/track/{notice.token}/withdraw", follow_redirects=True)
    assert "不能撤回" in text(again)


def test_tracking_shows_a_rejection_reason(client, make_notice):
    notice = make_notice("loss_declaration", status="rejected")
    page = text(client.get(f"/track/{notice.token}"))
    assert "未通过" in page and "材料不全" in page


def test_tracking_of_a_published_notice_links_to_it(client, make_notice):
    notice = make_notice("loss_declaration", day=date(2026, 7, 10))
    page = text(client.get(f"/track/{notice.token}", headers={"Host": "evil.example"}))
    assert f'href="/notices/{notice.ref}"' in page
    # The address shown to copy is the board's public one, not the Host the request named.
    assert f">{PUBLIC_URL}/notices/{notice.ref}</a>" in page
    assert "evil.example" not in page


def with_limits(app, **limits):
    """Turn the rate limits on for ``app``, at ``limits``, counting from zero."""
    from notices.extensions import limiter

    app.config.update(RATELIMIT_ENABLED=True, **limits)
    limiter.init_app(app)
    return limiter


def test_a_refused_confirmation_shows_the_preview_again_with_everything_kept(client, app):
    limiter = with_limits(app, SUBMIT_RATE_LIMIT="2 per hour")
    for _ in range(2):
        assert client.post("/submit/loss_declaration/confirm", data=posted("loss_declaration")).status_code == 302
    preview = text(client.post("/submit/loss_declaration", data=posted("loss_declaration")))
    key = re.search(r'name="submission_key" value="([^"]+)"', preview).group(1)
    sent = MultiDict([*posted("loss_declaration").items(multi=True), ("submission_key", key)])
    response = client.post("/submit/loss_declaration/confirm", data=sent)
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 3600
    page = text(response)
    assert "<title>错误:预览 · 遗失声明" in page
    assert "提交过于频繁。为防止滥用,每个网络地址可提交的公告数量有限。" in page
    assert "上限为每小时 2 次。" in page
    assert re.search(r"请于 \d+ (分钟|小时)[^<]*后\(北京时间 [^<]*\d\d:\d\d 以后\)再试。", page)
    assert "per 1 hour" not in page and "Too Many" not in page
    # The preview itself, and every field as it was posted, ready to confirm later.
    assert "扎西央珍不慎,将巴登曲加的出生医学证明(编号:T540059774)丢失,声明作废。" in page
    kept = read_form(page, "actions")
    assert kept.pop("csrf_token") is not None
    assert kept == sent
    assert count(app) == 2

    limiter.reset()  # the hour has passed
    stored = client.post("/submit/loss_declaration/confirm", data=kept)
    assert stored.status_code == 302
    assert client.post("/submit/loss_declaration/confirm", data=kept).headers["Location"] == stored.headers["Location"]
    assert count(app) == 3


def test_a_refused_confirmation_keeps_the_data_when_previews_are_spent_too(client, app):
    with_limits(app, SUBMIT_RATE_LIMIT="1 per hour", PREVIEW_RATE_LIMIT="1 per hour")
    assert client.post("/submit/wage_clearance/confirm", data=posted("wage_clearance")).status_code == 302
    assert client.post("/submit/wage_clearance/confirm", data=posted("wage_clearance")).status_code == 429
    # The preview shown again used the hour's one preview: the next refusal shows no text.
    response = client.post("/submit/wage_clearance/confirm", data=posted("wage_clearance"))
    assert response.status_code == 429 and "Retry-After" in response.headers
    page = text(response)
    assert "预览的次数也已用完" in page and "西藏星灿建设工程有限公司 民工工资结清公示" not in page
    kept = read_form(page, "actions")
    assert [(k, v) for k, v in kept.items(multi=True) if k not in CONTROLS] == list(posted("wage_clearance").items(multi=True))
    assert count(app) == 1


def test_a_refused_preview_shows_the_form_as_typed(client, app):
    # A preview parses and validates everything a confirmation does, without storing it.
    with_limits(app, PREVIEW_RATE_LIMIT="3 per hour")
    for action in ("preview", "add", "preview"):
        data = MultiDict([*posted("loss_declaration").items(multi=True), ("action", action)])
        assert client.post("/submit/loss_declaration", data=data).status_code == 200
    response = client.post("/submit/loss_declaration", data=posted("loss_declaration", declarant="格桑"))
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    page = text(response)
    assert "预览过于频繁" in page and "上限为每小时 3 次。" in page
    assert "您填写的内容都保留在下面的表格里" in page
    typed = read_form(page, "notice-form")
    assert typed["declarant"] == "格桑" and typed["items-0-document_number"] == "T540059774"
    # Confirmations count on their own.
    assert client.post("/submit/loss_declaration/confirm", data=posted("loss_declaration")).status_code == 302


def test_the_preview_limit_is_generous_and_configurable(tmp_path, monkeypatch):
    from conftest import config

    from notices import create_app

    settings = config(tmp_path, tmp_path / "t.db")
    assert create_app(settings).config["PREVIEW_RATE_LIMIT"] == "60 per hour"
    monkeypatch.setenv("FLASK_PREVIEW_RATE_LIMIT", "5 per minute")
    assert create_app(settings).config["PREVIEW_RATE_LIMIT"] == "5 per minute"


def test_confirming_the_same_preview_twice_stores_one_notice(client, app):
    preview = text(client.post("/submit/loss_declaration", data=posted("loss_declaration")))
    key = re.search(r'name="submission_key" value="([^"]+)"', preview).group(1)
    data = MultiDict([*posted("loss_declaration").items(multi=True), ("submission_key", key)])
    first = client.post("/submit/loss_declaration/confirm", data=data)
    second = client.post("/submit/loss_declaration/confirm", data=data)
    assert first.headers["Location"] == second.headers["Location"]
    assert count(app) == 1
    other = text(client.post("/submit/loss_declaration", data=posted("loss_declaration")))
    assert re.search(r'name="submission_key" value="([^"]+)"', other).group(1) != key


def test_api_idempotency_key(client, app):
    from test_api import submission

    headers = {"Idempotency-Key": "order-42"}
    first = client.post("/api/v1/submissions", json=submission(), headers=headers).get_json()
    second = client.post("/api/v1/submissions", json=submission(), headers=headers)
    assert second.status_code == 201 and second.get_json() == first
    assert count(app) == 1
    # Someone else using the same key with other content gets their own notice, not this one.
    other = client.post("/api/v1/submissions", json=submission(declarant="格桑"), headers=headers).get_json()
    assert other["tracking_url"] != first["tracking_url"] and other["ref"] != first["ref"]
    assert count(app) == 2


def test_withdrawal_asks_for_confirmation_first(client, make_notice):
    notice = make_notice("loss_declaration", status="submitted")
    page = text(client.get(f"/track/{notice.token}/withdraw"))
    assert "撤回这份提交?" in page and "确认撤回" in page
    assert "待审核" in text(client.get(f"/track/{notice.token}"))


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("0891 632 9876", "0891-6329876"), ("01012345678", "010-12345678"), ("138 8909 9800", "13889099800")],
)
def test_phone_numbers_are_stored_as_printed(app, typed, stored):
    with app.app_context():
        form = services.validate(kinds.get("wage_clearance"), posted("wage_clearance", contact_phone=typed), None)
        assert form.contact_phone.data == stored


def test_error_summary_lists_each_field_and_row_in_page_order(client):
    items = [{"owner_name": "", "document_type": "police_id", "document_number": ""}] * 3
    data = posted("loss_declaration", items=items, declarant="", submitter_email="tashi@")
    page = text(client.post("/submit/loss_declaration", data=data))
    assert summary(page) == [
        ("#declarant", "请填写声明人"),
        ("#items-0-document_number", "第 1 项:请填写证件编号"),
        ("#items-1-document_number", "第 2 项:请填写证件编号"),
        ("#items-2-document_number", "第 3 项:请填写证件编号"),
        ("#submitter_email", "提交人邮箱:邮箱格式不正确,如 name@example.com"),
    ]
    assert "同一证件填写了两次" not in page


@pytest.mark.parametrize("code", list(kinds.KINDS))
def test_every_error_is_a_link_to_its_field_and_the_title_says_so(client, code):
    blank = MultiDict([("submitter_email", "not-an-email")])
    response = client.post(f"/submit/{code}", data=blank)
    assert response.status_code == 422
    page = text(response)
    assert re.search(r"<title>错误:提交", page)
    assert '<h2 class="error-summary-title">提交前请修改以下问题</h2>' in page
    links = summary(page)
    controls = re.findall(r'<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"', page)
    # Each link leads to a control on the page, and they come in the order the page asks.
    targets = [href[1:] for href, _ in links]
    assert set(targets) <= set(controls)
    assert targets == sorted(targets, key=controls.index)
    # Every field marked wrong is in the summary, and nothing else is.
    marked = re.findall(r'<(?:input|select|textarea)\b[^>]*aria-invalid="true"[^>]*>', page)
    wrong = {re.search(r'\bid="([^"]+)"', tag).group(1) for tag in marked}
    # (A group of checkboxes is marked on every box, and linked by its first.)
    assert set(targets) == {w for w in wrong if not re.fullmatch(r"\w+-[1-9]\d*", w)}
    assert ("#submitter_email", "提交人邮箱:邮箱格式不正确,如 name@example.com") in links


def test_a_group_of_checkboxes_is_linked_by_its_first_box(client):
    page = text(client.post("/submit/supplier_call", data=posted("supplier_call", scopes=[])))
    assert summary(page) == [("#scopes-0", "请至少选择一项征集范围")]
    assert 'id="scopes-0"' in page


def test_a_form_without_errors_has_no_summary(client):
    for page in (text(client.get("/submit/loss_declaration")),
                 text(client.post("/submit/loss_declaration", data=MultiDict([*posted("loss_declaration").items(multi=True), ("action", "add")])))):
        assert "error-summary" not in page and "<title>错误" not in page
        assert "<title>提交遗失声明 · " in page


# --- The receipt: the tracking address, the only key -----------------------------------------


def qr_modules(data_uri):
    """Return the dark modules of a QR code segno drew as an SVG path: {(x, y), …}."""
    svg = unquote(data_uri.removeprefix("data:image/svg+xml;charset=utf-8,"))
    path = re.search(r' d="([^"]+)"', svg.replace("'", '"')).group(1)
    dark, x, y = set(), 0.0, 0.0
    for command, a, b in re.findall(r"([MmHh])(-?[\d.]+)(?: (-?[\d.]+))?", path):
        if command in "Mm":
            x, y = (float(a), float(b)) if command == "M" else (x + float(a), y + float(b))
        else:
            end = float(a) if command == "H" else x + float(a)
            dark.update((int(i), int(y)) for i in range(int(x), int(end)))
            x = end
    return dark


def encoded(address):
    """Return the dark modules of the QR code of ``address``, as they sit in the SVG (4 from the edge)."""
    import segno

    matrix = segno.make(address, error="m").matrix
    return {(x + 4, y + 4) for y, row in enumerate(matrix) for x, bit in enumerate(row) if bit}


def test_the_receipt_shows_the_tracking_address_and_its_qr_code(client, app):
    data = posted("loss_declaration", submitter_email="tashi@example.cn")
    response = client.post("/submit/loss_declaration/confirm", data=data, headers={"Host": "evil.example"})
    path = response.headers["Location"]
    receipt = client.get(path, headers={"Host": "evil.example"})
    assert receipt.headers["Cache-Control"] == "no-store"
    assert receipt.headers["X-Robots-Tag"] == "noindex"
    assert receipt.headers["Referrer-Policy"] == "same-origin"
    page = text(receipt)
    address = PUBLIC_URL + path
    assert f'<p class="tracking-url" id="tracking-url">{address}</p>' in page
    assert "这个地址是回到这份提交的唯一途径" in page
    assert '<button type="button" class="secondary" data-copy="tracking-url" hidden>复制地址</button>' in page
    assert '<script src="/static/copy.js" defer></script>' in page
    assert "evil.example" not in page
    qr = re.search(r'<img src="(data:image/svg\+xml[^"]+)" alt="本页地址的二维码"', page).group(1)
    assert qr_modules(qr) == encoded(address)
    assert qr_modules(qr) != encoded(address[:-1] + "x")
    # The receipt mail was written with the submission.
    assert "这个地址也会以邮件发到您填写的邮箱 tashi@example.cn" in page
    with app.app_context():
        (mail,) = db.session.scalars(db.select(MailOutbox)).all()
        assert mail.recipient == "tashi@example.cn" and address in mail.body
    # Nothing on the page is fetched from, or leads to, another site, which would learn the address.
    for attribute in re.findall(r'(?:src|href|action)="([^"]*)"', page):
        assert attribute.startswith(("/", "#", "data:image/svg+xml")), attribute


def test_the_receipt_mentions_no_mail_without_an_email(client):
    response = client.post("/submit/wage_clearance/confirm", data=posted("wage_clearance"))
    page = text(client.get(response.headers["Location"]))
    assert "tracking-url" in page and "邮件" not in page


def test_the_scripts_are_served_from_the_board(client):
    for name, uses in (("copy.js", "navigator.clipboard"), ("error-summary.js", "focus()")):
        with client.get(f"/static/{name}") as script:
            assert script.status_code == 200 and uses in script.get_data(as_text=True)


# --- Resubmitting a rejected notice ---------------------------------------------------------


@pytest.mark.parametrize("code", list(kinds.KINDS))
def test_a_rejected_submission_is_resubmitted_from_its_filled_in_form(client, app, make_notice, code):
    rejected = make_notice(code, status="rejected", submitter_email="tashi@example.cn")
    track = text(client.get(f"/track/{rejected.token}"))
    assert f'href="/track/{rejected.token}/resubmit"' in track

    response = client.get(f"/track/{rejected.token}/resubmit")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = text(response)
    assert f"<title>重新提交{kinds.get(code).name}" in page
    assert f"已按编号 {rejected.ref} 的内容填好" in page and "编辑的意见:材料不全" in page
    filled = read_form(page, "notice-form")
    # The consent is asked anew: the box comes unticked, and the submitter ticks it.
    assert "consent_publication" not in filled
    filled["consent_publication"] = "y"
    # What a browser posts from the filled-in form previews as the same notice it was.
    expected = text(client.post(f"/submit/{code}", data=posted(code, submitter_email="tashi@example.cn")))
    preview = client.post(f"/submit/{code}", data=filled)
    assert preview.status_code == 200, summary(text(preview))
    assert notice_text(text(preview)) == notice_text(expected)
    for name in ("submitter_name", "submitter_phone", "submitter_email"):
        assert filled[name] == posted(code, submitter_email="tashi@example.cn")[name]

    confirmed = client.post(f"/submit/{code}/confirm", data=read_form(text(preview), "actions"))
    assert confirmed.status_code == 302
    token = confirmed.headers["Location"].removeprefix("/track/")
    assert token != rejected.token
    with app.app_context():
        fresh = db.session.scalar(db.select(Notice).where(Notice.tracking_hash == services.hash_token(token)))
        old = db.session.get(Notice, rejected.id)
        assert fresh.ref != rejected.ref and fresh.status == "submitted"
        assert old.status == "rejected"
        assert fresh.fields == old.fields
        assert [(i.owner_name, i.document_type, i.document_number) for i in fresh.items] == [
            (i.owner_name, i.document_type, i.document_number) for i in old.items
        ]
    assert count(app) == 2


def test_a_resubmitted_call_starts_no_earlier_than_today(client, make_notice):
    rejected = make_notice("expert_call", status="rejected", day=date(2024, 3, 8))
    page = text(client.get(f"/track/{rejected.token}/resubmit"))
    today = expiry.board_today(expiry.utcnow()).isoformat()
    assert f'name="window_start" type="date" value="{today}"' in page


def test_loss_items_are_filled_in_row_by_row(client, make_notice):
    items = [
        {"owner_name": "巴登曲加", "document_type": "birth_certificate", "document_number": "T540059774"},
        {"owner_name": "", "document_type": "other", "document_type_other": "道路运输证", "document_number": "ZY-0042"},
    ]
    rejected = make_notice("loss_declaration", status="rejected", items=items)
    filled = read_form(text(client.get(f"/track/{rejected.token}/resubmit")), "notice-form")
    assert filled["items-0-document_number"] == "T540059774"
    assert filled["items-1-document_type"] == "other"
    assert filled["items-1-document_type_other"] == "道路运输证"
    assert filled["items-1-document_number"] == "ZY-0042"
    assert "items-2-document_number" not in filled


def test_only_the_token_opens_the_filled_in_form(client, make_notice):
    rejected = make_notice("loss_declaration", status="rejected")
    assert client.get(f"/track/{rejected.ref}/resubmit").status_code == 404
    assert client.get("/track/not-a-real-token/resubmit").status_code == 404
    assert client.get(f"/notices/{rejected.ref}/resubmit").status_code == 404


@pytest.mark.parametrize("status", ["submitted", "published"])
def test_a_pending_or_published_notice_is_not_resubmitted(client, make_notice, status):
    notice = make_notice("loss_declaration", status=status)
    assert "/resubmit" not in text(client.get(f"/track/{notice.token}"))
    response = client.get(f"/track/{notice.token}/resubmit", follow_redirects=True)
    assert "只有未通过审核或已撤回的提交可以重新提交" in text(response)
    assert 'name="declarant"' not in text(response)


def test_a_withdrawn_submission_may_be_resubmitted_too(client, make_notice):
    notice = make_notice("loss_declaration", status="withdrawn")
    assert f'href="/track/{notice.token}/resubmit"' in text(client.get(f"/track/{notice.token}"))
    assert 'value="扎西央珍"' in text(client.get(f"/track/{notice.token}/resubmit"))
