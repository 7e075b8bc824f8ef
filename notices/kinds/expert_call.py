"""评标专家库专家征集公告: a call for experts to join an organisation's bid-evaluation panel."""
from notices import forms
from notices import wording
from notices.kinds.base import CallKind

METHODS = {"individual": "个人申请", "unit_recommendation": "单位推荐"}


class ExpertCallForm(forms.CallForm):
    requirements = forms.LinesField(
        "征集要求",
        [forms.Required("征集要求"), forms.max_lines(30, 300)],
        # 30 lines of 300, with room for the numbering people paste.
        max_length=10_000,
        description="每行一条,如“身体健康,能够承担评标工作”;编号和句末标点会自动加上",
    )
    application_methods = forms.MultiCheckboxField(
        "征集方式",
        [forms.required_choice("征集方式")],
        choices=forms.choices(METHODS),
        description="专家本人申请、由所在单位推荐,或两者皆可",
    )


class ExpertCall(CallKind):
    code = "expert_call"
    name = "评标专家库专家征集公告"
    short_name = "专家征集"
    summary = "企业、单位公开征集评标专家,建立或充实评标专家库。"
    ref_prefix = "ZJ"
    form = ExpertCallForm
    public_fields = (
        "issuer", "requirements", "application_methods", "details",
        "contact_unit", "contact_name", "contact_phone", "contact_email",
    )

    def text(self, fields, start, end):
        methods = [METHODS[m] for m in fields["application_methods"]]
        return self.compose(
            fields, start, end,
            intro=(
                f"根据工作安排,现面向社会公开征集{fields['issuer']}评标专家库专家,"
                "欢迎符合条件的各行业、各专业的专家报名。具体公告事项如下:"
            ),
            sections=[
                ("征集要求", wording.numbered_lines(fields["requirements"])),
                ("征集方式", wording.numbered_lines(methods, closing=False)),
            ],
            details_lead="请有意向的专家登录",
            contact=[
                f"联系单位:{fields['contact_unit']}",
                f"联系人:{fields['contact_name']}",
                f"电话:{fields['contact_phone']}",
                f"邮箱:{fields['contact_email']}",
            ],
        )


KIND = ExpertCall()
