"""Error responses decided at app level: JSON under /api/, a page everywhere else."""
from flask import render_template
from flask import request
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from notices.api import error_response

MESSAGES = {
    400: "请求有误",
    403: "没有权限访问此页",
    404: "找不到这个页面或公告",
    405: "不支持这种请求方式",
    413: "提交的内容过大",
    429: "操作太频繁,请稍后再试",
    500: "服务器出错了,我们会尽快修复",
}


def handle_csrf_error(error):
    """Explain a refused form in words a person can act on."""
    error.description = "页面已过期或来源不明。请返回上一页,刷新后重新提交。"
    return handle_http_error(error)


def _own_description(error):
    """Return the description the board gave ``error``, or None for werkzeug's English one."""
    if isinstance(error, RateLimitExceeded):
        # Without a message of ours, Flask-Limiter describes the limit itself: "20 per 1 hour".
        return error.description if error.limit.error_message else None
    return error.description if error.description != type(error).description else None


def handle_http_error(error):
    """Answer an HTTP error in the form the client asked for."""
    own = _own_description(error)
    if request.path.startswith("/api/"):
        if error.code in (400, 404):
            message = error.description
        else:
            message = own or MESSAGES.get(error.code)
        response = error_response(error.code, message or error.name)
    else:
        response = render_template(
            "errors/error.html",
            code=error.code,
            title=MESSAGES.get(error.code, error.name),
            detail=own,
        ), error.code
    return response


def init_app(app):
    # Unexpected exceptions reach this too, as a 500, after Flask has logged them.
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
