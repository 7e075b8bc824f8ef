"""Corrections (更正启事): a published notice corrected by a notice of its own.

A published notice is never edited in place: its permalink keeps the text as it was printed.
A correction is a new notice of the same type that holds the corrected fields in full and
names the notice it corrects (``Notice.corrects_id``). Once the correction is public, the
corrected notice is *superseded*: the listings, feeds, search and the lost-document lookup
show the correction in its place (one entry per notice, as it now reads), and the superseded
page says when it was corrected, links to the correction and lists what changed. Its own
window stays as printed; where it stands (open, expired, days left) follows its correction.

An editor publishes a correction at once (:func:`publish`); a submitter asks for one from the
tracking page (:func:`request`), which waits in the queue like a submission and is published
by the editor's approval (services.approve, with :func:`window_of` and :func:`on_approval`).
"""
import secrets
from dataclasses import dataclass
from datetime import date
from datetime import timedelta

from flask import current_app
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from notices import board
from notices import documents
from notices import expiry
from notices import forms
from notices import search
from notices import services
from notices import wording
from notices.alerts import subscriptions as alerts
from notices.extensions import db
from notices.models import AuditEntry
from notices.models import LossItem
from notices.models import Notice

# The longest window a corrected call may have: its start to its end, in days.
MAX_CALL_DAYS = 90
# The posted field of a call's corrected end date; the start is the form's window_start.
END_FIELD = "window_end"
END_LABEL = "征集截止日期"
# What an empty optional field reads as in a change.
NOTHING = "无"


@dataclass
class Change:
    """One field a correction changes: its label and both values, as the public sees them."""

    name: str
    label: str
    old: str
    new: str


@dataclass
class Draft:
    """A validated correction, not yet stored: the corrected fields, window and changes."""

    form: object
    fields: dict
    items: list
    start: date
    end: date
    changes: list


def shown_value(kind, name, value):
    """Return a field's value as one line of public text (already masked)."""
    if value is None or value == "" or value == []:
        return NOTHING
    if isinstance(value, date):
        return wording.cn_date(value)
    if name == "items":
        return ";".join(_item_line(item) for item in value)
    if isinstance(value, list):
        if isinstance(value[0], dict):
            return "、".join(f"{site['name']} {site['url']}".strip() for site in value)
        unbound = kind.declared.get(name)
        choices = {c.value: c.label for c in (unbound.kwargs.get("choices") or [])} if unbound else {}
        return ("、" if choices else ";").join(choices.get(v, v) for v in value)
    return " ".join(line.strip() for line in str(value).splitlines() if line.strip())


def _item_line(item):
    name = documents.type_name(item["document_type"], item.get("document_type_other"))
    label = documents.DOCUMENT_TYPES[item["document_type"]].number_label
    return f"{item['owner_name']}的{name}({label}:{item['document_number']})"


def public_values(kind, fields, start, end):
    """Return [(name, label, value)] of a notice's public fields (masked) in the form's order,
    with a call's window as its start and end dates."""
    labels = kind.labels
    values = []
    for name in kind.form_fields:
        if name == "window_start":
            values.append((name, labels[name], wording.cn_date(start)))
            values.append((END_FIELD, END_LABEL, wording.cn_date(end)))
        else:
            label = labels[name].removesuffix("(选填)")
            values.append((name, label, shown_value(kind, name, fields.get(name))))
    return values


def changes_between(old, new, old_shown, new_shown):
    """Return the :class:`Change` of every value that differs between two public_values,
    told by their public forms ``old_shown`` and ``new_shown``.

    Compared unmasked: a mistake in the masked middle of an ID number is a change too, though
    the public sees the same masked number on both sides.
    """
    new_by_name = {name: value for name, _label, value in new}
    old_public = {name: value for name, _label, value in old_shown}
    new_public = {name: value for name, _label, value in new_shown}
    return [
        Change(name, label, old_public[name], new_public[name])
        for name, label, value in old
        if new_by_name.get(name, value) != value
    ]


def values_of(notice, masked=True):
    """Return the public values of a stored notice; unmasked only to compare."""
    kind = notice.kind_def
    fields = board.public_fields(notice) if masked else kind.fields_of(notice, masked=False)
    return public_values(kind, fields, notice.window_start, notice.window_end)


def _compared(notice):
    """Return a stored notice's values to compare: unmasked, its numbers told by their keyed
    hashes, since a decided notice keeps only their masked form (services.sealed)."""
    kind = notice.kind_def
    fields = kind.fields_of(notice, masked=False)
    if notice.items:
        fields["items"] = [
            dict(fields_item, document_number=item.number_hash)
            for fields_item, item in zip(fields["items"], notice.items)
        ]
    return public_values(kind, fields, notice.window_start, notice.window_end)


def changes_of(correction):
    """Return what ``correction`` changes in the notice it corrects."""
    original = correction.corrects
    return changes_between(
        _compared(original), _compared(correction), values_of(original), values_of(correction),
    )


def summary(changes):
    """Return the changes as one line for the audit trail: 征集截止日期:甲→乙;联系人:…"""
    return ";".join(f"{c.label}:{c.old}→{c.new}" for c in changes)[:1000]


def refusal(original):
    """Return why ``original`` cannot be corrected now, or None."""
    if original.status != "published":
        return services.NoticeError.on(
            "status", f"公告当前状态为“{services.STATUS_NAMES[original.status]}”,不能更正"
        )
    if (later := original.correction) is not None:
        return services.NoticeError.on("status", f"本公告已由 {later.ref} 更正,如需再次更正,请更正 {later.ref}")
    return None


def pending_request(original):
    """Return the submitter's correction request of ``original`` waiting for review, or None."""
    return next((c for c in original.corrections if c.status == "submitted"), None)


def form_data(original):
    """Return the form data a correction starts from: the notice's current fields."""
    kind = original.kind_def
    data = kind.fields_of(original, masked=False)
    if kind.submitter_sets_window:
        data["window_start"] = original.window_start
    # A published notice keeps no full ID number or credit code (services.sealed), only its
    # masked form: whoever corrects it types the number again rather than a row of stars.
    for item in data.get("items", ()):
        if "*" in item["document_number"]:
            item["document_number"] = ""
    return data


def blank_form(original):
    """Return the type's form filled with ``original``'s fields, and the call's end date."""
    form = original.kind_def.form(formdata=None, data=form_data(original), meta={"csrf": False})
    return form, original.window_end


def draft(original, formdata, today):
    """Return the :class:`Draft` posted ``formdata`` makes of ``original``, or raise
    NoticeError (with the form, to show again) saying what to fix.

    The submitter's contacts are the original's, never posted. A call's start may stay as it
    was even if past; a new start is refused before today. Its end follows a new start by
    NOTICE_WINDOW_DAYS unless an end is given: not before the start or today, and at most
    MAX_CALL_DAYS after the start.
    """
    if (refused := refusal(original)) is not None:
        raise refused
    kind = original.kind_def
    data = MultiDict(formdata)
    raw_end = data.pop(END_FIELD, "")
    for name in forms.SUBMITTER_FIELDS:
        data[name] = getattr(original, name) or ""
    form = kind.form(formdata=data, meta={"csrf": False})
    # A correction publishes, corrected, the notice its submitter consented to publish: it
    # carries that consent (_stored) rather than asking for it again.
    form.asks_consent = False
    start, end = original.window_start, original.window_end
    errors = {}
    if kind.submitter_sets_window:
        moved = form.window_start.data != original.window_start
        # An unchanged start may be past: the window already opened.
        form.today = today if moved else None
        try:
            end = _end_date(raw_end)
        except services.NoticeError as refused:
            errors.update(refused.errors)
    valid = form.validate()
    if not valid:
        errors.update(services.field_errors(form))
    if kind.submitter_sets_window and _checkable(form, errors):
        start = form.window_start.data
        if end is None or (moved and end == original.window_end):
            end = expiry.window_end(start, current_app.config["NOTICE_WINDOW_DAYS"])
        if (message := end_refusal(start, end, today)) is not None:
            errors[END_FIELD] = [message]
    if errors:
        raise services.NoticeError(errors, form=form)
    fields = kind.fields_from_form(form)
    items = kind.items_from_form(form)
    raw = dict(fields, items=_as_stored(original, items)) if items else dict(fields)
    public = dict(fields, items=[kind.mask_item(i) for i in items]) if items else dict(fields)
    changes = changes_between(
        values_of(original, masked=False), public_values(kind, raw, start, end),
        values_of(original), public_values(kind, documents.mask_strings(public), start, end),
    )
    if not changes:
        raise services.NoticeError({"changes": ["没有任何修改,无需更正"]}, form=form)
    return Draft(form=form, fields=fields, items=items, start=start, end=end, changes=changes)


def _as_stored(original, items):
    """Return corrected items to compare with ``original``'s: a number typed again that
    matches the sealed one's keyed hash reads as the sealed form the original keeps, so an
    unchanged number is no change, and a changed one is."""
    stored = {item.position: item for item in original.items}
    compared = []
    for position, item in enumerate(items):
        kept = stored.get(position)
        if kept is not None and kept.number_hash == documents.number_hash(item["document_number"]):
            item = dict(item, document_number=kept.document_number)
        compared.append(item)
    return compared


def _checkable(form, errors):
    """Whether a call's end can be checked against its start: both were read."""
    return form.window_start.data is not None and not {"window_start", END_FIELD} & errors.keys()


def _end_date(raw):
    raw = (raw or "").strip()
    if not raw:
        return None
    if len(raw) > 20 or not raw.isascii():
        raise services.NoticeError.on(END_FIELD, "日期格式应为 年-月-日,如 2024-03-08")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise services.NoticeError.on(END_FIELD, "日期格式应为 年-月-日,如 2024-03-08") from None


def end_refusal(start, end, today):
    """Return why a call's corrected window ``start``–``end`` cannot be, on ``today``, or None."""
    if end < start:
        return f"{END_LABEL}不能早于征集开始日期({wording.cn_date(start)})"
    if end < today:
        return f"{END_LABEL}不能早于今天"
    latest = start + timedelta(days=MAX_CALL_DAYS)
    if end > latest:
        return f"征集期最长{MAX_CALL_DAYS}天,{END_LABEL}不能晚于{wording.cn_date(latest)}"
    return None


def text_of(original, changes, correction_fields, day):
    """Return the 更正启事 wording of a correction of ``original`` published on ``day``, its
    ``correction_fields`` (masked) naming who signs it."""
    kind = original.kind_def
    return wording.correction_text(
        kind.title(board.public_fields(original)), original.ref, original.published_on,
        [(c.label, c.old, c.new) for c in changes],
        kind.issuer(correction_fields), day,
    )


def _stored(original, draft, *, status, token, now):
    """Return a new correction of ``original`` holding ``draft``, not yet added."""
    kind = original.kind_def
    correction = Notice(
        kind=kind.code,
        status=status,
        fields=draft.fields,
        submitter_name=original.submitter_name,
        submitter_phone=original.submitter_phone,
        submitter_email=original.submitter_email,
        tracking_hash=services.hash_token(token),
        window_start=draft.start,
        window_end=draft.end,
        submitted_at=now,
        corrects_id=original.id,
        consent_at=original.consent_at,
        consent_version=original.consent_version,
    )
    correction.items = [
        LossItem(position=i, number_hash=documents.number_hash(item["document_number"]), **item)
        for i, item in enumerate(draft.items)
    ]
    return correction


def _lock(original):
    """Hold ``original``'s row for this transaction, so two corrections cannot both pass."""
    db.session.execute(
        db.select(Notice.id).where(Notice.id == original.id).with_for_update()
    )
    db.session.refresh(original)


def publish(original, draft, editor, *, now):
    """Publish ``draft`` as a correction of ``original`` now, by ``editor``; return it.

    In one transaction: the correction, an audit entry on each notice saying what changed,
    both notices' search rows (the correction in, the original out), subscribers' alerts and
    a new data generation, so that no kept page shows the original as current.
    """
    _lock(original)
    if (refused := refusal(original)) is not None:
        db.session.rollback()
        raise refused
    today = expiry.board_today(now)
    # Nobody tracks an editor's correction: its token is drawn and dropped.
    correction = _stored(original, draft, status="published", token=secrets.token_urlsafe(24), now=now)
    correction.published_at, correction.published_on = now, today
    # Published at once, so sealed at once, as an approval seals a submission.
    for name, value in services.sealed(correction).items():
        setattr(correction, name, value)
    changed = summary(draft.changes)
    correction.events.append(AuditEntry(
        action="correction", user_id=editor.id, actor=editor.username,
        reason=f"更正 {original.ref}:{changed}", created_at=now,
    ))
    _insert(correction, today)
    original.events.append(AuditEntry(
        action="corrected", user_id=editor.id, actor=editor.username,
        reason=f"由 {correction.ref} 更正:{changed}", created_at=now,
    ))
    db.session.flush()
    # Read again with the new correction in it: the search rows ask whether it supersedes.
    db.session.expire(original, ["corrections"])
    search.record(correction, now)
    search.record(original, now)
    board.touch_generation()
    alerts.published(correction, now)
    db.session.commit()
    if current_app.config["SEARCH_INDEX_ON_COMMIT"]:
        search.drain_quietly()
    return correction


def _insert(correction, today):
    """Add ``correction`` under a fresh reference, in the caller's transaction."""
    # The unique index settles the rare collision, and we draw again.
    for _ in range(5):
        correction.ref = services.draw_ref(correction.kind_def, today)
        try:
            with db.session.begin_nested():
                db.session.add(correction)
                db.session.flush()
        except IntegrityError:
            continue
        return
    raise RuntimeError("could not draw a free reference number")


def request(original, draft, *, now):
    """Store the submitter's request to correct ``original`` as a submission waiting for
    review; return it and its own private tracking token."""
    if (waiting := pending_request(original)) is not None:
        raise services.NoticeError.on(
            "status", f"已有一份更正申请(编号 {waiting.ref})在等待审核,请等审核结果后再申请"
        )
    token = secrets.token_urlsafe(24)
    correction = _stored(original, draft, status="submitted", token=token, now=now)
    correction.events.append(AuditEntry(
        action="request", actor="提交人", reason=f"申请更正 {original.ref}:{summary(draft.changes)}",
        created_at=now,
    ))
    if not services._insert_with_ref(correction, original.kind_def, now, token):
        raise RuntimeError("a fresh tracking token was taken")
    return correction, token


def window_of(correction, today):
    """Return the window a correction request is published with, or raise NoticeError: the
    notice it corrects must still be current, and a call's corrected end not past."""
    if (refused := refusal(correction.corrects)) is not None:
        raise refused
    if correction.kind_def.submitter_sets_window and correction.window_end < today:
        raise services.NoticeError.on(
            END_FIELD, "更正后的征集截止日期已过,请退回这份申请,由提交人重新申请"
        )
    return correction.window_start, correction.window_end


def on_approval(correction, editor, now):
    """Record on the corrected notice, in the approval's transaction, that it is corrected."""
    original = correction.corrects
    _lock(original)
    if (refused := refusal(original)) is not None:
        db.session.rollback()
        raise refused
    original.events.append(AuditEntry(
        action="corrected", user_id=editor.id, actor=editor.username,
        reason=f"由 {correction.ref} 更正:{summary(changes_of(correction))}", created_at=now,
    ))
    db.session.flush()


def latest(notice):
    """Return the newest public version of ``notice``: itself, or its last correction."""
    seen = 0
    while (later := notice.correction) is not None and seen < 100:
        notice, seen = later, seen + 1
    return notice


@dataclass
class Superseded:
    """What the page of a corrected notice says of its correction."""

    correction: Notice
    changes: list
    # Where the notice, as corrected now, stands: its latest version's state and line.
    state: str
    status_line: str


@dataclass
class Correcting:
    """What a correction's page says of the notice it corrects."""

    original: Notice
    title: str
    changes: list
    text: wording.Text


def public_view(notice, today):
    """Return (Superseded or None, Correcting or None) for a public notice's page."""
    superseded = correcting = None
    if (correction := notice.correction) is not None:
        current = latest(correction)
        superseded = Superseded(
            correction=correction,
            changes=changes_of(correction),
            state=expiry.public_state(current.status, current.window_end, today),
            status_line=board.status_line(current, today),
        )
    if notice.corrects is not None:
        original = notice.corrects
        changes = changes_of(notice)
        correcting = Correcting(
            original=original,
            title=original.kind_def.title(board.public_fields(original)),
            changes=changes,
            text=text_of(original, changes, board.public_fields(notice), notice.published_on or today),
        )
    return superseded, correcting


# Posted fields that steer a correction's pages rather than carry the notice.
CONTROL_FIELDS = ("csrf_token", "action", "confirm")


def posted(formdata):
    """Return posted form data without the pages' own controls."""
    return MultiDict([(k, v) for k, v in formdata.items(multi=True) if k not in CONTROL_FIELDS])


def problems(kind, form, errors):
    """Return the error summary of a refused correction: the form's errors in its order, the
    end date's after the start's, and what belongs to no field last."""
    found = forms.problems(form, kind.form_fields)
    for message in errors.get(END_FIELD, []):
        at = next((i + 1 for i, p in enumerate(found) if p.target == "window_start"), len(found))
        found.insert(at, forms.Problem(END_FIELD, message))
    found += [forms.Problem("correction-form", m) for m in errors.get("changes", [])]
    return found


def preview(original, draft, today):
    """Return (the 更正启事, the corrected notice's full text) a draft publishes on ``today``."""
    kind = original.kind_def
    text = kind.preview(draft.form, draft.start, draft.end)
    public = documents.mask_strings(draft.fields)
    return text_of(original, draft.changes, public, today), text
