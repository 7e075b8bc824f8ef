"""What an editor should know before deciding on a submission."""
from collections import defaultdict
from dataclasses import dataclass

from wtforms import FieldList
from wtforms import SelectFieldBase
from wtforms import TextAreaField

from notices import expiry
from notices import forms
from notices.extensions import db
from notices.models import PUBLIC_STATUSES
from notices.models import LossItem
from notices.models import Notice
from notices.wording import cn_date


@dataclass(frozen=True)
class Concern:
    """Something an editor should check before deciding: ``text`` says it in full on the
    review page, ``flag`` in two or three words on the queue."""

    flag: str
    text: str


# The queue's flags, one per kind of concern.
START_PASSED = "开始日期已过"
DECLARED_BEFORE = "证件已声明过"
SAME_PROJECT = "同一项目已公示"


def warnings(notice, today):
    """Return the concerns about one submission, for its review page."""
    return concerns([notice], today)[notice.id]


def concerns(notices, today):
    """Return {notice id: [Concern]} for ``notices``: a call whose start has passed, documents
    declared void before, a wage notice of a project already published.

    Two queries at most, however many notices (a page of the queue) are asked about; their
    loss items should be loaded with them (``selectinload(Notice.items)``).
    """
    found = {notice.id: [] for notice in notices}
    # A correction request repeats the notice it corrects, start and documents included: its
    # review page shows what it changes instead of these.
    notices = [notice for notice in notices if notice.corrects_id is None]
    for notice in notices:
        if (
            notice.kind_def.submitter_sets_window
            and notice.status == "submitted"
            and notice.window_start < today
        ):
            found[notice.id].append(Concern(
                START_PASSED,
                f"征集开始日期 {cn_date(notice.window_start)} 已过,发布前请联系提交人确定新的日期。",
            ))
    _declared_before(notices, found)
    _same_project(notices, today, found)
    return found


def _declared_before(notices, found):
    # Compared by keyed hash: a published item keeps no full number, and a pending item's
    # hash was taken from the number it declares. The editor is shown the number as the
    # item holds it: in full while it waits, masked once decided.
    items = [item for notice in notices for item in notice.items]
    if not items:
        return
    rows = db.session.execute(
        db.select(LossItem.document_type, LossItem.number_hash, Notice.id, Notice.ref,
                  Notice.published_on)
        .join(LossItem.notice)
        .where(
            LossItem.number_hash.in_(sorted({item.number_hash for item in items})),
            Notice.status.in_(PUBLIC_STATUSES),
        )
        .order_by(Notice.published_on, Notice.id)
    ).all()
    earlier = defaultdict(list)
    for row in rows:
        earlier[row.document_type, row.number_hash].append(row)
    for item in items:
        for other in earlier[item.document_type, item.number_hash]:
            if other.id != item.notice_id:
                found[item.notice_id].append(Concern(
                    DECLARED_BEFORE,
                    f"{item.document_type_name} {item.document_number} 已于"
                    f"{cn_date(other.published_on)}在 {other.ref} 中声明作废。",
                ))


def _same_project(notices, today, found):
    wage = [notice for notice in notices if notice.kind == "wage_clearance"]
    if not wage:
        return
    # Compared in the database: JSON field access that SQLite and PostgreSQL both do.
    project = Notice.fields["project_name"].as_string()
    rows = db.session.execute(
        db.select(Notice.id, Notice.ref, Notice.published_on, Notice.window_end,
                  project.label("project_name"))
        .where(
            Notice.kind == "wage_clearance",
            Notice.status == "published",
            project.in_(sorted({notice.fields["project_name"] for notice in wage})),
        )
        .order_by(Notice.published_on, Notice.id)
    ).all()
    published = defaultdict(list)
    for row in rows:
        published[row.project_name].append(row)
    for notice in wage:
        for other in published[notice.fields["project_name"]]:
            if other.id != notice.id:
                state = "仍在公示" if not expiry.is_expired(other.window_end, today) else "已过期"
                found[notice.id].append(Concern(
                    SAME_PROJECT,
                    f"同一项目的工资结清公示已于{cn_date(other.published_on)}发布({other.ref},{state})。",
                ))


@dataclass(frozen=True)
class Waiting:
    """A submission as the queue lists it: how long it has waited and what to check."""

    notice: Notice
    waited: str
    concerns: list

    @property
    def flags(self):
        """Return the distinct flags of the concerns, in the order they came."""
        return list(dict.fromkeys(concern.flag for concern in self.concerns))

    @property
    def submitted_iso(self):
        """Return when it was submitted, in the board's time zone, for a ``<time>``."""
        return self.notice.submitted_at.astimezone(expiry.BOARD_TZ).isoformat(timespec="seconds")


def waiting(notices, now):
    """Return ``notices`` as the queue lists them at ``now`` (see :func:`concerns`)."""
    found = concerns(notices, expiry.board_today(now))
    return [Waiting(n, waited(n.submitted_at, now), found[n.id]) for n in notices]


def waited(since, now):
    """Return how long a submission has waited from ``since`` to ``now`` as a person says
    it: 12 分钟, 3 小时, 1 天 5 小时, 4 天.

    A duration, not a difference of calendar dates, so it reads the same in any time zone.
    """
    minutes = max(0, int((now - since).total_seconds() // 60))
    hours, days = minutes // 60, minutes // (24 * 60)
    if minutes < 1:
        return "不到 1 分钟"
    if hours < 1:
        return f"{minutes} 分钟"
    if days < 1:
        return f"{hours} 小时"
    if days < 3 and hours % 24:
        return f"{days} 天 {hours % 24} 小时"
    return f"{days} 天"


@dataclass(frozen=True)
class Shown:
    """One field of a submission as the review page shows it.

    ``form`` says how: ``text``, ``paragraph`` (its line breaks kept), ``lines`` (a list),
    ``sites`` (names with their links), ``items`` (loss items as a table), ``choices`` (the
    chosen options by their names).
    """

    label: str
    form: str
    value: object


def _choice_names(unbound, codes):
    names = {choice.value: choice.label for choice in unbound.kwargs.get("choices", ())}
    return [names.get(code, code) for code in codes]


def shown_fields(kind, fields):
    """Return every field of ``fields`` (a notice's, unmasked) as :class:`Shown`, in the
    order the form asks for them, each as a person wrote or chose it: choices by their
    Chinese names, lines as lines, links as links, loss items as rows."""
    declared, labels, asked = kind.declared, kind.labels, list(kind.form_fields)
    shown = []
    for name in asked + [name for name in fields if name not in asked]:
        if name not in fields or name.startswith("submitter_"):
            continue  # the submitter's contact has a section of its own
        value, unbound = fields[name], declared.get(name)
        field_class = unbound.field_class if unbound else None
        label = labels.get(name, name)
        if field_class and issubclass(field_class, FieldList):
            shown.append(Shown(label, "items", value))
        elif field_class and issubclass(field_class, SelectFieldBase):
            codes = value if isinstance(value, list) else [value]
            shown.append(Shown(label, "choices", _choice_names(unbound, codes)))
        elif field_class and issubclass(field_class, forms.SitesField):
            shown.append(Shown(label, "sites", value or []))
        elif isinstance(value, list):
            shown.append(Shown(label, "lines", [str(line) for line in value]))
        elif field_class and issubclass(field_class, TextAreaField):
            shown.append(Shown(label, "paragraph", value))
        else:
            shown.append(Shown(label, "text", "" if value is None else str(value)))
    return shown
