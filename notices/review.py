"""What an editor should know before deciding on a submission."""
from notices import expiry
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
