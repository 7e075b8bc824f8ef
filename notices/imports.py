"""Bulk import of printed or historical notices: ``flask --app app import-notices FILE``.

Each line of a JSON Lines file is a submission body as ``POST /api/v1/submissions`` takes it,
plus ``published_at`` and, optionally, ``ref``, ``revoked_at`` and ``reason`` (SPEC.md, "Bulk
import"). Every line passes the one validation path, :func:`services.validate`, with two
differences that only history calls for:

- a call's ``window_start`` may lie before today, and before the day it was published: the
  rules that refuse it exist so that someone asks the submitter for a new date, and a notice
  printed years ago has none to give;
- submitter fields left out (or blank) are recorded as 导入 instead of refused: an archive
  has no submitter to call back.

**Resuming.** A line is skipped when its ``ref`` is on the board, or when a notice of the same
content is. Content is recognised without a new column: an imported notice's tracking token
is derived from its validated content (type, public fields, documents, window start and the
instant of publication; not the submitter, who is never published) with a key made from the
app's secret, so the unique
``tracking_hash`` finds the same content again. That is sound because the content is
normalised by validation first (spacing, numbering, the case of numbers), so the same line
read twice gives the same token; and because the token is a keyed hash, as secret as any
tracking link: nobody without SECRET_KEY can compute it from a notice's public text, and the
key is used for nothing else, so no API idempotency key can produce it. It is never shown:
nobody needs to follow the review of a notice published long ago. Its limits:

- only notices brought in by an import are found by their content; one submitted through the
  forms has a random token and is found by its ``ref`` only;
- a change of SECRET_KEY, or of how a field is cleaned, between two runs makes the same
  content look new (lines with a ``ref`` are still found);
- two notices identical in every stored word and published at the same instant are one
  notice: the unique column could not hold two.

Revocation is not part of the content: a line that adds ``revoked_at`` to a notice already
imported is skipped, and revoking it is then an editor's action, with a reason of their own.

**Loading.** Lines are parsed and validated outside any transaction. Each batch of valid lines
is stored in one short write transaction with its loss items, audit entries and search outbox
rows; the lookups above run in it, and on SQLite it begins IMMEDIATE, so no other writer comes
between the look and the insert (elsewhere a unique column refuses the insert, and the batch is
looked at again). The board keeps serving meanwhile, and a crash loses only the batch in
flight, which a rerun loads.

**Indexing.** The outbox rows written with each batch are indexed once, at the end: by
draining them, or by rebuilding the whole index when that is quicker (a large import into a
small board; see :func:`rebuild_is_quicker`). Written with the notices, they survive a crash,
and the rerun (or the board's indexer) indexes what the crashed run loaded. The command holds
the index's write lock throughout (``search.held``), so no web request's drain takes on the
import's rows.
"""
import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import timezone

from flask import current_app
from sqlalchemy.exc import IntegrityError

from notices import board
from notices import documents
from notices import expiry
from notices import services
from notices.extensions import db
from notices.extensions import reading
from notices.kinds.base import Kind
from notices.models import AuditEntry
from notices.models import IndexOutbox
from notices.models import LossItem
from notices.models import Notice
from notices.services import NoticeError

# Who the audit trail says published an imported notice, and what stands for a submitter an
# archive does not name.
IMPORTER = "导入"
# Valid lines stored per transaction: large enough that a batch costs little more than its
# rows, small enough that the board's own writers wait only a moment for the lock.
BATCH = 500
# The fields a line adds to a submission body.
IMPORT_FIELDS = ("published_at", "ref", "revoked_at", "reason")
# Submitter fields an archive may leave out; the email is optional for everyone anyway.
SUBMITTER_FIELDS = ("submitter_name", "submitter_phone")
# A kept reference goes into URLs and the index as it is: plain characters, the column's length.
REF = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,23}")
EXAMPLE_TIME = "2024-03-08T08:00:00+08:00"


@dataclass
class Line:
    """A line that passed validation: a notice ready to be stored."""

    number: int
    kind: Kind
    ref: str | None
    tracking_hash: str
    fields: dict
    items: list
    window_start: date
    window_end: date
    published_at: datetime
    revoked_at: datetime | None
    reason: str | None
    submitter: dict


@dataclass
class Report:
    """What an import did: counts, and each refused line's number and errors."""

    loaded: int = 0
    skipped: int = 0
    refused: list = field(default_factory=list)
    # Lines skipped because their ref is on the board with other content: (line, ref).
    clashes: list = field(default_factory=list)


def run(lines, *, now, batch_size=None):
    """Import ``lines`` (bytes, as read from the file); return a :class:`Report`.

    Each stored notice leaves a row in the search outbox; indexing them is the caller's,
    once the whole file is in (see :func:`rebuild_is_quicker`).
    """
    batch_size = batch_size or BATCH
    report = Report()
    window_days = current_app.config["NOTICE_WINDOW_DAYS"]
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    batch = []
    for number, raw in enumerate(lines, 1):
        if number == 1:
            # Editors on Windows save UTF-8 with a byte-order mark.
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        if raw.strip():
            try:
                batch.append(parse(raw, number=number, now=now, window_days=window_days, limit=limit))
            except NoticeError as refused:
                report.refused.append((number, refused.errors))
        if len(batch) == batch_size:
            _store(batch, now, report)
            batch = []
    if batch:
        _store(batch, now, report)
    return report


# --- one line ---------------------------------------------------------------------------------

def parse(raw, *, number, now, window_days, limit=None):
    """Return the :class:`Line` that ``raw`` (one line's bytes) describes, or raise NoticeError
    with every error the line has, keyed as the API keys them (``line`` for the line itself)."""
    body = _object(raw, limit)
    errors = {}
    published_at = _moment(body, "published_at", "发布时间", errors, now)
    if "published_at" not in errors and published_at is None:
        errors["published_at"] = [f"请填写发布时间,如 {EXAMPLE_TIME}"]
    revoked_at, reason = _revocation(body, published_at, now, errors)
    ref = body.get("ref")
    if ref is not None and not (isinstance(ref, str) and REF.fullmatch(ref)):
        errors["ref"] = ["编号只能由字母、数字和连字符组成,不超过24个字符"]
    try:
        kind = services.kind_of(body)
        form = _validated(kind, {k: v for k, v in body.items() if k not in ("type", *IMPORT_FIELDS)})
    except NoticeError as refused:
        raise NoticeError({**refused.errors, **errors}) from None
    if errors:
        raise NoticeError(errors)

    published_on = expiry.board_today(published_at)
    start = form.window_start.data if kind.submitter_sets_window else published_on
    fields = kind.fields_from_form(form)
    items = kind.items_from_form(form)
    token = content_token(kind, fields, items, start, published_at)
    return Line(
        number=number,
        kind=kind,
        ref=ref,
        tracking_hash=services.hash_token(token),
        fields=fields,
        items=items,
        window_start=start,
        window_end=expiry.window_end(start, window_days),
        published_at=published_at,
        revoked_at=revoked_at,
        reason=reason,
        submitter={
            "submitter_name": form.submitter_name.data or IMPORTER,
            "submitter_phone": form.submitter_phone.data or IMPORTER,
            "submitter_email": form.submitter_email.data or None,
        },
    )


def _object(raw, limit):
    """Return the JSON object a line holds, or raise NoticeError on ``line``."""
    if limit and len(raw) > limit:
        # The API refuses a larger request body before reading it.
        raise NoticeError.on("line", f"一行不能超过{limit}字节")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NoticeError.on("line", "不是有效的 UTF-8 文本") from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        raise NoticeError.on("line", f"不是有效的 JSON(第{error.colno}个字符处:{error.msg})") from None
    except RecursionError:
        raise NoticeError.on("line", "不是有效的 JSON(嵌套过深)") from None
    if not isinstance(body, dict):
        raise NoticeError.on("line", "每行应为一个 JSON 对象")
    return body


def _moment(body, name, what, errors, now):
    """Return ``body[name]`` as an aware datetime no later than ``now``, None if absent; a
    value that is none of that goes to ``errors``."""
    value = body.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        # Years near 1 or 9999 cannot be moved to UTC.
        utc = moment.astimezone(timezone.utc) if moment and moment.tzinfo else None
    except (ValueError, OverflowError):
        moment = utc = None
    if moment is None:
        errors[name] = [f"{what}应为 ISO 8601 格式的日期和时间,如 {EXAMPLE_TIME}"]
    elif moment.tzinfo is None:
        # A time without an offset could be Beijing's or the server's: refused, not guessed.
        errors[name] = [f"{what}须注明时区,如 {EXAMPLE_TIME}"]
    elif utc > now:
        errors[name] = [f"{what}不能晚于现在"]
    else:
        return utc
    return None


def _revocation(body, published_at, now, errors):
    """Return (revoked_at, reason) of a line, both None unless it was revoked."""
    revoked_at = _moment(body, "revoked_at", "撤销时间", errors, now)
    reason = body.get("reason")
    if reason is None and "revoked_at" not in errors and revoked_at is None:
        return None, None
    if reason is not None and not isinstance(reason, str):
        errors["reason"] = ["应为文字"]
    else:
        try:
            reason = services.clean_reason(reason)
        except NoticeError as refused:
            errors.update(refused.errors)
    if revoked_at is None and "revoked_at" not in errors:
        errors["revoked_at"] = [f"填写了撤销理由,请同时填写撤销时间,如 {EXAMPLE_TIME}"]
    elif revoked_at and published_at and revoked_at < published_at:
        errors["revoked_at"] = ["撤销时间不能早于发布时间"]
    return revoked_at, reason


def _validated(kind, data):
    """Return the type's form validated as any submission is, or raise NoticeError.

    No ``today``: a call's start may lie in the past. Errors on submitter fields the line
    leaves out are the only ones dropped, and those fields are then recorded as 导入.
    """
    omitted = {
        name for name in SUBMITTER_FIELDS
        if data.get(name) is None or (isinstance(data[name], str) and not data[name].strip())
    }
    try:
        # Printed notices were published by the newspaper, which collected their consent; the
        # board asks none and records none (a line's "consent_publication": true is accepted
        # and not recorded: the board did not show it its privacy notice).
        return services.validate(kind, services.flatten(data), today=None, asks_consent=False)
    except NoticeError as refused:
        errors = {name: msgs for name, msgs in refused.errors.items() if name not in omitted}
        if errors or refused.form is None:
            raise NoticeError(errors or refused.errors) from None
        return refused.form


def content_token(kind, fields, items, window_start, published_at):
    """Return the tracking token of an imported notice: a keyed hash of its content.

    The key is derived from SECRET_KEY for this use alone, so no tracking token the board
    hands out (random, or from an idempotency key) can equal one of these.
    """
    content = json.dumps(
        [kind.code, fields, items, window_start.isoformat(), published_at.isoformat()],
        ensure_ascii=False,
        sort_keys=True,
    )
    secret = current_app.config["SECRET_KEY"].encode()
    key = hmac.new(secret, b"import-notices content", hashlib.sha256).digest()
    digest = hmac.new(key, content.encode(), hashlib.sha256).digest()[:24]
    return base64.urlsafe_b64encode(digest).decode()


# --- a batch ----------------------------------------------------------------------------------

def _store(batch, now, report):
    """Store the lines of ``batch`` not on the board yet, in one transaction."""
    for attempt in range(3):
        try:
            loaded, skipped, clashes = _insert(batch, now)
        except IntegrityError:
            # Another writer (a submission, or a second import of the same file) took a ref
            # or the same content between our look and our insert; on PostgreSQL nothing
            # keeps it out. Look again: what it took is skipped or drawn anew.
            db.session.rollback()
            if attempt == 2:
                raise
            continue
        report.loaded += loaded
        report.skipped += skipped
        report.clashes += clashes
        return


def _insert(batch, now):
    """Insert the new lines of ``batch``; return (loaded, skipped, clashes)."""
    refs = {
        ref: tracking_hash
        for ref, tracking_hash in db.session.execute(
            db.select(Notice.ref, Notice.tracking_hash).where(
                Notice.ref.in_([line.ref for line in batch if line.ref])
            )
        )
    }
    hashes = set(
        db.session.scalars(
            db.select(Notice.tracking_hash).where(
                Notice.tracking_hash.in_([line.tracking_hash for line in batch])
            )
        )
    )
    new, skipped, clashes = [], 0, []
    for line in batch:
        # Lines of the same file count as on the board once an earlier line holds them.
        if line.ref in refs:
            skipped += 1
            if refs[line.ref] != line.tracking_hash and line.tracking_hash not in hashes:
                clashes.append((line.number, line.ref))
        elif line.tracking_hash in hashes:
            skipped += 1
        else:
            new.append(line)
            hashes.add(line.tracking_hash)
            if line.ref:
                refs[line.ref] = line.tracking_hash
    drawn = _draw_refs([line for line in new if not line.ref], set(refs))
    if new:
        _insert_rows({line.ref or drawn[line.number]: line for line in new}, now)
        # The listings every worker keeps show the new notices from this commit on.
        board.touch_generation()
    db.session.commit()
    return len(new), skipped, clashes


def _draw_refs(lines, taken):
    """Return {line number: a free ref} for ``lines``, drawn as submissions draw theirs;
    ``taken`` holds the refs this batch uses already."""
    drawn, pending = {}, lines
    while pending:
        for line in pending:
            drawn[line.number] = services.draw_ref(line.kind, expiry.board_today(line.published_at))
        on_board = db.select(Notice.ref).where(Notice.ref.in_([drawn[line.number] for line in pending]))
        taken |= set(db.session.scalars(on_board))
        again = []
        for line in pending:
            if drawn[line.number] in taken:
                again.append(line)
            else:
                taken.add(drawn[line.number])
        pending = again
    return drawn


def _insert_rows(lines, now):
    """Insert the notices {ref: line}, published (and revoked) as each line says, with their
    documents, audit entries and outbox rows.

    Rows go in as bulk INSERTs rather than through the ORM's unit of work, which at this size
    took as long as validating the lines.
    """
    notices = [
        {
            "ref": ref,
            "kind": line.kind.code,
            "status": "revoked" if line.revoked_at else "published",
            # Published at once, so sealed at once (services.sealed): no full ID number kept.
            "fields": documents.mask_strings(line.fields),
            "tracking_hash": line.tracking_hash,
            "window_start": line.window_start,
            "window_end": line.window_end,
            # An archive knows when a notice appeared, not when it was handed in.
            "submitted_at": line.published_at,
            "published_at": line.published_at,
            "published_on": expiry.board_today(line.published_at),
            "closed_at": line.revoked_at,
            "reason": documents.mask_id_numbers(line.reason),
            # No consent collected by the board (see _validated).
            "consent_at": None,
            "consent_version": None,
            **line.submitter,
            "submitter_name": documents.mask_id_numbers(line.submitter["submitter_name"]),
        }
        for ref, line in lines.items()
    ]
    ids = dict(db.session.execute(db.insert(Notice).returning(Notice.ref, Notice.id), notices).all())
    items, events = [], []
    for ref, line in lines.items():
        items += [
            {"notice_id": ids[ref], "position": i, **documents.sealed_item(item)}
            for i, item in enumerate(line.items)
        ]
        events.append(
            {"notice_id": ids[ref], "action": "import", "actor": IMPORTER, "user_id": None,
             "reason": None, "created_at": line.published_at}
        )
        if line.revoked_at:
            events.append(
                {"notice_id": ids[ref], "action": "revoke", "actor": IMPORTER, "user_id": None,
                 "reason": documents.mask_id_numbers(line.reason), "created_at": line.revoked_at}
            )
    if items:
        db.session.execute(db.insert(LossItem), items)
    db.session.execute(db.insert(AuditEntry), events)
    db.session.execute(db.insert(IndexOutbox), [{"ref": ref, "created_at": now} for ref in lines])


# --- the search index -------------------------------------------------------------------------

# Measured on the bench corpus at 10,000 imported notices, on two shared cores: draining the
# outbox indexed 180–230 notices a second (one writer, a commit per 500 rows), a rebuild
# 300–500 a second of the whole board (two writer processes, one commit), 1.7 to 2.8 times
# as fast. A rebuild is the quicker once the rows waiting are about half as many as the
# public notices.
REBUILD_SHARE = 0.5


def rebuild_is_quicker():
    """Return whether indexing what the outbox holds is quicker by rebuilding the whole index.

    The outbox, not this run's count: a run that loads nothing after a crashed one still has
    the crashed run's rows to index.
    """
    # Counting is a read: it must not take the database's write lock.
    reading()
    waiting = db.session.scalar(db.select(db.func.count(IndexOutbox.id)))
    public = db.session.scalar(board.public_count())
    db.session.commit()
    return waiting > 0 and waiting >= public * REBUILD_SHARE
