"""The privacy notice (个人信息保护说明): what each form collects, why, who sees it, how long."""
from urllib.parse import urlsplit

from flask import Blueprint
from flask import current_app
from flask import render_template

from notices import privacy

bp = Blueprint("privacy", __name__)


def init_app(app):
    """Let every template name what a form publishes and the notice's version."""
    app.add_template_global(privacy.PUBLISHED, "PUBLISHED")
    app.add_template_global(privacy.PRIVACY_VERSION, "PRIVACY_VERSION")


def contact():
    """Return where people write about their data: FLASK_PRIVACY_CONTACT, else privacy@ the
    board's own host."""
    configured = current_app.config.get("PRIVACY_CONTACT")
    return configured or f"privacy@{urlsplit(current_app.config['PUBLIC_URL']).hostname}"


@bp.get("/privacy")
def notice():
    """Show the privacy notice with the retention periods as configured."""
    return render_template(
        "privacy/notice.html",
        days=privacy.periods(current_app.config),
        window_days=current_app.config["NOTICE_WINDOW_DAYS"],
        log_days=privacy.LOG_RETENTION_DAYS,
        backup_days=privacy.BACKUP_RETENTION_DAYS,
        contact=contact(),
        version=privacy.PRIVACY_VERSION,
    )
