import copy
import functools
import json
import re
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from conftest import at
from conftest import seed_data

from notices import expiry
from notices import imports
from notices import kinds
from notices import search
from notices import seeds
from notices import services
from notices.extensions import db
from notices.models import IndexOutbox
from notices.models import Notice
from notices.services import NoticeError

REFUSED = re.compile(r"^line (\d+): refused (.*)$", re.MULTILINE)


def printed_lines():
    """Return every seed notice as an import line, published on the day it was printed."""
    lines = []
    for seed in seeds.SEEDS:
        # A deep copy: a test changing a loss item must not change the seed for the next test.
        data = copy.deepcopy(seed.data)
        line = {"type": seed.kind, **data, "published_at": at(seed.printed, 8).isoformat()}
        if kinds.get(seed.kind).submitter_sets_window:
            line["window_start"] = seed.printed.isoformat()
        lines.append(line)
    return lines


def loss_line(number, day=date(2025, 5, 4), **extra):
    """Return a loss declaration of a police ID numbered ``number``, published on ``day``."""
    data = seed_data("loss_declaration", 2)
    data["items"][0]["document_number"] = f"{number:06d}"
    return {"type": "loss_declaration", **data, "published_at": at(day, 8).isoformat(), **extra}


def write(tmp_path, lines, name="notices.jsonl"):
    path = tmp_path / name
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n"
                for line in lines),
        encoding="utf-8",
    )
    return str(path)


def run(runner, tmp_path, lines, name="notices.jsonl"):
    return runner.invoke(args=["import-notices", write(tmp_path, lines, name)])


def counts(result):
    match = re.search(r"Loaded (\d+), skipped (\d+) \(already on the board\), refused (\d+)\.", result.output)
    assert match, result.output
    return tuple(int(n) for n in match.groups())


def refusals(result):
    return {int(number): json.loads(errors) for number, errors in REFUSED.findall(result.output)}


def stored(app):
    with app.app_context():
        notices = db.session.scalars(db.select(Notice).order_by(Notice.id)).all()
        for notice in notices:
            notice.items, notice.events  # loaded before the session ends
        db.session.expunge_all()
        return notices


def by_kind(app):
    return {notice.kind: notice for notice in stored(app)}


def test_every_type_is_loaded_as_printed(app, runner, tmp_path, client):
    result = run(runner, tmp_path, printed_lines())
    assert result.exit_code == 0, result.output
    assert counts(result) == (9, 0, 0)
    loaded = by_kind(app)
    call = loaded["supplier_call"]
    assert call.status == "published"
    assert call.published_at == at(date(2024, 3, 8), 8)
    assert (call.published_on, call.window_start, call.window_end) == (
        date(2024, 3, 8), date(2024, 3, 8), date(2024, 4, 7))
    wage = loaded["wage_clearance"]
    assert (wage.window_start, wage.window_end) == (date(2026, 7, 10), date(2026, 8, 9))
    # The wording is dated from the printed day, as the newspaper's was.
    text = client.get(f"/api/v1/notices/{wage.ref}").get_json()["text"]
    assert text.splitlines()[-1] == "2026年7月10日"
    for notice in stored(app):
        assert [(e.action, e.actor, e.created_at) for e in notice.events] == [
            ("import", "导入", notice.published_at)]
    # Long over: in the archive, none on the front page.
    assert client.get("/api/v1/notices").get_json()["total"] == 0
    archived = client.get("/api/v1/notices?status=archived&per_page=50").get_json()
    assert archived["total"] == 9
    assert client.get(f"/api/v1/notices/{call.ref}").get_json()["status"] == "expired"


def test_a_call_that_started_before_today_is_imported_though_the_form_refuses_it(app, runner, tmp_path):
    line = printed_lines()[0]
    with app.app_context():
        data = {k: v for k, v in line.items() if k not in ("type", "published_at")}
        with pytest.raises(NoticeError) as refused:
            services.validate(kinds.get("supplier_call"), services.flatten(data),
                              today=expiry.board_today(expiry.utcnow()), asks_consent=False)
    assert refused.value.errors == {"window_start": ["征集开始日期不能早于今天"]}
    assert run(runner, tmp_path, [line]).exit_code == 0
    assert stored(app)[0].window_start == date(2024, 3, 8)


def test_a_call_whose_window_starts_after_publication_keeps_its_start(app, runner, tmp_path):
    line = dict(printed_lines()[1], window_start="2024-03-15")
    assert run(runner, tmp_path, [line]).exit_code == 0
    call = stored(app)[0]
    assert (call.published_on, call.window_start, call.window_end) == (
        date(2024, 3, 8), date(2024, 3, 15), date(2024, 4, 14))


def test_submitter_fields_left_out_are_recorded_as_imported(app, runner, tmp_path):
    line = printed_lines()[2]
    for name in ("submitter_name", "submitter_phone", "submitter_email"):
        line.pop(name, None)
    given = dict(loss_line(1), submitter_email="dawa@example.cn")
    assert run(runner, tmp_path, [line, given]).exit_code == 0
    wage, loss = stored(app)
    assert (wage.submitter_name, wage.submitter_phone, wage.submitter_email) == ("导入", "导入", None)
    assert (loss.submitter_name, loss.submitter_phone, loss.submitter_email) == (
        "索朗仁青", "0891-6323333", "dawa@example.cn")


def test_a_given_ref_is_kept_and_others_are_drawn_for_the_day_of_publication(app, runner, tmp_path, client):
    result = run(runner, tmp_path, [loss_line(1, ref="XZRB-2025-0001"), loss_line(2)])
    assert result.exit_code == 0, result.output
    kept, drawn = stored(app)
    assert kept.ref == "XZRB-2025-0001"
    assert re.fullmatch(r"YS-20250504-[0-9A-Z]{5}", drawn.ref)
    assert client.get("/api/v1/notices/XZRB-2025-0001").get_json()["type"] == "loss_declaration"


def test_a_revoked_notice_is_loaded_revoked_with_its_reason(app, runner, tmp_path, client, editor):
    line = loss_line(1, revoked_at=at(date(2025, 5, 6), 10).isoformat(), reason="声明人申请撤销")
    assert run(runner, tmp_path, [line]).exit_code == 0
    notice = stored(app)[0]
    assert (notice.status, notice.reason) == ("revoked", "声明人申请撤销")
    assert notice.closed_at == at(date(2025, 5, 6), 10)
    assert [(e.action, e.actor, e.reason, e.created_at) for e in notice.events] == [
        ("import", "导入", None, at(date(2025, 5, 4), 8)),
        ("revoke", "导入", "声明人申请撤销", at(date(2025, 5, 6), 10)),
    ]
    body = client.get(f"/api/v1/notices/{notice.ref}").get_json()
    assert (body["status"], body["revoked_reason"]) == ("revoked", "声明人申请撤销")
    # The audit trail reads in Chinese on the review page.
    client.post("/editor/login", data={"username": "editor", "password": "correct-horse-battery"})
    page = client.get(f"/editor/notices/{notice.ref}").get_data(as_text=True)
    assert "导入 · 导入并发布" in page and "导入 · 撤销:声明人申请撤销" in page


def test_standard_input(app, runner):
    data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in printed_lines()[:3])
    result = runner.invoke(args=["import-notices", "-"], input=data.encode())
    assert result.exit_code == 0, result.output
    assert counts(result) == (3, 0, 0)
    assert len(stored(app)) == 3


def test_a_byte_order_mark_and_blank_lines_are_no_refusals(app, runner, tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(loss_line(1)).encode() + b"\r\n\r\n  \n"
                     + json.dumps(loss_line(2)).encode())
    result = runner.invoke(args=["import-notices", str(path)])
    assert result.exit_code == 0, result.output
    assert counts(result) == (2, 0, 0)


def test_bytes_that_are_no_utf8_text_or_json_nested_too_deep_are_refused(app, runner, tmp_path):
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(json.dumps(loss_line(1)).encode() + b"\n"
                     + '{"type": "loss_declaration", "declarant": "扎西"}'.encode("gb18030") + b"\n"
                     + b"[" * 100_000 + b"\n" + json.dumps(loss_line(2)).encode() + b"\n")
    result = runner.invoke(args=["import-notices", str(path)])
    assert result.exit_code == 1
    assert counts(result) == (2, 0, 2)
    assert refusals(result) == {2: {"line": ["不是有效的 UTF-8 文本"]},
                                3: {"line": ["不是有效的 JSON(嵌套过深)"]}}


NOW = expiry.utcnow()


@pytest.mark.parametrize(
    "line, field, message",
    [
        ("{not json", "line", "不是有效的 JSON"),
        ('["a list"]', "line", "每行应为一个 JSON 对象"),
        (dict(loss_line(1), type="obituary"), "type", "type must be one of:"),
        ({k: v for k, v in loss_line(1).items() if k != "published_at"}, "published_at", "请填写发布时间"),
        (dict(loss_line(1), published_at="2025-05-04T08:00:00"), "published_at", "须注明时区"),
        (dict(loss_line(1), published_at="2025-05-04"), "published_at", "须注明时区"),
        (dict(loss_line(1), published_at="4 May 2025"), "published_at", "应为 ISO 8601"),
        (dict(loss_line(1), published_at=20250504), "published_at", "应为 ISO 8601"),
        (dict(loss_line(1), published_at=(NOW + timedelta(hours=1)).isoformat()), "published_at", "不能晚于现在"),
        (loss_line(1, revoked_at="2025-05-06T10:00:00+08:00"), "reason", "请填写理由"),
        (loss_line(1, reason="声明人申请撤销"), "revoked_at", "请同时填写撤销时间"),
        (loss_line(1, revoked_at="2025-05-03T10:00:00+08:00", reason="x"), "revoked_at", "不能早于发布时间"),
        (loss_line(1, ref="YS 2025/1"), "ref", "编号只能由字母、数字和连字符组成"),
        (loss_line(1, ref="X" * 25), "ref", "编号只能由字母、数字和连字符组成"),
    ],
)
def test_a_line_that_is_not_a_notice_is_refused_with_its_number(app, runner, tmp_path, line, field, message):
    result = run(runner, tmp_path, [loss_line(2), line, loss_line(3)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert counts(result) == (2, 0, 1)
    errors = refusals(result)
    assert list(errors) == [2]
    assert message in errors[2][field][0]
    assert sorted(n.items[0].document_number for n in stored(app)) == ["000002", "000003"]


def test_refusals_carry_the_apis_errors_and_store_nothing_of_the_line(app, runner, tmp_path, client):
    bad_number = loss_line(1)
    bad_number["items"] = [{"owner_name": "", "document_type": "police_id", "document_number": "397403"},
                           {"owner_name": "", "document_type": "id_card",
                            "document_number": "540102199001011234"}]
    # Starting after today, so the form's own rule for a start before today does not differ.
    later = (expiry.board_today(expiry.utcnow()) + timedelta(days=3)).isoformat()
    bad_call = dict(printed_lines()[0], contact_email="not-an-address", scopes=["works", "ships"],
                    window_start=later)
    lines = [loss_line(2), bad_number, bad_call, loss_line(3)]
    result = run(runner, tmp_path, lines)
    assert result.exit_code == 1
    assert counts(result) == (2, 0, 2)
    errors = refusals(result)
    assert list(errors) == [2, 3]
    for number in (2, 3):
        body = {k: v for k, v in lines[number - 1].items() if k != "published_at"}
        # The API also asks the consent to publish, which printed notices do not carry.
        body["consent_publication"] = True
        api = client.post("/api/v1/submissions", json=body).get_json()["errors"]
        assert errors[number] == api
    assert set(errors[2]) == {"items-1-document_number"}
    # Not even the valid item of the refused declaration is stored.
    assert [n.items[0].document_number for n in stored(app)] == ["000002", "000003"]


def test_import_and_line_errors_are_reported_together(app, runner, tmp_path):
    line = dict(printed_lines()[2], contact_phone="123", published_at="yesterday", ref="a b")
    errors = refusals(run(runner, tmp_path, [line]))[1]
    assert set(errors) == {"contact_phone", "published_at", "ref"}


def test_a_line_over_the_request_limit_is_refused_unread(app, runner, tmp_path):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    line = dict(loss_line(1), declarant="扎" * 1000)
    errors = refusals(run(runner, tmp_path, [line, loss_line(2)]))
    assert errors == {1: {"line": ["一行不能超过1000字节"]}}


def test_a_rerun_skips_everything(app, runner, tmp_path):
    lines = printed_lines() + [loss_line(1, ref="XZRB-1"), loss_line(2)]
    assert counts(run(runner, tmp_path, lines)) == (11, 0, 0)
    first = [(n.ref, n.tracking_hash) for n in stored(app)]
    again = run(runner, tmp_path, lines)
    assert again.exit_code == 0
    assert counts(again) == (0, 11, 0)
    assert [(n.ref, n.tracking_hash) for n in stored(app)] == first


def test_a_file_interrupted_half_way_resumes_without_duplicates(app, runner, tmp_path):
    lines = [loss_line(n, day=date(2025, 1, 1) + timedelta(days=n)) for n in range(1, 21)]
    lines[3]["ref"] = "XZRB-4"
    assert counts(run(runner, tmp_path, lines[:10], "first-half.jsonl")) == (10, 0, 0)
    assert counts(run(runner, tmp_path, lines)) == (10, 10, 0)
    numbers = [n.items[0].document_number for n in stored(app)]
    assert sorted(numbers) == [f"{n:06d}" for n in range(1, 21)]
    assert runner.invoke(args=["check-index"]).exit_code == 0


def test_a_crash_between_batches_loses_nothing_and_the_rerun_indexes_it(app, runner, tmp_path, monkeypatch):
    lines = [loss_line(n) for n in range(1, 8)]
    monkeypatch.setattr(imports, "BATCH", 3)
    stores, batches = imports._insert_rows, []

    def crash_on_the_second_batch(rows, now):
        batches.append(rows)
        if len(batches) == 2:
            raise RuntimeError("the machine went down")
        stores(rows, now)

    monkeypatch.setattr(imports, "_insert_rows", crash_on_the_second_batch)
    crashed = run(runner, tmp_path, lines)
    assert isinstance(crashed.exception, RuntimeError)
    # The first batch is on the board with its outbox rows; the second left nothing.
    assert len(stored(app)) == 3
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(IndexOutbox.id))) == 3
    assert runner.invoke(args=["check-index"]).exit_code == 1

    monkeypatch.setattr(imports, "_insert_rows", stores)
    resumed = run(runner, tmp_path, lines)
    assert resumed.exit_code == 0, resumed.output
    assert counts(resumed) == (4, 3, 0)
    assert len(stored(app)) == 7
    assert runner.invoke(args=["check-index"]).exit_code == 0


def test_a_line_identical_to_a_notice_on_the_board_is_skipped(app, runner, tmp_path):
    line = printed_lines()[0]
    assert counts(run(runner, tmp_path, [line])) == (1, 0, 0)
    # The same notice as another export writes it: numbered requirements, spacing, the instant
    # in UTC, the submitter left out, a ref of its own. It is the notice already on the board.
    same = dict(line, issuer=" 西藏开发投资集团有限公司 ",
                requirements="\n".join(f"{i}. {r}" for i, r in enumerate(line["requirements"].split("\n"), 1)),
                published_at="2024-03-08T00:00:00+00:00", ref="XZRB-9")
    for name in ("submitter_name", "submitter_phone", "submitter_email"):
        same.pop(name)
    # Published again another day, or in other words, it is another notice.
    reprinted = dict(line, published_at=at(date(2024, 3, 9), 8).isoformat())
    changed = dict(line, participation=line["participation"] + "详见采购公告。")
    result = run(runner, tmp_path, [same, reprinted, changed, same])
    assert counts(result) == (2, 2, 0)
    assert [n.ref for n in stored(app)].count("XZRB-9") == 0


def test_a_ref_on_the_board_skips_the_line_and_says_so_when_the_content_differs(app, runner, tmp_path, make_notice):
    submitted = make_notice("loss_declaration")
    result = run(runner, tmp_path, [loss_line(1, ref=submitted.ref), loss_line(2, ref="XZRB-1"),
                                    loss_line(3, ref="XZRB-1")])
    assert result.exit_code == 0
    assert counts(result) == (1, 2, 0)
    assert f"line 1: skipped, ref {submitted.ref} is on the board with other content" in result.output
    assert "line 3: skipped, ref XZRB-1 is on the board with other content" in result.output


def test_imported_notices_are_found_by_search_and_the_lookup(app, runner, tmp_path, client):
    lines = printed_lines()
    lines[3]["items"][0]["document_number"] = "540102199001011233"
    lines[3]["items"][0]["document_type"] = "id_card"
    assert run(runner, tmp_path, lines).exit_code == 0
    assert runner.invoke(args=["check-index"]).exit_code == 0
    found = client.get("/api/v1/notices?q=星灿&status=all").get_json()
    assert [item["type"] for item in found["items"]] == ["wage_clearance"]
    declared = client.get("/api/v1/lost-documents?number=540102199001011233").get_json()["items"]
    assert [(d["declarant"], d["status"]) for d in declared] == [("扎西央珍", "expired")]
    assert client.get("/api/v1/lost-documents?number=T540059774").get_json()["items"] == []


def test_a_small_import_into_a_large_board_drains_and_a_large_one_rebuilds(app, runner, tmp_path, make_notice):
    for i in range(4):
        make_notice("loss_declaration", index=i)
    small = run(runner, tmp_path, [loss_line(1)], "small.jsonl")
    assert "Indexed 1 waiting changes." in small.output
    large = run(runner, tmp_path, [loss_line(n) for n in range(2, 8)], "large.jsonl")
    assert "Indexed 11 public notices" in large.output
    assert runner.invoke(args=["check-index"]).exit_code == 0


@pytest.mark.search_engine("whoosh")
def test_an_index_busy_elsewhere_is_a_message_and_nothing_is_imported(app, runner, tmp_path, monkeypatch):
    monkeypatch.setattr(search, "held", functools.partial(search.held, timeout=0))
    with app.app_context():
        lock = search.open_index().lock("WRITELOCK")
        assert lock.acquire()
    try:
        result = run(runner, tmp_path, [loss_line(1)])
    finally:
        lock.release()
    assert result.exit_code == 1
    assert "being written by another process; nothing was imported" in result.output
    assert stored(app) == []


def test_the_content_token_is_keyed_by_the_secret(app):
    """Nobody without SECRET_KEY can compute an imported notice's token from its public text."""
    kind = kinds.get("loss_declaration")
    items = [{"owner_name": "朗杰", "document_type": "police_id", "document_type_other": "",
              "document_number": "159015"}]
    published = datetime(2025, 5, 4, tzinfo=timezone.utc)

    def token():
        return imports.content_token(kind, {"declarant": "朗杰"}, items, published.date(), published)

    with app.app_context():
        first = token()
        assert token() == first
        app.config["SECRET_KEY"] = "another"
        assert token() != first


def test_an_import_reaches_every_workers_kept_listings(app, runner, tmp_path):
    """Workers keep their listings until the data generation changes: an import changes it."""
    from notices import create_app

    other = create_app(dict(app.config))
    listing = "/api/v1/notices?status=all"
    before = other.test_client().get(listing).get_json()["total"]
    assert run(runner, tmp_path, [loss_line(397001)]).exit_code == 0
    assert other.test_client().get(listing).get_json()["total"] == before + 1
