"""The JSON API under /api/v1: published notices and the lost-document lookup, no login."""
from datetime import date

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import request

from notices import board
from notices import corrections
from notices import documents
from notices import expiry
from notices import kinds
from notices import lookups
from notices import pages
from notices import search
from notices import services
from notices.extensions import db
from notices.extensions import limiter
from notices.models import Notice
from notices.objections import records as objections
from notices.services import NoticeError
from notices.urls import public_url

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_PER_PAGE = 100


def error_response(status, message=None, errors=None):
    """Return the API's one error shape: {"error": message, "errors": {field: [...]}}."""
    body = {"error": message or "请求有误"}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    return response


class BadParameter(Exception):
    def __init__(self, field, message):
        self.field, self.message = field, message


@bp.errorhandler(BadParameter)
def bad_parameter(error):
    return error_response(400, error.message, {error.field: [error.message]})


def _int_arg(name, default, low, high):
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    # str.isdigit() also admits ² and other digits int() refuses or reads differently.
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise BadParameter(name, f"{name} must be an integer from {low} to {high}")
    return int(raw)


def notice_json(shown, superseded=None):
    """Return one public notice in the API's shape; ``superseded`` (corrections.Superseded)
    for a corrected one. Listings never hold a corrected notice, only its correction."""
    notice = shown.notice
    body = {
        "ref": notice.ref,
        "type": notice.kind,
        "title": shown.title,
        "status": shown.state,
        "published_at": notice.published_at.astimezone(expiry.BOARD_TZ).isoformat(),
        "window_start": notice.window_start.isoformat(),
        "window_end": notice.window_end.isoformat(),
        "text": shown.text.plain(),
        "fields": shown.fields,
        "url": public_url("public.notice", ref=notice.ref),
        # Refs of the notice this one corrects, and of the correction that supersedes it.
        "corrects": notice.corrects.ref if notice.corrects_id is not None else None,
        "corrected_by": superseded.correction.ref if superseded else None,
    }
    if superseded:
        # Where the notice stands as corrected, as its page says.
        body["status"] = superseded.state
    if notice.status == "revoked":
        body["revoked_reason"] = notice.reason
    return body


@bp.get("/notices")
@lookups.limited(exempt_when=lookups.asks_no_number)
def notices():
    """List public notices, filtered by type and status, a page at a time."""
    code = request.args.get("type") or None
    if code is not None and kinds.get(code) is None:
        raise BadParameter("type", f"type must be one of: {', '.join(kinds.KINDS)}")
    status = request.args.get("status") or "active"
    if status not in board.LISTING_STATUSES:
        raise BadParameter("status", "status must be one of: active, archived, all")
    page = _int_arg("page", 1, 1, 100_000)
    per_page = _int_arg("per_page", current_app.config["PER_PAGE"], 1, MAX_PER_PAGE)
    sort = request.args.get("sort") or "relevance"
    if sort not in ("relevance", "date"):
        raise BadParameter("sort", "sort must be relevance or date")
    date_from, date_to = _date_arg("from"), _date_arg("to")
    q = request.args.get("q", "").strip()
    if not (q or request.args.get("issuer")):
        # The same for every reader until the data or the day changes: kept (notices/pages.py).
        return pages.serve(
            _listing, type=code, status=status, page=page, per_page=per_page,
            date_from=date_from, date_to=date_to,
        )
    today = expiry.board_today(expiry.utcnow())
    found = search.search(
        q, today=today, kind=code, status=status, date_from=date_from, date_to=date_to,
        issuer=request.args.get("issuer") or None, sort=sort, page=page, per_page=per_page,
    )
    lookups.searched(q, found.total)
    notices = board.in_rank_order([hit.ref for hit in found.hits])
    return _page_json(notices, today, found.total, page, per_page, found.facets)


def _listing(today, type, status, page, per_page, date_from, date_to):
    every_kind = board.published_between(board.listing(status, today), date_from, date_to)
    query = every_kind.where(Notice.kind == type) if type else every_kind
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False)
    facets = board.kind_counts(every_kind)
    return _page_json(pagination.items, today, pagination.total, page, per_page, facets)


def _page_json(notices, today, total, page, per_page, facets):
    return {
        "items": [notice_json(pages.show(n, today)) for n in notices],
        "total": total,
        "page": page,
        "per_page": per_page,
        "facets": facets,
    }


def _date_arg(name):
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadParameter(name, f"{name} must be a date as YYYY-MM-DD") from None


@bp.get("/notices/<ref>")
def notice(ref):
    """Return one public notice by its reference."""
    notice = board.find(ref)
    if notice is None:
        return error_response(404, f"no published notice with ref {ref}")
    today = expiry.board_today(expiry.utcnow())
    superseded, _ = corrections.public_view(notice, today)
    body = notice_json(pages.show(notice, today), superseded)
    if (counts := objections.public_counts(notice)) is not None:
        body["objections"] = counts
    return body


@bp.post("/submissions")
@limiter.limit(
    lambda: current_app.config["SUBMIT_RATE_LIMIT"], error_message=services.SUBMIT_LIMIT_MESSAGE
)
def submissions():
    """Accept a submission as JSON; 201 with its ref, or 422 with errors per field."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error_response(400, "the body must be a JSON object")
    try:
        kind = services.kind_of(body)
    except NoticeError as refused:
        return error_response(422, refused.message, refused.errors)
    data = {k: v for k, v in body.items() if k != "type"}
    try:
        notice, token = services.submit(
            kind,
            services.flatten(data),
            now=expiry.utcnow(),
            key=request.headers.get("Idempotency-Key", "")[:200] or None,
        )
    except NoticeError as refused:
        return error_response(422, "提交内容有误,请按字段修改", refused.errors)
    body = {
        "ref": notice.ref,
        "status": notice.status,
        "tracking_url": public_url("submit.track", token=token),
    }
    return body, 201


@bp.get("/lost-documents")
@lookups.limited()
def lost_documents():
    """Return every published declaration voiding a document number, expired ones included."""
    number = documents.normalize_number(request.args.get("number", "")[:100])
    if not number:
        raise BadParameter("number", "number is required")
    if len(number) > 40:
        raise BadParameter("number", "number must be at most 40 characters")
    declared = board.lost_documents(number, expiry.board_today(expiry.utcnow()))
    if not declared:
        lookups.missed()
    return {
        "items": [
            {
                "ref": item.notice.ref,
                "document_type": item.document_type,
                "document_number": item.document_number,
                "owner_name": item.owner_name,
                "declarant": item.declarant,
                "published_at": item.notice.published_at.astimezone(expiry.BOARD_TZ).isoformat(),
                "status": item.state,
            }
            for item in declared
        ]
    }
