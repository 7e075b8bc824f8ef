import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from notices import create_app
from notices.extensions import db


def test_config_comes_from_prefixed_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FLASK_NOTICE_WINDOW_DAYS", "45")
    monkeypatch.setenv("FLASK_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path}/env.db")
    app = create_app()
    assert app.config["NOTICE_WINDOW_DAYS"] == 45
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("env.db")


def test_test_config_overrides_defaults(app):
    assert app.testing
    assert app.config["NOTICE_WINDOW_DAYS"] == 30


def test_secret_key_is_created_once_per_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("FLASK_SECRET_KEY", raising=False)
    config = {"SQLALCHEMY_DATABASE_URI": "sqlite://"}
    first = create_app(config)
    first.instance_path  # noqa: B018
    key_file = os.path.join(first.instance_path, "secret_key")
    second = create_app(config)
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) == 64
    assert oct(os.stat(key_file).st_mode & 0o777) == "0o600"


def test_migrations_match_the_models(app):
    with app.app_context():
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == []


def test_html_errors_outside_the_api(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "找不到这个页面或公告" in response.get_data(as_text=True)
    assert client.post("/").status_code == 405


def test_public_url_defaults_to_the_demo_address(monkeypatch):
    monkeypatch.delenv("FLASK_PUBLIC_URL", raising=False)
    monkeypatch.delenv("FLASK_SERVER_NAME", raising=False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "test"})
    assert app.config["PUBLIC_URL"] == "http://127.0.0.1:5000"


def test_public_url_comes_from_the_environment_or_server_name(monkeypatch):
    monkeypatch.setenv("FLASK_PUBLIC_URL", "https://notices.example.cn/")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "test"})
    assert app.config["PUBLIC_URL"] == "https://notices.example.cn"
    monkeypatch.delenv("FLASK_PUBLIC_URL")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "test",
                      "SERVER_NAME": "board.example", "PREFERRED_URL_SCHEME": "https"})
    assert app.config["PUBLIC_URL"] == "https://board.example"


@pytest.mark.parametrize("address", ["notices.example.cn", "ftp://notices.example.cn", "https://"])
def test_a_public_url_that_is_no_web_address_is_refused_at_start(address):
    with pytest.raises(ValueError, match="PUBLIC_URL"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "test",
                    "PUBLIC_URL": address})


def test_a_board_on_a_server_database_will_not_invent_its_secret_key(tmp_path, monkeypatch):
    """Each server would invent a key of its own: logins, form tokens and Idempotency-Keys made
    on one would fail, or be taken for new ones, on the next."""
    monkeypatch.delenv("FLASK_SECRET_KEY", raising=False)
    config = {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://board@db.example/board"}
    with pytest.raises(RuntimeError, match="set FLASK_SECRET_KEY to the same value on every server"):
        create_app(config, instance_path=str(tmp_path))
    assert not (tmp_path / "secret_key").exists()
    monkeypatch.setenv("FLASK_SECRET_KEY", "the same on every server")
    app = create_app(config, instance_path=str(tmp_path))
    assert app.config["SECRET_KEY"] == "the same on every server"
