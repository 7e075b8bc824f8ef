from datetime import date
from datetime import datetime

import pytest
from conftest import PUBLIC_URL
from conftest import seed_data

from notices import expiry
from notices import kinds
from notices import services
from notices.accounts import create_user
from notices.extensions import db
from notices.models import Notice

NOTICE_KEYS = {"ref", "type", "title", "status", "published_at", "window_start", "window_end",
               "text", "fields", "url", "corrects", "corrected_by"}


@pytest.fixture
def today():
    return expiry.board_today(expiry.utcnow())


def test_one_notice_has_the_spec_shape(client, make_notice):
    ref = make_notice("supplier_call", day=date(2024, 3, 8)).ref
    response = client.get(f"/api/v1/notices/{ref}")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == NOTICE_KEYS
    assert body["type"] == "supplier_call"
    assert body["title"] == "西藏开发投资集团有限公司 非招标采购供应商入库征集公告"
    assert body["status"] == "expired"
    assert (body["window_start"], body["window_end"]) == ("2024-03-08", "2024-04-07")
    published = datetime.fromisoformat(body["published_at"])
    assert published.utcoffset().total_seconds() == 8 * 3600
    assert body["text"].splitlines()[3] == "2024年3月8日—2024年4月7日"
    assert body["fields"]["scopes"] == ["works", "goods", "services"]
    assert body["fields"]["details"][1] == {"name": "西藏开发投资集团有限公司门户网站", "url": "http://www.xzkt.com/"}
    assert "submitter_name" not in body["fields"] and "submitter_phone" not in body["fields"]
    assert body["url"] == f"{PUBLIC_URL}/notices/{ref}"


def test_revoked_notice_says_so_with_its_reason(client, make_notice, today):
    ref = make_notice("wage_clearance", status="revoked", day=today).ref
    body = client.get(f"/api/v1/notices/{ref}").get_json()
    assert body["status"] == "revoked"
    assert body["revoked_reason"] == "提交人申请撤销"


@pytest.mark.parametrize("status", ["submitted", "rejected", "withdrawn"])
def test_unpublished_or_unknown_refs_are_json_404s(client, make_notice, status):
    ref = make_notice("loss_declaration", status=status).ref
    for url in [f"/api/v1/notices/{ref}", "/api/v1/notices/NO-SUCH-REF", "/api/v1/nothing-here"]:
        response = client.get(url)
        assert response.status_code == 404
        assert response.is_json and "error" in response.get_json()


def test_listing_shape_and_default_status_active(client, make_notice, today):
    make_notice("loss_declaration", index=0, day=today)
    make_notice("loss_declaration", index=1, day=date(2024, 1, 1))
    body = client.get("/api/v1/notices").get_json()
    assert set(body) == {"items", "total", "page", "per_page", "facets"}
    assert (body["total"], body["page"], body["per_page"]) == (1, 1, 20)
    assert set(body["items"][0]) == NOTICE_KEYS
    assert body["items"][0]["status"] == "active"


@pytest.mark.parametrize(("status", "total"), [("active", 2), ("archived", 2), ("all", 4)])
def test_listing_by_status(client, make_notice, today, status, total):
    make_notice("loss_declaration", index=0, day=today)
    make_notice("wage_clearance", day=today)
    make_notice("loss_declaration", index=2, day=date(2024, 1, 1))
    make_notice("loss_declaration", index=3, day=today, status="revoked")
    make_notice("loss_declaration", index=4, day=today, status="submitted")
    assert client.get(f"/api/v1/notices?status={status}").get_json()["total"] == total


def test_listing_by_type_and_pages(client, make_notice, today):
    for i in range(5):
        make_notice("loss_declaration", index=i, day=today)
    make_notice("wage_clearance", day=today)
    body = client.get("/api/v1/notices?type=loss_declaration&per_page=2&page=3").get_json()
    assert (body["total"], body["page"], body["per_page"], len(body["items"])) == (5, 3, 2, 1)
    assert {i["type"] for i in body["items"]} == {"loss_declaration"}
    beyond = client.get("/api/v1/notices?type=loss_declaration&per_page=2&page=9").get_json()
    assert beyond["items"] == [] and beyond["total"] == 5


def test_query_is_accepted(client, make_notice, today):
    make_notice("loss_declaration", day=today)
    response = client.get("/api/v1/notices?q=" + "工资 AND (NOT NOT a)" * 50)
    assert response.status_code == 200
    assert set(response.get_json()) == {"items", "total", "page", "per_page", "facets"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("type=tender", "type"),
        ("status=pending", "status"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("per_page=101", "per_page"),
        ("per_page=1.5", "per_page"),
    ],
)
def test_bad_parameters_are_json_400s_naming_the_field(client, query, field):
    response = client.get(f"/api/v1/notices?{query}")
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


def test_lost_document_lookup_matches_whatever_the_spacing_and_case(client, make_notice, today):
    ref = make_notice("loss_declaration", day=date(2026, 7, 10)).ref
    for typed in ["T540059774", "t540059774", " T 5400 59774 ", "Ｔ５４００５９７７４"]:
        body = client.get("/api/v1/lost-documents", query_string={"number": typed}).get_json()
        assert body == {"items": [{
            "ref": ref,
            "document_type": "birth_certificate",
            "document_number": "T540059774",
            "owner_name": "巴登曲加",
            "declarant": "扎西央珍",
            "published_at": body["items"][0]["published_at"],
            "status": "expired",
        }]}


def test_lost_document_lookup_finds_every_declaration_and_masks_id_numbers(client, make_notice, today):
    item = {"owner_name": "", "document_type": "id_card", "document_number": "540102199001011233"}
    make_notice("loss_declaration", index=0, day=date(2025, 1, 5), items=[item])
    make_notice("loss_declaration", index=1, day=today, items=[item])
    make_notice("loss_declaration", index=2, day=today, items=[item], status="submitted")
    body = client.get("/api/v1/lost-documents?number=540102199001011233").get_json()
    assert [i["status"] for i in body["items"]] == ["active", "expired"]
    assert {i["document_number"] for i in body["items"]} == {"5401*************3"}


def test_an_id_number_typed_in_arabic_indic_digits_is_stored_and_found_in_ascii(app, client):
    from test_documents import ZEROS
    from test_documents import in_script

    number = "540102199001011233"
    typed = in_script(number, ZEROS["arabic-indic"])
    item = {"owner_name": "", "document_type": "id_card", "document_number": typed}
    response = client.post("/api/v1/submissions", json=submission(items=[item]))
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        notice = db.session.scalar(db.select(Notice))
        assert [i.document_number for i in notice.items] == [number]
        services.approve(notice, db.session.merge(create_user("checker", "a-long-password-1")),
                         now=expiry.utcnow())
    for asked in (number, typed):
        body = client.get("/api/v1/lost-documents", query_string={"number": asked}).get_json()
        assert [i["ref"] for i in body["items"]] == [response.get_json()["ref"]]
        page = client.get("/lost", query_string={"number": asked}).get_data(as_text=True)
        assert response.get_json()["ref"] in page


def test_lost_document_lookup_with_no_match_or_no_number(client):
    assert client.get("/api/v1/lost-documents?number=X1").get_json() == {"items": []}
    response = client.get("/api/v1/lost-documents")
    assert response.status_code == 400 and "number" in response.get_json()["errors"]
    assert client.get("/api/v1/lost-documents?number=" + "9" * 41).status_code == 400


def test_method_not_allowed_is_json(client):
    response = client.post("/api/v1/notices")
    assert response.status_code == 405 and response.is_json


def submission(code="loss_declaration", **changes):
    data = {"type": code, **seed_data(code)}
    if kinds.get(code).submitter_sets_window:
        data["window_start"] = expiry.board_today(expiry.utcnow()).isoformat()
    data.update(changes)
    return data


def stored(app):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(Notice.id)))


@pytest.mark.parametrize("code", ["supplier_call", "expert_call", "wage_clearance", "loss_declaration"])
def test_submission_api_accepts_every_type(app, client, code):
    response = client.post("/api/v1/submissions", json=submission(code))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == {"ref", "status", "tracking_url"}
    assert body["status"] == "submitted"
    assert body["tracking_url"].startswith(f"{PUBLIC_URL}/track/")
    assert client.get(body["tracking_url"]).status_code == 200
    # Submitted is not published.
    assert client.get(f"/api/v1/notices/{body['ref']}").status_code == 404
    assert stored(app) == 1


def test_submission_api_takes_lists_of_lines(client):
    response = client.post("/api/v1/submissions", json=submission(
        "expert_call", requirements=["身体健康", "熟悉法律法规"], details=["中国采购与招标网"]))
    assert response.status_code == 201, response.get_json()


def test_submission_api_refusal_is_422_per_field_and_stores_nothing(app, client):
    body = submission(
        "loss_declaration",
        submitter_phone="123",
        items=[{"owner_name": "", "document_type": "police_id", "document_number": "397403"},
               {"owner_name": "", "document_type": "id_card", "document_number": "540102199001011234"}],
    )
    response = client.post("/api/v1/submissions", json=body)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == {"submitter_phone", "items-1-document_number"}
    assert "校验码不符" in errors["items-1-document_number"][0]
    assert stored(app) == 0


def police_items(count):
    """Return ``count`` distinct police ID items (警号 000001, 000002 …)."""
    return [{"owner_name": "", "document_type": "police_id", "document_number": f"{n:06d}"}
            for n in range(1, count + 1)]


def test_more_loss_items_than_the_limit_are_refused_not_dropped(app, client):
    response = client.post("/api/v1/submissions", json=submission(items=police_items(25)))
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"items": ["每份声明最多20件证件,请分成几份声明提交"]}
    assert stored(app) == 0
    at_limit = client.post("/api/v1/submissions", json=submission(items=police_items(20)))
    assert at_limit.status_code == 201
    with app.app_context():
        notice = db.session.scalar(db.select(Notice))
        assert len(notice.items) == 20


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"type": "tender"}, 422, "type"),
        ({"type": ["loss_declaration"]}, 422, "type"),
        ({}, 422, "type"),
        ([1, 2], 400, None),
        ("just text", 400, None),
    ],
)
def test_submission_api_refuses_bad_shapes(app, client, body, status, field):
    response = client.post("/api/v1/submissions", json=body)
    assert response.status_code == status
    if field:
        assert field in response.get_json()["errors"]
    assert stored(app) == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"declarant": {"name": "x"}},
        {"items": "T540059774"},
        {"items": [["T540059774"]]},
        {"declarant": True},
    ],
)
def test_submission_api_refuses_wrong_value_types(app, client, changes):
    response = client.post("/api/v1/submissions", json=submission(**changes))
    assert response.status_code == 422
    assert stored(app) == 0


def test_submission_api_refuses_malformed_json(client):
    response = client.post("/api/v1/submissions", data="{not json", content_type="application/json")
    assert response.status_code == 400 and response.is_json


def _raw_json(data, lone):
    """Serialise ``data`` with ``lone`` spliced in as JSON text: a lone surrogate, escaped or raw."""
    import json

    text = json.dumps(data, ensure_ascii=False).replace("LONE", lone)
    return text.encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("lone", ["\\ud800", "\\udfff", "\ud800"])
@pytest.mark.parametrize("where", ["declarant", "submitter_name", "owner_name", "key", "item key"])
@pytest.mark.parametrize("idempotency", [None, "retry-1"])
def test_submission_api_refuses_half_a_surrogate_pair(app, client, lone, where, idempotency):
    """Half a surrogate pair is no character: refused with 422, never stored to break pages."""
    data = {"type": "loss_declaration", **seed_data("loss_declaration")}
    if where == "owner_name":
        data["items"][0]["owner_name"] = "扎西LONE"
    elif where == "key":
        data["LONE"] = "x"
    elif where == "item key":
        data["items"][0]["LONE"] = "x"
    else:
        data[where] = "扎西LONE"
    headers = {"Idempotency-Key": idempotency} if idempotency else {}
    response = client.post("/api/v1/submissions", data=_raw_json(data, lone),
                           content_type="application/json", headers=headers)
    assert response.status_code == 422
    assert "含有无法识别的字符" in str(response.get_json()["errors"])
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Notice.id))) == 0


# What a client may claim about where it reached the board.
HOSTILE_HEADERS = {
    "Host": "evil.example",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "http",
    "X-Forwarded-Prefix": "//evil.example",
}


def test_absolute_urls_come_from_the_configured_address(client, make_notice):
    """The API's links point at PUBLIC_URL whatever host, scheme or prefix a request claims."""
    ref = make_notice("loss_declaration").ref
    one = client.get(f"/api/v1/notices/{ref}", headers=HOSTILE_HEADERS).get_json()
    assert one["url"] == f"{PUBLIC_URL}/notices/{ref}"
    listed = client.get("/api/v1/notices?status=all", headers=HOSTILE_HEADERS).get_json()
    assert [item["url"] for item in listed["items"]] == [f"{PUBLIC_URL}/notices/{ref}"]
    response = client.post("/api/v1/submissions", json=submission(), headers=HOSTILE_HEADERS)
    assert response.status_code == 201
    assert response.get_json()["tracking_url"].startswith(f"{PUBLIC_URL}/track/")


@pytest.mark.parametrize("query", [
    "page=99999999999999999999", "page=²", "page=٣", "per_page=²", "per_page=0", "page=0",
    "page=-1", "q=x&page=²", "q=x&page=99999999999999999999", "per_page=1_0",
])
def test_page_parameters_out_of_range_or_not_plain_digits_are_a_400(client, query):
    response = client.get(f"/api/v1/notices?{query}")
    assert response.status_code == 400
    assert set(response.get_json()["errors"]) <= {"page", "per_page"}


def test_a_page_past_the_end_of_the_api_listing_is_empty(client, make_notice):
    make_notice("loss_declaration")
    body = client.get("/api/v1/notices?status=all&page=100000").get_json()
    assert (body["items"], body["total"], body["page"]) == ([], 1, 100000)
    searched = client.get("/api/v1/notices?q=扎西央珍&status=all&page=100000").get_json()
    assert (searched["items"], searched["total"]) == ([], 1)
