"""What an editor should know before deciding on a submission."""
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


def warnings(notice, today):
    """Return warnings for the review page: earlier declarations, repeats, a start in the past."""
    found = []
    kind = notice.kind_def
    if kind.submitter_sets_window and notice.status == "submitted" and notice.window_start < today:
        found.append(
            f"征集开始日期 {cn_date(notice.window_start)} 已过,发布前请联系提交人确定新的日期。"
        )
    for item in notice.items:
        earlier = db.session.scalars(
            db.select(Notice)
            .join(Notice.items)
            .where(
                LossItem.document_number == item.document_number,
                LossItem.document_type == item.document_type,
                Notice.status.in_(PUBLIC_STATUSES),
                Notice.id != notice.id,
            )
        ).all()
        for other in earlier:
            found.append(
                f"{item.document_type_name} {item.document_number} 已于"
                f"{cn_date(other.published_on)}在 {other.ref} 中声明作废。"
            )
    if notice.kind == "wage_clearance":
        # Compared in the database: JSON field access that SQLite and PostgreSQL both do.
        same = db.session.scalars(
            db.select(Notice).where(
                Notice.kind == "wage_clearance",
                Notice.status == "published",
                Notice.id != notice.id,
                Notice.fields["project_name"].as_string() == notice.fields["project_name"],
            )
        )
        for other in same:
            state = "仍在公示" if not expiry.is_expired(other.window_end, today) else "已过期"
            found.append(
                f"同一项目的工资结清公示已于{cn_date(other.published_on)}发布({other.ref},{state})。"
            )
    return found


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
