"""Every validation rule, with good and bad values, through the one validation path."""
from datetime import date

import pytest
from conftest import seed_data
from conftest import within

from notices import kinds
from notices import services
from notices.services import NoticeError

TODAY = date(2024, 3, 8)


def errors_for(app, code, **changes):
    """Return the field errors of a seed submission with ``changes`` (None removes a field)."""
    data = seed_data(code)
    if kinds.get(code).submitter_sets_window:
        data["window_start"] = TODAY.isoformat()
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    with app.app_context():
        try:
            services.validate(kinds.get(code), services.flatten(data), TODAY)
        except NoticeError as refused:
            return refused.errors
    return {}


@pytest.mark.parametrize("code", list(kinds.KINDS))
def test_every_seed_is_valid(app, code):
    assert errors_for(app, code) == {}


@pytest.mark.parametrize(
    ("code", "field", "message"),
    [
        ("supplier_call", "issuer", "请填写发布单位"),
        ("supplier_call", "requirements", "请填写申请入库基本条件"),
        ("supplier_call", "participation", "请填写入库供应商参与范围"),
        ("supplier_call", "contact_unit", "请填写联系单位"),
        ("supplier_call", "contact_name", "请填写联系人"),
        ("supplier_call", "contact_phone", "请填写联系电话"),
        ("supplier_call", "contact_email", "请填写联系邮箱"),
        ("supplier_call", "window_start", "请填写征集开始日期"),
        ("supplier_call", "scopes", "请至少选择一项征集范围"),
        ("expert_call", "application_methods", "请至少选择一项征集方式"),
        ("expert_call", "requirements", "请填写征集要求"),
        ("wage_clearance", "contractor", "请填写承建单位"),
        ("wage_clearance", "project_name", "请填写项目名称"),
        ("wage_clearance", "contact_phone", "请填写联系电话"),
        ("loss_declaration", "declarant", "请填写声明人"),
        ("loss_declaration", "submitter_name", "请填写提交人姓名或单位名称"),
        ("loss_declaration", "submitter_phone", "请填写提交人电话"),
    ],
)
@pytest.mark.parametrize("blank", [None, "", "   "])
def test_required_fields(app, code, field, message, blank):
    assert errors_for(app, code, **{field: blank})[field] == [message]


def test_lines_of_only_punctuation_are_empty(app):
    assert errors_for(app, "supplier_call", requirements=";;\n。")["requirements"] == ["请填写申请入库基本条件"]


@pytest.mark.parametrize(
    ("phone", "ok"),
    [
        ("13889099800", True),
        ("138 8909 9800", True),
        ("0891-6321234", True),
        ("08916321234", True),
        ("0891-6321234-802", True),
        ("010-12345678", True),
        ("12345", False),
        ("23889099800", False),
        ("138890998001", False),
        ("891-6321234", False),
        ("phone", False),
    ],
)
def test_phone_numbers(app, phone, ok):
    errors = errors_for(app, "wage_clearance", contact_phone=phone)
    assert ("contact_phone" not in errors) is ok
    if not ok:
        assert "手机号" in errors["contact_phone"][0]


@pytest.mark.parametrize(
    ("email", "ok"),
    [("zczx@xzkt.net", True), ("a.b@example.com.cn", True), ("zczx", False), ("a@", False), ("@b.cn", False)],
)
def test_emails(app, email, ok):
    errors = errors_for(app, "supplier_call", contact_email=email)
    assert ("contact_email" not in errors) is ok
    optional = errors_for(app, "loss_declaration", submitter_email=email)
    assert ("submitter_email" not in optional) is ok


def test_optional_submitter_email_may_be_empty(app):
    assert errors_for(app, "loss_declaration", submitter_email="") == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2024-02-30", "日期格式应为"),
        ("08/03/2024", "日期格式应为"),
        ("tomorrow", "日期格式应为"),
        ("2024-03-07", "征集开始日期不能早于今天"),
    ],
)
def test_window_start_must_be_a_real_date_not_in_the_past(app, value, message):
    assert message in errors_for(app, "expert_call", window_start=value)["window_start"][0]


def test_window_start_today_or_later_is_fine(app):
    assert errors_for(app, "expert_call", window_start="2024-03-08") == {}
    assert errors_for(app, "expert_call", window_start="2025-01-01") == {}


@pytest.mark.parametrize(
    ("details", "ok"),
    [
        ("门户网站 http://www.xzkt.com/", True),
        ("门户网站 https://www.xzkt.com/a?b=1", True),
        ("中国采购与招标网", True),
        ("门户网站 HTTPS://www.xzkt.com/", True),
        ("门户网站 https://www.xzkt.com:8080/a?next=b:c", True),
        ("网站:www.xzkt.com", True),
        ("网站:www.xzkt.com 电话:0891-6321234", True),
        ("Portal: www.xzkt.com", True),
        ("门户网站 javascript://alert(1)", False),
        ("门户网站 ftp://files.xzkt.com/", False),
        ("门户网站 javascript:alert(1)", False),
        ("门户网站 JavaScript:alert(1)", False),
        ("门户网站javascript:alert(1)", False),
        ("门户网站 (javascript:alert(1))", False),
        ("门户网站 data:text/html,<script>alert(1)</script>", False),
        ("门户网站 vbscript:msgbox(1)", False),
        ("门户网站 file:///etc/passwd", False),
        ("门户网站 file://server/share", False),
        ("门户网站ftp://x", False),
        ("门户网站 http://www.xzkt.com/?u=ftp://x", False),
        ("http://www.xzkt.com/", False),
    ],
)
def test_details_urls_are_http_or_https(app, details, ok):
    errors = errors_for(app, "supplier_call", details=details)
    assert ("details" not in errors) is ok
    if not ok and errors["details"] != ["每行先写网站名称,再写网址(可省略)"]:
        assert errors["details"] == ["网址只能以 http:// 或 https:// 开头"]


@pytest.mark.parametrize(
    "details",
    ["a-" * 125_000, "a." * 125_000, "a" * 250_000, "a:" * 125_000, "x" + "a+" * 125_000 + "//"],
    ids=lambda text: repr(text[:6]),
)
def test_the_scheme_check_takes_linear_time(app, details):
    with within(2, "checking the schemes of a long details field"):
        errors_for(app, "supplier_call", details=details)


def test_unknown_choices_are_refused(app):
    assert "scopes" in errors_for(app, "supplier_call", scopes=["works", "weapons"])
    assert "application_methods" in errors_for(app, "expert_call", application_methods=["lottery"])


@pytest.mark.parametrize(
    ("item", "field", "message"),
    [
        ({"document_type": "id_card", "document_number": "540102199001011234"}, "document_number", "校验码不符"),
        ({"document_type": "business_license", "document_number": "91350100M000100Y44"}, "document_number", "校验码不符"),
        ({"document_type": "birth_certificate", "document_number": "5400597741"}, "document_number", "1个字母加9位数字"),
        ({"document_type": "police_id", "document_number": "3974031"}, "document_number", "6位数字"),
        ({"document_type": "other", "document_number": "A1"}, "document_type_other", "请填写证件名称"),
        ({"document_type": "passport", "document_number": "E1"}, "document_type", "不是有效的选择"),
        ({"document_type": "police_id", "document_number": ""}, "document_number", "请填写证件编号"),
    ],
)
def test_loss_items_name_the_broken_rule_and_the_row(app, item, field, message):
    good = {"owner_name": "", "document_type": "police_id", "document_number": "397403"}
    errors = errors_for(app, "loss_declaration", items=[good, dict(item, owner_name="")])
    assert list(errors) == [f"items-1-{field}"]
    assert message in errors[f"items-1-{field}"][0]


def test_the_same_document_twice_is_refused(app):
    item = {"owner_name": "", "document_type": "police_id", "document_number": "397403"}
    errors = errors_for(app, "loss_declaration", items=[item, dict(item, document_number="397 403")])
    assert errors == {"items": ["同一证件填写了两次"]}


def test_a_declaration_needs_at_least_one_item(app):
    errors = errors_for(app, "loss_declaration", items=[])
    assert "items-0-document_number" in errors


def test_too_long_values_are_refused(app):
    assert "issuer" in errors_for(app, "supplier_call", issuer="公" * 101)
    assert "requirements" in errors_for(app, "supplier_call", requirements="条" * 301)


# The most each field takes (README: "Limits"), checked before the text is parsed or cleaned.
MAXIMA = {
    "submitter_name": 100,
    "submitter_phone": 30,
    "submitter_email": 200,
    "issuer": 100,
    "window_start": 20,
    "details": 4000,
    "requirements": 10_000,
    "participation": 2000,
    "contact_unit": 100,
    "contact_name": 50,
    "contact_phone": 30,
    "contact_email": 200,
    "contractor": 100,
    "project_name": 200,
    "authority": 100,
    "declarant": 100,
    "items-0-owner_name": 100,
    "items-0-document_type_other": 30,
    "items-0-document_number": 60,
}
# Fields whose values are picked from a list or ticked, not typed.
CHOICES = {"scopes", "application_methods", "items-0-document_type", "consent_publication"}


def with_item_field(code, name, value):
    """Return the changes that set ``name`` (a loss item's field too) to ``value``."""
    if not name.startswith("items-"):
        return {name: value}
    items = seed_data(code)["items"]
    items[0][name.split("-", 2)[2]] = value
    return {"items": items}


def every_text_field():
    for code, kind in kinds.KINDS.items():
        names = [n for n in kind.labels if n != "items"]
        if code == "loss_declaration":
            names += ["items-0-owner_name", "items-0-document_type_other", "items-0-document_number"]
        for name in names:
            if name not in CHOICES:
                yield code, name


def test_every_text_field_has_a_maximum():
    assert {name for _, name in every_text_field()} == set(MAXIMA)


@pytest.mark.parametrize(("code", "name"), list(every_text_field()))
def test_every_text_field_refuses_more_than_its_maximum(app, code, name):
    limit = MAXIMA[name]
    message = f"不能超过{limit}个字"
    assert errors_for(app, code, **with_item_field(code, name, "字" * (limit + 1)))[name] == [message]
    at_limit = errors_for(app, code, **with_item_field(code, name, "字" * limit))
    assert message not in at_limit.get(name, [])


def test_a_text_over_its_maximum_is_not_parsed(app, monkeypatch):
    from notices import wording

    def never(text):
        raise AssertionError("parsed")

    monkeypatch.setattr(wording, "clean_lines", never)
    monkeypatch.setattr(wording, "parse_sites", never)
    errors = errors_for(app, "supplier_call", requirements=";" * 10_001, details="(" * 4001)
    assert errors["requirements"] == ["不能超过10000个字"]
    assert errors["details"] == ["不能超过4000个字"]


def test_a_site_name_has_a_maximum(app):
    assert errors_for(app, "supplier_call", details="网" * 101) == {"details": ["网站名称不能超过100个字"]}


def test_line_breaks_from_a_browser_count_once(app):
    # Browsers send a textarea's line breaks as CR LF but count them as one character.
    text = "\r\n".join(["参与" * 500, "范围" * 499 + "。"])
    assert errors_for(app, "supplier_call", participation=text) == {}
    assert errors_for(app, "supplier_call", participation=text + "。") == {"participation": ["不能超过2000个字"]}


def hidden_in(text):
    """Return ``text`` with bidi overrides and zero-width characters around and inside it."""
    return "\u202e" + text[:1] + "\u200b\u00ad" + text[1:] + "\u2066\ufeff\u2069\u200d"


def hide_everywhere(data):
    """Return a submission with invisible characters in every text it holds, items' included."""
    def hide(value):
        if isinstance(value, str):
            return hidden_in(value) if value else value
        if isinstance(value, list):
            return [hide(v) for v in value]
        if isinstance(value, dict):
            return {k: v if k == "document_type" else hide(v) for k, v in value.items()}
        return value

    return {name: value if name in CHOICES else hide(value) for name, value in data.items()}


def stored_data(app, code, data):
    """Return everything a valid submission would store: public fields, items and contacts."""
    kind = kinds.get(code)
    with app.app_context():
        form = services.validate(kind, services.flatten(data), TODAY)
        contacts = [form.submitter_name.data, form.submitter_phone.data, form.submitter_email.data]
        window = form.window_start.data if kind.submitter_sets_window else None
        return kind.fields_from_form(form), kind.items_from_form(form), contacts, window


@pytest.mark.parametrize("code", list(kinds.KINDS))
def test_invisible_characters_are_removed_from_every_text_field(app, code):
    data = seed_data(code)
    if kinds.get(code).submitter_sets_window:
        data["window_start"] = TODAY.isoformat()
    data["submitter_email"] = "tashi@example.com"
    hidden = hide_everywhere(data)
    assert hidden != data
    assert stored_data(app, code, hidden) == stored_data(app, code, data)


def test_an_issuer_is_stored_without_a_zero_width_space(app):
    data = seed_data("supplier_call")
    data.update(window_start=TODAY.isoformat(), issuer="西藏\u200b开发投资集团有限公司")
    fields, *_ = stored_data(app, "supplier_call", data)
    assert fields["issuer"] == "西藏开发投资集团有限公司"


def test_a_link_split_by_an_invisible_character_is_still_refused(app):
    errors = errors_for(app, "supplier_call", details="门户网站 java\u200bscript:alert(1)")
    assert errors == {"details": ["网址只能以 http:// 或 https:// 开头"]}
