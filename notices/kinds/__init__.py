"""The registry of notice types, in the order a newspaper column prints them.

Adding a type is one module here (a :class:`~notices.kinds.base.Kind` and its form) plus its
templates, and one line below.
"""
from notices.kinds import expert_call
from notices.kinds import loss_declaration
from notices.kinds import supplier_call
from notices.kinds import wage_clearance

KINDS = {
    kind.code: kind
    for kind in (
        supplier_call.KIND,
        expert_call.KIND,
        wage_clearance.KIND,
        loss_declaration.KIND,
    )
}


def get(code):
    """Return the type registered under ``code``, or None."""
    return KINDS.get(code)
