"""Headers sent with every response, error pages included, who the client is, and where the
board lives in the site."""
from flask import abort
from flask import request
from werkzeug.middleware.proxy_fix import ProxyFix

from notices.urls import script_root

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

# Every answer under these belongs to one person (an editor's pages, a submitter's key in the
# path): no browser history, proxy or shared cache may keep a copy, errors and redirects
# included.
PRIVATE_SECTIONS = ("editor", "track")


def add_headers(response):
    if request.path.split("/", 2)[1] in PRIVATE_SECTIONS:
        response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


NUL_REFUSED = "请求中含有空字符(\\0),无法处理。请删除后重试。"


def refuse_nul():
    """Refuse a request whose path, query, form or JSON holds a NUL character.

    No person types one, PostgreSQL stores none in text or JSON (it fails the whole
    statement), and on SQLite one would end strings early for every C library reading them
    back. Refused here once, before any view, rather than by each field's validation.
    """
    if "\0" in request.path:
        abort(404)
    values = [*request.args.items(multi=True), *request.form.items(multi=True)]
    if any("\0" in key or "\0" in value for key, value in values):
        abort(400, description=NUL_REFUSED)
    if request.is_json:
        # Iteratively, as a body may nest as deep as its bounded length allows.
        pending = [request.get_json(silent=True)]
        while pending:
            value = pending.pop()
            if isinstance(value, str):
                if "\0" in value:
                    abort(400, description=NUL_REFUSED)
            elif isinstance(value, dict):
                pending.extend(value.keys())
                pending.extend(value.values())
            elif isinstance(value, list):
                pending.extend(value)


class PinnedScriptRoot:
    """WSGI middleware that serves the app at its configured root, whatever the server says.

    A server may take SCRIPT_NAME from a request header (gunicorn does, from addresses it
    trusts), and every link Flask builds starts with it: one request naming //evil.example
    would get a page whose links all lead there. A SCRIPT_NAME other than the configured
    root is read back as part of the path, so such a request finds nothing.
    """

    def __init__(self, wsgi_app, root):
        self.wsgi_app = wsgi_app
        self.root = root

    def __call__(self, environ, start_response):
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        if self.root and (path == self.root or path.startswith(self.root + "/")):
            # A proxy that passes the board's prefix on, instead of stripping it.
            path = path[len(self.root):]
        environ["SCRIPT_NAME"], environ["PATH_INFO"] = self.root, path
        return self.wsgi_app(environ, start_response)


def init_app(app):
    app.before_request(refuse_nul)
    app.after_request(add_headers)
    # Werkzeug answers /editor with a redirect to /editor/, and /a//b with one to /a/b, as
    # absolute URLs on whatever Host the request named: a 308 a shared cache may keep and
    # send everyone to another site. Routes match with or without their trailing slash
    # instead, and doubled slashes find nothing. Set before the blueprints add their rules.
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False
    app.wsgi_app = PinnedScriptRoot(app.wsgi_app, script_root(app))
    # Behind a reverse proxy every request comes from the proxy's address: rate limits would
    # count all visitors as one, and ten wrong passwords would lock every editor out. Trust
    # X-Forwarded-For/-Proto from exactly as many proxies as are configured, no more, so a
    # client cannot pick its own address.
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
