"""Pages for submitters: a form per type, a preview, the receipt and the private tracking page."""
import json
import secrets

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_limiter import RateLimitExceeded
from werkzeug.datastructures import MultiDict

from notices import board
from notices import corrections
from notices import errors
from notices import expiry
from notices import forms
from notices import kinds
from notices import privacy
from notices import services
from notices.extensions import db
from notices.extensions import limiter
from notices.models import Notice
from notices.privacy.export import export as export_submission
from notices.services import NoticeError
from notices.urls import private_address

bp = Blueprint("submit", __name__)

# Posted fields that steer the form rather than carry the notice.
CONTROL_FIELDS = ("csrf_token", "action", "submission_key")
# A page under /track holds the submitter's key in its address: keep it out of caches and
# search engines.
PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
# Submissions closed without being published, which their submitter may fill into a new one.
RESUBMITTABLE = ("rejected", "withdrawn")
# What someone over FLASK_PREVIEW_RATE_LIMIT is told; the limit and when to try again follow.
PREVIEW_LIMIT_MESSAGE = "预览过于频繁。为防止滥用,每个网络地址可预览的次数有限。"


def _kind_or_404(code):
    kind = kinds.get(code)
    if kind is None:
        abort(404)
    return kind


def _submit_limit():
    return current_app.config["SUBMIT_RATE_LIMIT"]


def _preview_limit():
    return current_app.config["PREVIEW_RATE_LIMIT"]


# Previews, added and removed loss rows, and the preview a refused confirmation shows again:
# each parses and validates a whole submission, and they count together.
limit_previews = limiter.shared_limit(
    _preview_limit, scope="submit-preview", error_message=PREVIEW_LIMIT_MESSAGE
)


def _notice_data():
    """Return the posted notice fields without the form's own controls."""
    return MultiDict([(k, v) for k, v in request.form.items(multi=True) if k not in CONTROL_FIELDS])


def _without_item(formdata, drop):
    """Return ``formdata`` with loss item ``drop`` removed and the rest renumbered."""
    kept, items = MultiDict(), {}
    for key, value in formdata.items(multi=True):
        parts = key.split("-", 2)
        row = forms.row_number(parts[1]) if len(parts) == 3 and parts[0] == "items" else None
        if row is not None:
            items.setdefault(row, []).append((parts[2], value))
        else:
            kept.add(key, value)
    for new, old in enumerate(i for i in sorted(items) if i != drop):
        for name, value in items[old]:
            kept.add(f"items-{new}-{name}", value)
    return kept


def _posted_key():
    """Return the preview's one-time submission key as posted, if it is one a preview made."""
    key = request.form.get("submission_key", "")
    return key if 0 < len(key) <= 64 else None


def _render_form(kind, form, status=200, **context):
    order = [*kind.form_fields, *forms.SUBMITTER_FIELDS]
    return render_template(
        "submit/form.html", kind=kind, form=form, problems=forms.problems(form, order), **context
    ), status


def _window(kind, form, today):
    """Return the window a preview shows: the chosen start, or publication assumed today."""
    start = form.window_start.data if kind.submitter_sets_window else today
    return start, expiry.window_end(start, current_app.config["NOTICE_WINDOW_DAYS"])


@bp.get("/submit")
def choose():
    """Let the submitter pick the type of notice."""
    return render_template("submit/choose.html")


@bp.get("/submit/<code>")
def new(code):
    """Show an empty form for one type, its window starting today."""
    kind = _kind_or_404(code)
    form = kind.form(formdata=None, meta={"csrf": False})
    if kind.submitter_sets_window:
        form.window_start.data = expiry.board_today(expiry.utcnow())
    return _render_form(kind, form)


@bp.post("/submit/<code>")
@limit_previews
def preview(code):
    """Add or remove a document row, or validate the form and show the notice as it will read."""
    kind = _kind_or_404(code)
    action = request.form.get("action", "preview")
    data = _notice_data()
    drop = forms.row_number(action[7:]) if action.startswith("remove-") else None
    if drop is not None:
        data = _without_item(data, drop)
    if action != "preview":
        form = kind.form(formdata=data, meta={"csrf": False})
        if action == "add" and hasattr(form, "items") and len(form.items) < form.items.max_entries:
            form.items.append_entry()
        return _render_form(kind, form)
    return _previewed(kind, data)


def _previewed(kind, data, key=None, limited=None):
    """Show the notice ``data`` will publish, ready to confirm, or the form with its errors.

    ``limited`` is the Refusal of a confirmation a rate limit turned away, said above it.
    """
    today = expiry.board_today(expiry.utcnow())
    try:
        form = services.validate(kind, data, today)
    except NoticeError as refused:
        return _render_form(kind, refused.form, 422, limited=limited)
    start, end = _window(kind, form, today)
    return _preview_page(kind, data, kind.preview(form, start, end), key, limited), 200


def _preview_page(kind, data, text, key=None, limited=None):
    """Render the preview of ``data``: its wording ``text`` (if any) and the form confirming it."""
    return render_template(
        "submit/preview.html",
        kind=kind,
        text=text,
        hidden=data.items(multi=True),
        # One key per preview: confirming it twice stores the notice once (services.submit).
        submission_key=key or secrets.token_urlsafe(24),
        submitter_sets_window=kind.submitter_sets_window,
        limited=limited,
    )


@limit_previews
def _preview_again(kind, data, key, limited):
    """Show again the preview a refused confirmation came from; it counts as a preview."""
    return _previewed(kind, data, key, limited)


@bp.errorhandler(RateLimitExceeded)
def refused_by_limit(error):
    """Keep everything typed when a limit refuses a preview or a confirmation.

    A refused confirmation shows its preview again, with the same key, so confirming later
    stores the notice once; a refused preview shows the form as it was posted.
    """
    kind = kinds.get((request.view_args or {}).get("code", ""))
    if kind is None or request.endpoint not in ("submit.preview", "submit.confirm"):
        return errors.handle_rate_limit(error)
    # Read first: showing the preview counts against a limit too, and the limiter then
    # remembers that one instead.
    limited = errors.refusal(error)
    data = _notice_data()
    if request.endpoint == "submit.confirm":
        try:
            body, _ = _preview_again(kind, data, _posted_key(), limited)
        except RateLimitExceeded:
            # Previews are spent too: the notice's text waits, what was typed does not.
            body = _preview_page(kind, data, None, _posted_key(), limited)
    else:
        body, _ = _render_form(kind, kind.form(formdata=data, meta={"csrf": False}), limited=limited)
    return body, 429, errors.retry_header(limited)


@bp.post("/submit/<code>/confirm")
@limiter.limit(_submit_limit, error_message=services.SUBMIT_LIMIT_MESSAGE)
def confirm(code):
    """Store the previewed submission and send the submitter to its tracking page."""
    kind = _kind_or_404(code)
    try:
        notice, token = services.submit(
            kind, _notice_data(), now=expiry.utcnow(), key=request.form.get("submission_key") or None
        )
    except NoticeError as refused:
        return _render_form(kind, refused.form, 422)
    flash(f"提交成功,编号 {notice.ref}。请保存下面的查询地址:这是回到这份提交的唯一途径。", "success")
    return redirect(url_for("submit.track", token=token))


def _tracked_or_404(token):
    notice = db.session.scalar(
        db.select(Notice).where(Notice.tracking_hash == services.hash_token(token))
    )
    if notice is None:
        abort(404)
    return notice


@bp.get("/track/<token>")
def track(token):
    """Show the submitter where their notice stands, and the address that brings them back."""
    notice = _tracked_or_404(token)
    today = expiry.board_today(expiry.utcnow())
    kind = notice.kind_def
    address, qr = private_address("submit.track", token)
    response = render_template(
        "submit/track.html",
        notice=notice,
        kind=kind,
        text=board.draft_text(notice, today),
        status_line=kind.status_line(notice, today) if notice.is_public else None,
        address=address,
        qr=qr,
        resubmittable=_resubmittable(notice),
        removal=privacy.removal_dates(notice, current_app.config),
        changes=corrections.changes_of(notice) if notice.corrects_id is not None else None,
        correctable=_correction_refusal(notice) is None,
    )
    return response, 200, PRIVATE


@bp.get("/track/<token>/withdraw")
def confirm_withdraw(token):
    """Ask the submitter to confirm a withdrawal, which cannot be undone."""
    notice = _tracked_or_404(token)
    response = render_template("submit/withdraw.html", notice=notice, kind=notice.kind_def)
    return response, 200, PRIVATE


@bp.post("/track/<token>/withdraw")
def withdraw(token):
    """Let the submitter withdraw a notice that is still waiting for review."""
    notice = _tracked_or_404(token)
    try:
        services.withdraw(notice, now=expiry.utcnow())
    except NoticeError as refused:
        flash(refused.message, "error")
    else:
        flash("已撤回。该公告不会发布。", "success")
    return redirect(url_for("submit.track", token=token))


def _filled_from(kind, notice, today):
    """Return a submission's fields as form data, as its submitter typed them."""
    data = kind.fields_of(notice, masked=False)
    data.update(
        submitter_name=notice.submitter_name,
        submitter_phone=notice.submitter_phone,
        submitter_email=notice.submitter_email or "",
    )
    if kind.submitter_sets_window:
        # A start already past would only be refused: the new collection starts today at the
        # earliest.
        data["window_start"] = max(notice.window_start, today)
    # A decided submission keeps no full ID number or credit code (services.sealed), only its
    # masked form: the submitter types the number again rather than correct a row of stars.
    for item in data.get("items", ()):
        if "*" in item["document_number"]:
            item["document_number"] = ""
    return data


@bp.get("/track/<token>/resubmit")
def resubmit(token):
    """Open the form filled in with a rejected or withdrawn submission, to submit it anew."""
    notice = _tracked_or_404(token)
    if not _resubmittable(notice):
        flash("这份提交的内容已按保存期限删除,无法重新提交。" if notice.content_purged_at
              else "只有未通过审核或已撤回的提交可以重新提交。", "error")
        return redirect(url_for("submit.track", token=token))
    kind = notice.kind_def
    today = expiry.board_today(expiry.utcnow())
    form = kind.form(formdata=None, data=_filled_from(kind, notice, today), meta={"csrf": False})
    body, status = _render_form(kind, form, resubmitting=notice)
    return body, status, PRIVATE


def _resubmittable(notice):
    """Return True if a closed submission can be filled into a new one: not once its content
    has been removed at the end of its retention period."""
    return notice.status in RESUBMITTABLE and notice.content_purged_at is None


@bp.get("/track/<token>/export")
def export(token):
    """Send the submitter everything the board holds about their submission, as a JSON file."""
    notice = _tracked_or_404(token)
    body = json.dumps(export_submission(notice, expiry.utcnow()), ensure_ascii=False, indent=2)
    headers = {
        **PRIVATE,
        "Content-Disposition": f'attachment; filename="{notice.ref}.json"',
    }
    return current_app.response_class(body + "\n", mimetype="application/json", headers=headers)
def _correction_refusal(original):
    """Return why the submitter cannot ask to correct ``original`` now, or None."""
    if (refused := corrections.refusal(original)) is not None:
        return refused
    if (waiting := corrections.pending_request(original)) is not None:
        return NoticeError.on("status", f"已有一份更正申请(编号 {waiting.ref})在等待审核,请等审核结果后再申请")
    return None


def _correct_page(original, form, end, errors=None, status=200):
    errors = errors or {}
    kind = original.kind_def
    body = render_template(
        "submit/correct.html", notice=original, kind=kind, form=form, end=end,
        end_errors=errors.get(corrections.END_FIELD, []),
        problems=corrections.problems(kind, form, errors),
    )
    return body, status, PRIVATE


def _refused_correction(token, refused):
    flash(refused.message, "error")
    return redirect(url_for("submit.track", token=token))


@bp.get("/track/<token>/correct")
def correct_form(token):
    """Open the correction request of a published notice, filled with its current fields."""
    original = _tracked_or_404(token)
    if (refused := _correction_refusal(original)) is not None:
        return _refused_correction(token, refused)
    return _correct_page(original, *corrections.blank_form(original))


def _correction_draft(token):
    """Return (original, posted data, draft) of a posted correction request, or a response."""
    original = _tracked_or_404(token)
    if (refused := _correction_refusal(original)) is not None:
        return original, None, _refused_correction(token, refused)
    data = corrections.posted(request.form)
    if request.form.get("action") == "edit":
        form = original.kind_def.form(formdata=data, meta={"csrf": False})
        return original, data, _correct_page(original, form, data.get(corrections.END_FIELD))
    try:
        return original, data, corrections.draft(original, data, expiry.board_today(expiry.utcnow()))
    except NoticeError as refused:
        if refused.form is None:
            return original, data, _refused_correction(token, refused)
        end = data.get(corrections.END_FIELD)
        return original, data, _correct_page(original, refused.form, end, refused.errors, 422)


@bp.post("/track/<token>/correct")
@limit_previews
def correct(token):
    """Show what the requested correction changes, ready to send, or the form with its errors."""
    original, data, draft = _correction_draft(token)
    if not isinstance(draft, corrections.Draft):
        return draft
    notice_text, full_text = corrections.preview(original, draft, expiry.board_today(expiry.utcnow()))
    body = render_template(
        "submit/correct_preview.html", notice=original, kind=original.kind_def, draft=draft,
        notice_text=notice_text, full_text=full_text, hidden=data.items(multi=True),
    )
    return body, 200, PRIVATE


@bp.post("/track/<token>/correct/confirm")
@limiter.limit(_submit_limit, error_message=services.SUBMIT_LIMIT_MESSAGE)
def confirm_correction(token):
    """Send the correction request to the review queue and open its own tracking page."""
    original, _data, draft = _correction_draft(token)
    if not isinstance(draft, corrections.Draft):
        return draft
    try:
        correction, new_token = corrections.request(original, draft, now=expiry.utcnow())
    except NoticeError as refused:
        return _refused_correction(token, refused)
    flash(
        f"更正申请已提交,编号 {correction.ref}。编辑审核通过后发布更正启事。"
        "请保存下面的查询地址:这是回到这份申请的唯一途径。",
        "success",
    )
    return redirect(url_for("submit.track", token=new_token))
