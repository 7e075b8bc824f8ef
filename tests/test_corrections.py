"""Corrections (更正启事): services and pages, on the suite's database and search engine."""
from datetime import date
from datetime import datetime
from datetime import timedelta

import pytest
from conftest import at
from test_editor import login
from werkzeug.datastructures import MultiDict

from notices import board
from notices import corrections
from notices import expiry
from notices import search
from notices import services
from notices import wording
from notices.extensions import db
from notices.models import AuditEntry
from notices.models import Notice

DAY = date(2026, 11, 20)
# The day the correction is made: the call opened on DAY and runs to DAY + 30.
LATER = date(2026, 11, 27)


def fetch(ref):
    return db.session.scalar(db.select(Notice).where(Notice.ref == ref))


def form_of(notice, **changes):
    """Return the form data of ``notice``'s current fields, with ``changes``."""
    data = corrections.form_data(notice)
    form = notice.kind_def.form(formdata=None, data=data, meta={"csrf": False})
    posted = MultiDict()
    for name in notice.kind_def.form_fields:
        field = form[name]
        if field.type == "ItemList":
            for i, entry in enumerate(field):
                for sub in entry.form:
                    posted.add(f"items-{i}-{sub.short_name}", sub._value() if sub.type != "SelectField" else sub.data)
        elif field.type == "MultiCheckboxField":
            for value in field.data:
                posted.add(name, value)
        else:
            posted.add(name, field._value())
    if notice.kind_def.submitter_sets_window:
        posted["window_end"] = notice.window_end.isoformat()
    for name, value in changes.items():
        posted.setlist(name, value if isinstance(value, list) else [value])
    return posted


def correct(app, editor, ref, now, **changes):
    """Publish an editor's correction of ``ref`` at ``now``; return the correction's ref."""
    with app.app_context():
        original = fetch(ref)
        draft = corrections.draft(original, form_of(original, **changes), expiry.board_today(now))
        correction = corrections.publish(original, draft, db.session.merge(editor), now=now)
        return correction.ref


def refusal(app, ref, today, **changes):
    """Return the errors a correction of ``ref`` with ``changes`` is refused with."""
    with app.app_context():
        original = fetch(ref)
        with pytest.raises(services.NoticeError) as refused:
            corrections.draft(original, form_of(original, **changes), today)
        return refused.value.errors


# --- Wording ------------------------------------------------------------------------------


def test_the_correction_reads_as_the_newspaper_prints_one():
    text = wording.correction_text(
        "西藏开发投资集团有限公司 非招标采购供应商入库征集公告", "GY-20261120-7K3QX", DAY,
        [("征集截止日期", "2026年12月20日", "2027年1月10日"), ("联系人", "敬女士", "王先生")],
        "西藏开发投资集团有限公司", LATER,
    )
    assert text.lines() == [
        "更正启事",
        "本网于2026年11月20日发布的《西藏开发投资集团有限公司 非招标采购供应商入库征集公告》"
        "(编号:GY-20261120-7K3QX)有误,现更正如下:",
        "1.征集截止日期原为“2026年12月20日”,现更正为“2027年1月10日”。",
        "2.联系人原为“敬女士”,现更正为“王先生”。",
        "其他内容不变。特此更正。",
        "西藏开发投资集团有限公司",
        "2026年11月27日",
    ]
    single = wording.correction_text("甲", "GY-1", DAY, [("联系人", "甲", "乙")], "甲", LATER)
    assert single.blocks[1].text == "联系人原为“甲”,现更正为“乙”。"


# --- A call's dates -----------------------------------------------------------------------


def test_an_editor_moves_a_calls_end_and_everything_follows(app, editor, make_notice):
    """The correction carries the corrected window; the original keeps its printed text and
    leaves listings, search and the index; both notices' trails say who changed what."""
    original = make_notice("supplier_call", day=DAY)
    new_end = date(2027, 1, 10)
    with app.app_context():
        printed = board.show(fetch(original.ref), LATER).text.plain()
        generation = board.generation()
    ref = correct(app, editor, original.ref, at(LATER, 10), window_end=new_end.isoformat())
    with app.app_context():
        old, new = fetch(original.ref), fetch(ref)
        assert new.corrects_id == old.id and old.correction.ref == ref
        assert (new.window_start, new.window_end) == (DAY, new_end)
        assert (old.window_start, old.window_end) == (DAY, DAY + timedelta(days=30))
        assert board.show(old, LATER).text.plain() == printed
        assert "征集时间\n2026年11月20日—2027年1月10日" in board.show(new, LATER).text.plain().replace(
            "二、", "").replace("一、", "")
        assert board.show(new, LATER).title.endswith("(更正)")
        assert board.generation() != generation
        # Listings: the correction, never the original beside it.
        for status in ("active", "all"):
            listed = [n.ref for n in db.session.scalars(board.listing(status, LATER))]
            assert listed == [ref]
        # Search and the index agree with the database.
        search.drain()
        found = search.search("西藏开发投资集团", today=LATER, status="all")
        assert [h.ref for h in found.hits] == [ref]
        assert search.check(board.public_state()) == []
        assert set(search.indexed()) == {ref}
        trail = {(e.notice.ref, e.action, e.actor) for e in db.session.scalars(db.select(AuditEntry))}
        assert {(ref, "correction", "editor"), (original.ref, "corrected", "editor")} <= trail
        corrected = next(e for e in old.events if e.action == "corrected")
        assert corrected.reason == f"由 {ref} 更正:征集截止日期:2026年12月20日→2027年1月10日"


def test_a_new_start_moves_the_end_by_the_window(app, editor, make_notice):
    original = make_notice("expert_call", day=DAY)
    ref = correct(app, editor, original.ref, at(LATER), window_start="2026-12-01")
    with app.app_context():
        new = fetch(ref)
        assert (new.window_start, new.window_end) == (date(2026, 12, 1), date(2026, 12, 31))
        changes = [(c.label, c.old, c.new) for c in corrections.changes_of(new)]
        assert changes == [
            ("征集开始日期", "2026年11月20日", "2026年12月1日"),
            ("征集截止日期", "2026年12月20日", "2026年12月31日"),
        ]


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"window_end": "2026-11-19"}, "window_end", "征集截止日期不能早于征集开始日期(2026年11月20日)"),
    ({"window_end": "2026-11-26"}, "window_end", "征集截止日期不能早于今天"),
    ({"window_end": "2027-02-19"}, "window_end", "征集期最长90天,征集截止日期不能晚于2027年2月18日"),
    ({"window_end": "2027-13-01"}, "window_end", "日期格式应为 年-月-日,如 2024-03-08"),
    ({"window_end": "9" * 500}, "window_end", "日期格式应为 年-月-日,如 2024-03-08"),
    ({"window_start": "2026-11-26"}, "window_start", "征集开始日期不能早于今天"),
    ({"contact_email": "zczx@"}, "contact_email", "邮箱格式不正确,如 name@example.com"),
    ({}, "changes", "没有任何修改,无需更正"),
])
def test_corrections_are_validated_with_clear_messages(app, make_notice, changes, field, message):
    original = make_notice("supplier_call", day=DAY)
    assert refusal(app, original.ref, LATER, **changes)[field] == [message]


def test_a_past_start_left_as_it_was_is_accepted(app, editor, make_notice):
    """The window already opened: correcting a phone number keeps the start, though past."""
    original = make_notice("supplier_call", day=DAY)
    ref = correct(app, editor, original.ref, at(LATER), contact_phone="0891-6321234")
    with app.app_context():
        assert (fetch(ref).window_start, fetch(ref).window_end) == (DAY, DAY + timedelta(days=30))
        assert [c.label for c in corrections.changes_of(fetch(ref))] == ["联系电话"]


def test_expiry_follows_the_correction_at_the_boards_midnight(app, editor, make_notice, runner):
    """The corrected end is the last active day in Asia/Shanghai, for both notices' pages and
    for `flask expire`, which records the original with its correction."""
    original = make_notice("supplier_call", day=DAY)
    end = date(2027, 1, 10)
    ref = correct(app, editor, original.ref, at(LATER), window_end=end.isoformat())
    last_minute = datetime(2027, 1, 10, 15, 59, tzinfo=expiry.timezone.utc)  # 23:59 in Lhasa
    next_day = last_minute + timedelta(minutes=1)
    with app.app_context():
        old, new = fetch(original.ref), fetch(ref)
        for now, state, line in [
            (last_minute, "active", "征集今天截止"),
            (next_day, "expired", "已过期(征集期已于2027年1月10日结束)"),
        ]:
            today = expiry.board_today(now)
            superseded, _ = corrections.public_view(old, today)
            assert (superseded.state, superseded.status_line) == (state, line)
            assert board.show(new, today).state == state
        # The original's own window ended on 2026-12-20; it is recorded only with its correction.
        assert services.expire_due(date(2027, 1, 10), now=last_minute) == 0
        assert fetch(original.ref).expired_at is None
    result = runner.invoke(args=["expire", "--today", "2027-01-11"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert fetch(ref).expired_at is not None and fetch(original.ref).expired_at is not None
        assert [n.ref for n in db.session.scalars(board.listing("archived", date(2027, 1, 11)))] == [ref]
        assert search.check(board.public_state()) == []


# --- Search on both engines ---------------------------------------------------------------


@pytest.mark.search_engine("whoosh")
def test_whoosh_finds_the_corrected_wording_only(app, editor, make_notice):
    _finds_the_corrected_wording_only(app, editor, make_notice)


def test_the_suites_engine_finds_the_corrected_wording_only(app, editor, make_notice):
    """PostgreSQL's own engine when the suite runs there, Whoosh on SQLite."""
    _finds_the_corrected_wording_only(app, editor, make_notice)


def _finds_the_corrected_wording_only(app, editor, make_notice):
    original = make_notice("wage_clearance", day=DAY)
    ref = correct(app, editor, original.ref, at(LATER), project_name="拉萨市曲水县雪堆白文化园建设项目")
    with app.app_context():
        search.drain()
        assert [h.ref for h in search.search("雪堆白", today=LATER).hits] == [ref]
        assert search.search("卡如温泉", today=LATER, status="all").hits == []
        assert search.check(board.public_state()) == []
        search.reindex(board.public_notices())
        assert set(search.indexed()) == {ref}
        assert search.check(board.public_state()) == []


# --- Loss declarations --------------------------------------------------------------------


def test_the_lost_document_lookup_follows_the_corrected_items(app, editor, make_notice):
    original = make_notice("loss_declaration", day=DAY)
    ref = correct(app, editor, original.ref, at(LATER), **{"items-0-document_number": "T540059775"})
    with app.app_context():
        assert board.lost_documents("T540059774", LATER) == []
        assert [d.notice.ref for d in board.lost_documents("T540059775", LATER)] == [ref]
        (change,) = corrections.changes_of(fetch(ref))
        assert change.label == "遗失的证件"
        assert change.old == "巴登曲加的出生医学证明(编号:T540059774)"
        assert change.new == "巴登曲加的出生医学证明(编号:T540059775)"


def test_id_numbers_are_masked_in_the_changes(app, editor, make_notice, client):
    item = {"owner_name": "", "document_type": "id_card", "document_number": "540102199001011233"}
    original = make_notice("loss_declaration", day=DAY, items=[item])
    ref = correct(app, editor, original.ref, at(LATER), **{"items-0-document_number": "540102199001011241"})
    for address in (f"/notices/{original.ref}", f"/notices/{ref}", f"/api/v1/notices/{ref}"):
        page = client.get(address).get_data(as_text=True)
        assert "540102199001011233" not in page and "540102199001011241" not in page
        assert "5401*************1" in page


# --- Pages --------------------------------------------------------------------------------


@pytest.fixture
def today():
    return expiry.board_today(expiry.utcnow())


def test_an_editor_corrects_through_form_preview_and_confirm(app, client, editor, make_notice, today):
    original = make_notice("supplier_call", day=today)
    login(client)
    form = client.get(f"/editor/notices/{original.ref}/correct").get_data(as_text=True)
    assert 'value="敬女士"' in form and f'value="{(today + timedelta(days=30)).isoformat()}"' in form
    with app.app_context():
        data = form_of(fetch(original.ref), contact_name="王先生")
    preview = client.post(f"/editor/notices/{original.ref}/correct", data=data)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "确认发布更正" in page and "更正启事" in page
    assert "联系人原为“敬女士”,现更正为“王先生”。" in page
    with app.app_context():
        assert fetch(original.ref).correction is None  # a preview stores nothing
    done = client.post(f"/editor/notices/{original.ref}/correct", data={**data.to_dict(flat=False), "confirm": "1"})
    assert done.status_code == 302
    with app.app_context():
        ref = fetch(original.ref).correction.ref
    assert done.headers["Location"].endswith(f"/editor/notices/{ref}")
    review = client.get(f"/editor/notices/{ref}").get_data(as_text=True)
    assert "发布更正" in review and "联系人:敬女士→王先生" in review


def test_a_bad_correction_shows_the_form_again_with_its_message(app, client, editor, make_notice, today):
    original = make_notice("supplier_call", day=today)
    login(client)
    with app.app_context():
        data = form_of(fetch(original.ref), window_end=(today - timedelta(days=1)).isoformat())
    response = client.post(f"/editor/notices/{original.ref}/correct", data={**data.to_dict(flat=False), "confirm": "1"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "征集截止日期不能早于" in page and 'aria-invalid="true"' in page
    with app.app_context():
        assert fetch(original.ref).correction is None


def test_the_public_pages_link_both_ways_and_change_at_once(app, client, editor, make_notice, today):
    original = make_notice("supplier_call", day=today)
    before = client.get(f"/notices/{original.ref}").get_data(as_text=True)
    assert "更正" not in before
    end = today + timedelta(days=45)
    ref = correct(app, editor, original.ref, expiry.utcnow(), window_end=end.isoformat())
    page = client.get(f"/notices/{original.ref}").get_data(as_text=True)
    assert f"本公告已于{wording.cn_date(today)}更正" in page
    assert f'href="/notices/{ref}"' in page
    assert wording.cn_date(today + timedelta(days=30)) in page and wording.cn_date(end) in page
    assert "按更正后的公告:征集截止还有 45 天" in page
    corrected = client.get(f"/notices/{ref}").get_data(as_text=True)
    assert f"(编号:{original.ref})有误,现更正如下:" in corrected
    assert f'href="/notices/{original.ref}"' in corrected
    assert "更正后的公告全文" in corrected and "其他内容不变。特此更正。" in corrected
    front = client.get("/").get_data(as_text=True)
    assert ref in front and original.ref not in front
    feed = client.get("/feeds/notices.atom").get_data(as_text=True)
    assert ref in feed and original.ref not in feed
    old = client.get(f"/api/v1/notices/{original.ref}").get_json()
    new = client.get(f"/api/v1/notices/{ref}").get_json()
    assert (old["corrected_by"], old["corrects"], old["status"]) == (ref, None, "active")
    assert (new["corrects"], new["corrected_by"]) == (original.ref, None)
    assert new["window_end"] == end.isoformat()
    listed = client.get("/api/v1/notices?status=all").get_json()
    assert [n["ref"] for n in listed["items"]] == [ref]


def test_only_editors_publish_corrections(app, client, make_notice, today):
    original = make_notice("supplier_call", day=today)
    with app.app_context():
        data = form_of(fetch(original.ref), contact_name="王先生")
    response = client.post(f"/editor/notices/{original.ref}/correct", data={**data.to_dict(flat=False), "confirm": "1"})
    assert response.status_code == 302 and "/editor/login" in response.headers["Location"]
    with app.app_context():
        assert fetch(original.ref).corrections == []


def test_a_corrected_notice_is_corrected_through_its_correction(app, client, editor, make_notice, today):
    original = make_notice("supplier_call", day=today)
    ref = correct(app, editor, original.ref, expiry.utcnow(), contact_name="王先生")
    login(client)
    response = client.get(f"/editor/notices/{original.ref}/correct", follow_redirects=True)
    assert f"本公告已由 {ref} 更正,如需再次更正,请更正 {ref}" in response.get_data(as_text=True)
    second = correct(app, editor, ref, expiry.utcnow(), contact_name="李先生")
    page = client.get(f"/notices/{original.ref}").get_data(as_text=True)
    assert "按更正后的公告:征集截止还有 30 天" in page
    with app.app_context():
        assert corrections.latest(fetch(original.ref)).ref == second
        assert [n.ref for n in db.session.scalars(board.listing("all", today))] == [second]


# --- A submitter's request ----------------------------------------------------------------


def test_a_submitter_requests_and_an_editor_approves(app, client, editor, make_notice, today):
    original = make_notice("supplier_call", day=today)
    track = client.get(f"/track/{original.token}").get_data(as_text=True)
    assert f'/track/{original.token}/correct' in track
    form = client.get(f"/track/{original.token}/correct")
    assert form.status_code == 200 and form.headers["Cache-Control"] == "no-store"
    with app.app_context():
        data = form_of(fetch(original.ref), window_end=(today + timedelta(days=40)).isoformat())
    preview = client.post(f"/track/{original.token}/correct", data=data).get_data(as_text=True)
    assert "确认提交更正申请" in preview and "征集截止日期原为" in preview
    sent = client.post(f"/track/{original.token}/correct/confirm", data=data)
    assert sent.status_code == 302
    new_track = sent.headers["Location"]
    assert new_track.startswith("/track/") and original.token not in new_track
    with app.app_context():
        request_ = fetch(original.ref).corrections[0]
        ref = request_.ref
        assert request_.status == "submitted" and request_.corrects_id == fetch(original.ref).id
    assert "这是对编号" in client.get(new_track).get_data(as_text=True)
    # A second request waits for the first.
    again = client.post(f"/track/{original.token}/correct/confirm", data=data, follow_redirects=True)
    assert f"已有一份更正申请(编号 {ref})在等待审核" in again.get_data(as_text=True)
    # The public sees nothing of it until it is approved.
    assert ref not in client.get("/").get_data(as_text=True)
    assert client.get(f"/notices/{ref}").status_code == 404
    login(client)
    review = client.get(f"/editor/notices/{ref}").get_data(as_text=True)
    assert "更正申请" in review and "征集截止日期" in review and "现更正为" in review
    assert ref in client.get("/editor/").get_data(as_text=True)
    client.post(f"/editor/notices/{ref}/approve", data={"confirm": "1"})
    with app.app_context():
        old, new = fetch(original.ref), fetch(ref)
        assert new.status == "published" and old.correction.ref == ref
        assert new.window_end == today + timedelta(days=40)
        assert [e.action for e in old.events][-1] == "corrected"
        assert [e.action for e in new.events] == ["request", "approve"]
        search.drain()
        assert search.check(board.public_state()) == []
    page = client.get(f"/notices/{original.ref}").get_data(as_text=True)
    assert f"本公告已于{wording.cn_date(today)}更正" in page


def test_only_the_submitters_token_requests(app, client, make_notice, today):
    original = make_notice("supplier_call", day=today)
    other = make_notice("expert_call", day=today)
    with app.app_context():
        data = form_of(fetch(original.ref), contact_name="王先生")
    made_up = "bm90LWEtcmVhbC10cmFja2luZy10b2tlbg"
    assert client.get(f"/track/{made_up}/correct").status_code == 404
    assert client.post(f"/track/{made_up}/correct/confirm", data=data).status_code == 404
    # Another notice's token corrects that notice only, and its own fields are refused here.
    client.post(f"/track/{other.token}/correct/confirm", data=data)
    with app.app_context():
        assert fetch(original.ref).corrections == []


def test_a_pending_submission_cannot_be_corrected(client, make_notice, today):
    pending = make_notice("supplier_call", day=today, status="submitted")
    response = client.get(f"/track/{pending.token}/correct", follow_redirects=True)
    assert "公告当前状态为“待审核”,不能更正" in response.get_data(as_text=True)


def test_a_request_is_marked_in_the_queue_without_the_new_submissions_warnings(app, client, make_notice):
    """A loss declaration's correction repeats its documents: no 'declared before' warning."""
    original = make_notice("loss_declaration", day=DAY)
    with app.app_context():
        data = form_of(fetch(original.ref), declarant="扎西央宗")
        draft = corrections.draft(fetch(original.ref), data, LATER)
        request_, _ = corrections.request(fetch(original.ref), draft, now=at(LATER))
        ref = request_.ref
    login(client)
    queue = client.get("/editor/").get_data(as_text=True)
    assert ref in queue and "(更正申请)" in queue and "⚠" not in queue
    review = client.get(f"/editor/notices/{ref}").get_data(as_text=True)
    assert "flash-warning" not in review
    assert "声明人原为“扎西央珍”,现更正为“扎西央宗”" not in review  # the table, not the sentence
    assert "扎西央宗" in review and "现更正为" in review


def test_a_mistake_in_the_masked_part_of_an_id_number_is_a_change(app, editor, make_notice):
    """Compared unmasked: the public sees the same masked number on both sides of the change."""
    item = {"owner_name": "", "document_type": "id_card", "document_number": "540102199001011233"}
    original = make_notice("loss_declaration", day=DAY, items=[item])
    # The year of birth was wrong: 1991, not 1990.
    ref = correct(app, editor, original.ref, at(LATER), **{"items-0-document_number": "540102199101011273"})
    with app.app_context():
        (change,) = corrections.changes_of(fetch(ref))
        assert change.old == "扎西央珍的居民身份证(身份证号:5401*************3)"
        assert change.new == "扎西央珍的居民身份证(身份证号:5401*************3)"
        assert [d.notice.ref for d in board.lost_documents("540102199101011273", LATER)] == [ref]
        assert board.lost_documents("540102199001011233", LATER) == []


def test_a_corrected_notice_is_revoked_through_its_correction(app, editor, make_notice):
    original = make_notice("supplier_call", day=DAY)
    ref = correct(app, editor, original.ref, at(LATER), contact_name="王先生")
    with app.app_context():
        with pytest.raises(services.NoticeError) as refused:
            services.revoke(fetch(original.ref), db.session.merge(editor), "重复刊登", now=at(LATER, 11))
        assert refused.value.message == f"本公告已由 {ref} 更正,请撤销更正后的公告 {ref}"
        services.revoke(fetch(ref), db.session.merge(editor), "项目取消", now=at(LATER, 11))
        superseded, _ = corrections.public_view(fetch(original.ref), LATER)
        assert (superseded.state, superseded.status_line) == ("revoked", "已撤销:项目取消")
        search.drain()
        assert search.check(board.public_state()) == []
