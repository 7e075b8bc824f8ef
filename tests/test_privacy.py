"""The privacy notice, the consent to publish and the submitter's download of their data."""
import json
import os
import pathlib
import re
import shutil
import subprocess
import time
from datetime import date
from datetime import timedelta

import pytest
from conftest import at
from conftest import seed_data
from werkzeug.datastructures import MultiDict

from notices import expiry
from notices import kinds
from notices import privacy
from notices import seeds
from notices import services
from notices.accounts import create_user
from notices.extensions import db
from notices.forms import CONSENT_MESSAGE
from notices.models import Notice


def text(response):
    return response.get_data(as_text=True)


def body(code, **changes):
    """Return a valid submission of ``code`` as the API takes it, consent included."""
    data = seed_data(code)
    if kinds.get(code).submitter_sets_window:
        data["window_start"] = expiry.board_today(expiry.utcnow()).isoformat()
    data.update(changes)
    return data


def posted(code, **changes):
    """Return a valid submission of ``code`` as the HTML form posts it."""
    return MultiDict(services.flatten(body(code, **changes)))


def count_notices(app):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(Notice))


# --- The privacy notice ------------------------------------------------------------------


def test_the_notice_states_the_configured_periods_contact_and_version(app, client):
    app.config.update(
        RETAIN_CONTACTS_DAYS=400, RETAIN_UNPUBLISHED_DAYS=45, RETAIN_MAIL_DAYS=61,
        ALERT_CONFIRM_DAYS=5, PRIVACY_CONTACT="dpo@example.cn",
    )
    response = client.get("/privacy")
    assert response.status_code == 200
    page = text(response)
    assert "<title>个人信息保护说明" in page
    assert "公示期结束后400天" in page
    assert "审核结束或撤回后45天" in page
    assert ">61天<" in page
    assert "5天内未确认的订阅" in page
    assert f"访问记录保存{privacy.LOG_RETENTION_DAYS}天" in page
    assert f"{privacy.BACKUP_RETENTION_DAYS}天:删除前做的备份" in page
    assert 'href="mailto:dpo@example.cn"' in page
    assert f"版本 {privacy.PRIVACY_VERSION}" in page
    # Every form's section, and what each type publishes.
    for section in ("submissions", "publication", "alerts", "objections", "logs", "retention",
                    "rights", "contact"):
        assert f'<section id="{section}">' in page
    for code, kind in kinds.KINDS.items():
        assert kind.name in page and privacy.PUBLISHED[code] in page


def test_the_defaults_and_a_contact_at_the_boards_own_host(client):
    page = text(client.get("/privacy"))
    assert "公示期结束后365天" in page and "审核结束或撤回后90天" in page
    assert 'href="mailto:privacy@notices.example.cn"' in page


def test_every_form_and_the_footer_link_the_notice(app, client, make_notice):
    pages = ["/", "/archive", "/submit", "/alerts/new?type=wage_clearance", "/alerts/watch",
             "/search?q=%E5%B7%A5%E8%B5%84"]
    pages += [f"/submit/{code}" for code in kinds.KINDS]
    for url in pages:
        page = text(client.get(url))
        footer = page[page.index('<footer class="footer">'):]
        assert 'href="/privacy"' in footer, url
    for code in kinds.KINDS:
        form = text(client.get(f"/submit/{code}"))
        form = form[form.index('<form method="post"'):form.index("</form>")]
        assert 'href="/privacy' in form, code
    for url in ("/alerts/new?type=wage_clearance", "/alerts/watch", "/search?q=%E5%B7%A5%E8%B5%84"):
        page = text(client.get(url))
        assert 'href="/privacy#alerts"' in page[:page.index('<footer')], url


# --- Consent to publish --------------------------------------------------------------------


@pytest.mark.parametrize("code", list(kinds.KINDS))
def test_each_form_asks_a_separate_unticked_consent_naming_what_is_published(client, code):
    page = text(client.get(f"/submit/{code}"))
    box = re.search(r'<input type="checkbox" id="consent_publication"[^>]*>', page).group(0)
    assert 'name="consent_publication"' in box and "checked" not in box
    assert privacy.PUBLISHED[code] in page
    assert '<label for="consent_publication">我同意公开刊登上述内容' in page


@pytest.mark.parametrize("code", list(kinds.KINDS))
def test_a_form_without_consent_is_refused_with_its_error_and_nothing_is_stored(app, client, code):
    data = posted(code)
    del data["consent_publication"]
    preview = client.post(f"/submit/{code}", data=data)
    assert preview.status_code == 422
    page = text(preview)
    assert f'<a href="#consent_publication">{CONSENT_MESSAGE}</a>' in page
    assert f'<p class="field-error" id="consent_publication-error">{CONSENT_MESSAGE}</p>' in page
    assert 'aria-invalid="true"' in page
    # Straight to the confirmation (a forged or replayed preview): refused as well.
    confirm = client.post(f"/submit/{code}/confirm", data=data)
    assert confirm.status_code == 422 and CONSENT_MESSAGE in text(confirm)
    assert count_notices(app) == 0


@pytest.mark.parametrize("value", ["on", "true", "Y", "y" * 10_000, ""])
def test_a_form_posting_anything_but_the_boxs_own_value_has_not_consented(app, client, value):
    data = posted("wage_clearance")
    data["consent_publication"] = value
    response = client.post("/submit/wage_clearance", data=data)
    assert response.status_code == 422 and CONSENT_MESSAGE in text(response)
    assert "y" * 10_000 not in text(response)


def test_the_consent_given_on_the_form_is_carried_to_the_confirmation_and_recorded(app, client):
    preview = client.post("/submit/wage_clearance", data=posted("wage_clearance"))
    assert preview.status_code == 200
    assert '<input type="hidden" name="consent_publication" value="y">' in text(preview)
    key = re.search(r'name="submission_key" value="([^"]+)"', text(preview)).group(1)
    before = expiry.utcnow()
    confirm = client.post("/submit/wage_clearance/confirm",
                          data=MultiDict([*posted("wage_clearance").items(multi=True), ("submission_key", key)]))
    assert confirm.status_code == 302
    with app.app_context():
        notice = db.session.scalar(db.select(Notice))
        assert notice.consent_version == privacy.PRIVACY_VERSION
        assert notice.consent_at == notice.submitted_at and notice.consent_at >= before


@pytest.mark.parametrize("value", [None, False, "true", "y", 1, "on", [True], {"yes": True}])
def test_the_api_refuses_anything_but_true_and_stores_nothing(app, client, value):
    data = {"type": "loss_declaration", **body("loss_declaration")}
    if value is None:
        del data["consent_publication"]
    else:
        data["consent_publication"] = value
    response = client.post("/api/v1/submissions", json=data)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"consent_publication": [CONSENT_MESSAGE]}
    assert count_notices(app) == 0


def test_the_api_refuses_consent_beside_the_other_fields_errors(client):
    data = {"type": "wage_clearance", **body("wage_clearance", contact_phone="12")}
    del data["consent_publication"]
    errors = client.post("/api/v1/submissions", json=data).get_json()["errors"]
    assert set(errors) == {"contact_phone", "consent_publication"}


def test_the_api_records_the_consent_with_the_version(app, client):
    response = client.post("/api/v1/submissions", json={"type": "expert_call", **body("expert_call")})
    assert response.status_code == 201
    with app.app_context():
        notice = db.session.scalar(db.select(Notice).where(Notice.ref == response.get_json()["ref"]))
        assert notice.consent_at == notice.submitted_at
        assert notice.consent_version == privacy.PRIVACY_VERSION


def test_seed_notices_record_no_consent(app):
    with app.app_context():
        user = create_user("seeder", "a-long-password-123", role="editor")
        seeds.load(user, now=expiry.utcnow())
        notices = db.session.scalars(db.select(Notice)).all()
        assert notices and all(n.consent_at is None and n.consent_version is None for n in notices)


def test_imported_notices_record_no_consent_even_if_the_line_says_true(app, runner, tmp_path):
    line = {"type": "wage_clearance", **seed_data("wage_clearance"),
            "published_at": "2024-03-08T09:00:00+08:00"}
    path = tmp_path / "archive.jsonl"
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    result = runner.invoke(args=["import-notices", str(path)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        notice = db.session.scalar(db.select(Notice))
        assert notice.status == "published" and notice.consent_at is None


# --- The submitter's download -----------------------------------------------------------------


def test_the_download_holds_everything_and_when_each_part_goes(app, client, make_notice):
    items = [
        {"owner_name": "巴登曲加", "document_type": "id_card", "document_number": "54010219850312003X"},
        {"owner_name": "", "document_type": "police_id", "document_number": "397403"},
    ]
    notice = make_notice("loss_declaration", status="rejected", day=date(2024, 3, 8), items=items,
                         submitter_email="tashi@example.cn", submitter_phone="13618901234")
    track = text(client.get(f"/track/{notice.token}"))
    assert f'href="/track/{notice.token}/export"' in track
    assert "2024年6月7日删除" in track  # 2024-03-08 + 90 days kept, removed the day after

    response = client.get(f"/track/{notice.token}/export")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{notice.ref}.json"'
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Robots-Tag"] == "noindex"
    data = json.loads(text(response))
    assert data["ref"] == notice.ref and data["status"] == "rejected" and data["reason"] == "材料不全"
    assert data["submitter"] == {
        "submitter_name": "扎西央珍", "submitter_phone": "13618901234",
        "submitter_email": "tashi@example.cn",
    }
    # After the decision the board holds a full ID number no longer: the download shows what
    # it holds, the masked form, and says so.
    assert [i["document_number"] for i in data["fields"]["items"]] == ["5401*************X", "397403"]
    assert "完整的证件号码只保存到审核结束" in data["retention"]["document_numbers"]["rule"]
    assert data["fields"]["declarant"] == "扎西央珍"
    assert data["consent_publication"]["privacy_version"] == privacy.PRIVACY_VERSION
    assert data["consent_publication"]["given_at"] == "2024-03-08T08:00:00+08:00"
    assert [(e["action"], e["at"]) for e in data["history"]] == [
        ("submit", "2024-03-08T08:00:00+08:00"), ("reject", "2024-03-08T10:00:00+08:00"),
    ]
    assert data["history"][1]["by"] == "编辑" and data["history"][1]["reason"] == "材料不全"
    # The receipt and the rejection, waiting in the outbox (no mail worker ran).
    assert [(m["kind"], m["outcome"], m["to"]) for m in data["mails"]] == [
        ("receipt", "waiting", "tashi@example.cn"), ("reject", "waiting", "tashi@example.cn"),
    ]
    assert data["retention"]["contacts"]["removed_on"] == "2024-06-07"
    assert data["retention"]["content"]["removed_on"] == "2024-06-07"
    assert data["privacy_notice"]["url"] == "https://notices.example.cn/privacy"


def test_the_download_of_a_published_notice_keeps_its_content_for_good(app, client, make_notice):
    notice = make_notice("wage_clearance", day=date(2024, 3, 8))
    data = json.loads(text(client.get(f"/track/{notice.token}/export")))
    # The window ends 2024-04-07; contacts are kept 365 days after it.
    assert data["window_end"] == "2024-04-07"
    assert data["retention"]["contacts"]["removed_on"] == str(date(2024, 4, 7) + timedelta(days=366))
    assert data["retention"]["content"]["removed_on"] is None
    assert [e["action"] for e in data["history"]] == ["submit", "approve"]
    assert data["mails"] == []


def test_the_download_is_there_only_with_the_token(client, make_notice):
    make_notice("wage_clearance", status="submitted")
    assert client.get("/track/not-a-token/export").status_code == 404
    assert client.get("/track//export").status_code == 404


def test_the_mail_log_is_in_the_download(app, client, make_notice):
    from notices.mail.worker import send_due

    notice = make_notice("wage_clearance", status="submitted", submitter_email="tashi@example.cn")
    with app.app_context():
        sent = send_due(clock=lambda: at(date(2024, 3, 8), 8, 5))
        assert sent
    data = json.loads(text(client.get(f"/track/{notice.token}/export")))
    [mail] = data["mails"]
    assert mail["kind"] == "receipt" and mail["outcome"] == "sent" and "to" not in mail
    assert mail["removed_on"] == "2024-06-07"


# --- Access logs ------------------------------------------------------------------------------

LOGROTATE = shutil.which("logrotate") or "/usr/sbin/logrotate"
SHIPPED = pathlib.Path(__file__).resolve().parent.parent / "deploy" / "logrotate.conf"


def test_the_shipped_rotation_keeps_what_the_notice_states():
    conf = SHIPPED.read_text()
    assert f"rotate {privacy.LOG_RETENTION_DAYS}\n" in conf
    assert f"maxage {privacy.LOG_RETENTION_DAYS}\n" in conf
    assert "copytruncate" not in conf.split("#")[0]


@pytest.mark.skipif(not os.path.exists(LOGROTATE), reason="logrotate is installed by make system")
def test_logrotate_rotates_the_access_log_of_a_running_multi_worker_gunicorn(tmp_path):
    """The shipped configuration, pointed at a live board: every worker moves to the new
    file after the rotation, and the rotated file keeps what came before."""
    from live import Client
    from live import LiveBoard

    pidfile = tmp_path / "gunicorn.pid"
    with LiveBoard(tmp_path / "board", workers=3, env={"PIDFILE": str(pidfile)}) as board:
        client = Client(board.base_url)
        for n in range(12):
            assert client.get(f"/privacy?before={n}").status == 200
        conf = SHIPPED.read_text().replace(
            "/var/log/notices/access.log /var/log/notices/error.log",
            f"{board.access_log} {board.error_log}",
        ).replace("/run/notices/gunicorn.pid", str(pidfile)).replace("create 0640 root adm", "create")
        (tmp_path / "logrotate.conf").write_text(conf)
        done = subprocess.run(
            [LOGROTATE, "-s", str(tmp_path / "state"), "-f", str(tmp_path / "logrotate.conf")],
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 0, done.stderr
        rotated = board.access_log.with_name("access.log.1")
        # Each worker reopens when the master passes the signal on; until then its lines
        # still go to the rotated file (which is why it stays uncompressed a day). Ask until
        # the last 20 answers in a row are all in the new file.
        deadline, n, streak = time.monotonic() + 30, 0, 0
        while streak < 20 and time.monotonic() < deadline:
            assert client.get(f"/privacy?after={n}").status == 200
            streak = streak + 1 if f"after={n} " in board.access_log.read_text() else 0
            n += 1
        before, after = rotated.read_text(), board.access_log.read_text()
    assert streak == 20, f"workers still writing to the rotated file after {n} requests"
    assert all(f"before={i} " in before for i in range(12))
    assert "before=" not in after
    # Nothing lost and nothing twice across the two files.
    both = before + after
    assert all(both.count(f"after={i} ") == 1 for i in range(n))
