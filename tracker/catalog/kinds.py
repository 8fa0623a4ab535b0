"""The kind of an agency guessed from the name a document writes (no city's names in code).

The one home of this rule: the table importer, the text parser and the Tianjin plan's own
parser (`parse.parse_plan_text`) all call `guess_agency_kind`, which reads the name's words:
- a government (…人民政府, …政府, …街道办事处, a zone's …区管委会) is a district government
  when it is one of the plan's districts or ends with 人民政府, unless it is the plan's own
  government (`government`) or the bare 市政府 / 市人民政府 / 省政府 a document writes for
  it, which is a city-level body (政府部门); a 管理委员会 of a city department
  (市国有资产监督管理委员会) is a department, not a zone's government;
- the courts and procuratorates (法院, 检察院) are judicial;
- people's organisations (残联, 妇联, 团…委, 共青团, 工会, 科协, 侨联, 文联, 工商联, 红十字会…)
  are mass organisations;
- Party organs (…委宣传部, 组织部, 统战部, 政法委, 文明办, 编办, 网信办, 纪委, 党校…);
- local units managed from the centre (人民银行…分行, 银保监/保监/银监/证监, 税务局/国税局, 海关, 调查总队/
  调查队, 气象局, 邮政管理局, 通信管理局, 烟草专卖局, 外汇管理局, 金融监管局 (not the
  government's own 地方金融监管局), 海事局, and the
  forces stationed there: 警备区, 武警…总队, 消防救援总队…), while the
  central bodies themselves (中国人民银行, 海关总署, 国家税务总局 …) are departments;
- enterprises (公司, 集团, 企业, a commercial 银行);
- anything else: a government department (`city_agency`, the label 政府部门).
A guess the office corrects in the directory; rule source: the usual names of Chinese
public bodies (《党政机关公文格式》 uses the same short names).
"""

from __future__ import annotations

import re
from collections.abc import Collection

from tracker.enums import AgencyKind

_GOVERNMENT = re.compile(
    r"(?:人民政府|政府|街道办事处|街道|(?:区|园|港|新城|生态城|岛)(?:管委会|管理委员会))$")
# the plan's own government as documents write it for short: a city-level body
_OWN_GOVERNMENT = re.compile(r"^(?:本)?[省市区县](?:人民)?政府$")
_JUDICIAL = re.compile(r"法院|检察院")
_MASS = re.compile(r"残联|残疾人联合会|妇联|妇女联合会|团[省市区县]?委$|共青团|工会|科协|侨联|文联"
                   r"|工商联|红十字会|社科联|作协|台联|青联|老龄协会|慈善总会")
_PARTY = re.compile(r"^中共|^[省市区县]委|[省市区县]委(?:宣传部|组织部|统战部|政法委|办公室|"
                    r"政策研究室|网信办|编办|老干部局|党校)|宣传部|组织部|统战部|政法委|文明办|编办"
                    r"|机构编制委员会办公室|网信办|纪委|监委|党校|党史")
_CENTRAL = re.compile(r"人民银行|银保监|保监|银监|证监|国税局|税务局|海关|调查总队|调查队|气象局"
                      r"|邮政管理局|通信管理局|烟草专卖局|外汇管理局|(?<!地方)金融监管|金融监督管理总局.+监管|铁路局|边检|出入境检验检疫"
                      r"|海事局|警备区|军分区|武警|消防救援|人民武装部|人武部|铁路公安|民航.*(?:管理局|监管局)")
# the central bodies themselves, as a State Council document names them: departments
_NATIONAL = re.compile(r"^(?:中国)?(?:人民银行|海关总署|国家税务总局|银保监会|银行保险监督管理委员会|证监会"
                       r"|国家外汇管理局|气象局|国家邮政局|国家烟草专卖局|国家统计局|国家铁路局)$")
_ENTERPRISE = re.compile(r"公司|集团|企业$|银行")


def guess_agency_kind(name: str, districts: Collection[str] = (),
                      government: str | None = None) -> AgencyKind:
    """The kind of the agency called `name` (as the table or text writes it).

    `districts` are the plan's district governments (`PlanInfo.districts`): one of them
    is a district government whatever its name ends with; `government` is the plan's own
    (`PlanInfo.government`), which is not. Order matters: a 团市委 is a mass organisation
    before it is a Party organ; 人民银行 a central unit before a bank.
    """
    if name in districts:
        return AgencyKind.DISTRICT_GOVERNMENT
    if name == government or _OWN_GOVERNMENT.match(name):
        return AgencyKind.CITY_AGENCY
    if name.endswith("人民政府"):
        return AgencyKind.DISTRICT_GOVERNMENT
    if _JUDICIAL.search(name):
        return AgencyKind.JUDICIAL
    if _MASS.search(name):
        return AgencyKind.MASS_ORGANISATION
    if _PARTY.search(name):
        return AgencyKind.PARTY_ORGAN
    if _NATIONAL.match(name):
        return AgencyKind.CITY_AGENCY
    if _CENTRAL.search(name):
        return AgencyKind.CENTRAL_BRANCH
    if _ENTERPRISE.search(name):
        return AgencyKind.ENTERPRISE
    if _GOVERNMENT.search(name):
        return AgencyKind.DISTRICT_GOVERNMENT
    return AgencyKind.CITY_AGENCY
