"""供应商入库征集公告: a call for suppliers to join an organisation's supplier registry."""
from notices import forms
from notices import wording
from notices.kinds.base import CallKind

SCOPES = {"works": "工程", "goods": "货物", "services": "服务"}


class SupplierCallForm(forms.CallForm):
    scopes = forms.MultiCheckboxField(
        "征集范围",
        [forms.required_choice("征集范围")],
        choices=forms.choices(SCOPES),
        description="供应商可申请入库的类别:工程、货物、服务,可多选",
    )
    requirements = forms.LinesField(
        "申请入库基本条件",
        [forms.Required("申请入库基本条件"), forms.max_lines(30, 300)],
        # 30 lines of 300, with room for the numbering people paste.
        max_length=10_000,
        description="每行一条,如“具有独立法人资格”;编号和句末标点会自动加上",
    )
    participation = forms.ParagraphField(
        "入库供应商参与范围",
        [forms.Required("入库供应商参与范围")],
        max_length=2000,
        filters=[forms.strip],
        description="入库供应商以何种方式参与哪些采购,如合同估算价的上限",
    )


class SupplierCall(CallKind):
    code = "supplier_call"
    name = "非招标采购供应商入库征集公告"
    short_name = "供应商征集"
    summary = "企业、单位公开征集供应商进入合格供应商库,用于询价、竞争性谈判等非招标采购。"
    ref_prefix = "GY"
    scopes = SCOPES
    form = SupplierCallForm
    public_fields = (
        "issuer", "scopes", "requirements", "participation", "details",
        "contact_unit", "contact_name", "contact_phone", "contact_email",
    )

    def text(self, fields, start, end):
        return self.compose(
            fields, start, end,
            intro=(
                f"根据工作安排,现面向社会公开征集供应商进入{fields['issuer']}合格供应商库,"
                "欢迎优质供应商报名登记。具体公告事项如下:"
            ),
            sections=[
                ("征集范围", ["、".join(SCOPES[s] for s in fields["scopes"])]),
                ("申请入库基本条件", [wording.inline_list(fields["requirements"])]),
                ("入库供应商参与范围", fields["participation"].splitlines()),
            ],
            details_lead="请应征供应商登录",
            # The printed call sets the contact's name and phone on one line.
            contact=[
                f"联系单位:{fields['contact_unit']}",
                f"联系人:{fields['contact_name']} 电话:{fields['contact_phone']}",
                f"邮箱:{fields['contact_email']}",
            ],
        )


KIND = SupplierCall()
