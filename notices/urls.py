"""Absolute addresses of the board, built from its configured public address.

A request's Host, X-Forwarded-Host and scheme are whatever the client chose to send. An
address the board writes down for someone else to follow (a tracking link in an API answer,
the permalink a submitter copies) is built from ``PUBLIC_URL`` alone.
"""
from contextlib import contextmanager
from urllib.parse import urlsplit

import segno
from flask import current_app

# Where `make demo` serves the board, so the demo's links work with no setting at all.
DEMO_URL = "http://127.0.0.1:5000"


def init_app(app):
    """Settle PUBLIC_URL: as configured, else from SERVER_NAME, else the demo's address."""
    address = app.config.get("PUBLIC_URL")
    if not address and app.config.get("SERVER_NAME"):
        root = (app.config.get("APPLICATION_ROOT") or "/").rstrip("/")
        address = f"{app.config['PREFERRED_URL_SCHEME']}://{app.config['SERVER_NAME']}{root}"
    address = (address or DEMO_URL).rstrip("/")
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"PUBLIC_URL must be the board's address, such as https://notices.example.cn, "
            f"not {address!r}"
        )
    app.config["PUBLIC_URL"] = address


def script_root(app):
    """Return the board's configured place in the site: "" at the root, or "/board"."""
    root = (app.config.get("APPLICATION_ROOT") or "").strip("/")
    return f"/{root}" if root else ""


@contextmanager
def board_request(endpoint, **values):
    """Run the block as a request for ``endpoint`` that any reader asking at the public
    address would make: no cookie, no header the client chose, the board's own script root.

    It has an app context of its own too, so nothing the enclosing request put in ``g`` (a
    CSRF token, the user) is seen. What is rendered inside depends on configuration alone,
    so it may be kept and served to everyone.
    """
    app = current_app._get_current_object()
    base = urlsplit(app.config["PUBLIC_URL"])
    path = app.url_map.bind(base.netloc, script_name="/").build(endpoint, values)
    # Flask's test_request_context is its one way to build a request from parts.
    origin = f"{base.scheme}://{base.netloc}{script_root(app)}"
    with app.app_context(), app.test_request_context(path, base_url=origin):
        yield


def public_url(endpoint, **values):
    """Return the absolute address of ``endpoint`` at the board's public address."""
    base = urlsplit(current_app.config["PUBLIC_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


def private_address(endpoint, token):
    """Return the address of a private page (a tracking page) at the board's public address,
    and its QR code.

    The code is an SVG inlined as a data: URI (the CSP allows data: images), so no request
    for an image carries the token to a log, a cache or anyone else.
    """
    address = public_url(endpoint, token=token)
    return address, segno.make(address, error="m").svg_data_uri(svgclass=None, lineclass=None)
