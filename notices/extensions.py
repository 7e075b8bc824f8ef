"""Flask extensions, created unbound and attached to the app in ``create_app``."""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


# The database: models import it from here, never from the package.
db = SQLAlchemy(model_class=Base)
# Schema changes go through Alembic migrations kept in the repository's migrations/.
migrate = Migrate()
# CSRF protection for every form that changes state.
csrf = CSRFProtect()
# Editor sessions.
login_manager = LoginManager()
login_manager.login_view = "editor.login"
login_manager.login_message = "请先登录编辑账户"
login_manager.login_message_category = "warning"
# Flood protection for submissions and logins; storage is set by RATELIMIT_STORAGE_URI.
limiter = Limiter(get_remote_address)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    # SQLite leaves foreign keys unchecked unless asked on every connection.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # Readers never wait for a writer, and a writer waits its turn instead of failing.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
