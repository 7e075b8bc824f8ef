"""Editor accounts: creation, passwords hashed with Argon2id, and login sessions."""
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError
from flask import current_app

from notices import expiry
from notices import wording
from notices.extensions import db
from notices.extensions import login_manager
from notices.extensions import reading
from notices.models import LoginSession
from notices.models import User
from notices.services import hash_token

# argon2-cffi's defaults are RFC 9106's low-memory profile (64 MiB, 3 passes), above OWASP's floor.
hasher = PasswordHasher()

# An "authority" handles the objections addressed to it (notices/objections) and nothing else.
ROLES = ("editor", "admin", "authority")
MIN_PASSWORD = 10
# The longest authority name a wage notice may give (kinds/wage_clearance.py).
MAX_AUTHORITY = 100


class AccountError(ValueError):
    """An account that cannot be created as asked; the message says why."""


def _check(username, password, role, authority=None):
    if not username or len(username) > 50 or not username.replace("-", "").replace("_", "").isalnum():
        raise AccountError("用户名须为1至50位字母、数字、-或_")
    if role not in ROLES:
        raise AccountError(f"角色只能是 {' 或 '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"密码至少{MIN_PASSWORD}位")
    if role == "authority" and not (authority and len(authority) <= MAX_AUTHORITY):
        raise AccountError(f"受理部门账户须填写部门名称(1至{MAX_AUTHORITY}个字),与公示中的写法一致")
    if role != "authority" and authority:
        raise AccountError("只有受理部门账户填写部门名称")


def find(username):
    return db.session.scalar(db.select(User).where(User.username == username))


def create_user(username, password, *, role="editor", authority=None):
    """Create an account; refuse a taken name, a weak password or an unknown role.

    An ``authority`` account names the authority whose objections it handles.
    """
    authority = wording.visible(authority).strip() if authority else None
    _check(username, password, role, authority)
    if find(username) is not None:
        raise AccountError(f"用户 {username} 已存在")
    user = User(
        username=username,
        password_hash=hasher.hash(password),
        role=role,
        authority=authority,
        created_at=expiry.utcnow(),
    )
    db.session.add(user)
    db.session.commit()
    return user


def set_password(username, password, *, role="editor"):
    """Create the account or give it a new password; return it."""
    user = find(username)
    if user is None:
        return create_user(username, password, role=role)
    _check(username, password, role, user.authority)
    user.password_hash = hasher.hash(password)
    # Whoever knew the old password is logged out with it.
    end_sessions_of(user, now=expiry.utcnow())
    db.session.commit()
    return user


def authenticate(username, password):
    """Return the active user with this name and password, or None.

    The password is checked in a read-only transaction, ended before anything is written:
    Argon2 takes a tenth of a second on purpose, and a stream of wrong passwords must not
    keep the board's writers waiting for the lock.
    """
    reading()
    user = find(username)
    if user is None or not user.active:
        # Hash anyway, so a wrong name costs as long as a wrong password.
        hasher.hash(password)
        user = None
    else:
        try:
            hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            user = None
    db.session.commit()
    if user is not None and hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
        db.session.commit()
    return user


def start_session(user, *, now):
    """Open a login session for ``user`` and return it ready for ``login_user``."""
    user.session_id = secrets.token_urlsafe(32)
    db.session.add(LoginSession(id_hash=hash_token(user.session_id), user_id=user.id, created_at=now))
    db.session.commit()
    return user


def _end_sessions(*where, now):
    db.session.execute(
        db.update(LoginSession).where(LoginSession.ended_at.is_(None), *where).values(ended_at=now)
    )


def end_session(session_id, *, now):
    """End one login session: its cookie is refused from now on, wherever it is replayed."""
    _end_sessions(LoginSession.id_hash == hash_token(session_id), now=now)
    db.session.commit()


def end_sessions_of(user, *, now):
    """End every open login session of ``user`` (a new password, a disabled account)."""
    _end_sessions(LoginSession.user_id == user.id, now=now)


def end_all_sessions(*, now):
    """End every open login session (a restored backup: everyone logs in again)."""
    _end_sessions(now=now)


@login_manager.user_loader
def load_user(session_id):
    """Return the active user of an open, unexpired login session, or None."""
    hours = current_app.config["LOGIN_SESSION_HOURS"]
    since = expiry.utcnow() - timedelta(hours=hours)
    user = db.session.scalar(
        db.select(User)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(
            LoginSession.id_hash == hash_token(session_id),
            LoginSession.ended_at.is_(None),
            LoginSession.created_at > since,
            # A disabled account's open sessions end with it.
            User.active.is_(True),
        )
    )
    if user is not None:
        user.session_id = session_id
    return user
