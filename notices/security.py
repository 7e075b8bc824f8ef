"""Headers sent with every response, error pages included, and who the client is."""
from werkzeug.middleware.proxy_fix import ProxyFix

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def add_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def init_app(app):
    app.after_request(add_headers)
    # Behind a reverse proxy every request comes from the proxy's address: rate limits would
    # count all visitors as one, and ten wrong passwords would lock every editor out. Trust
    # X-Forwarded-For/-Proto from exactly as many proxies as are configured, no more, so a
    # client cannot pick its own address.
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
