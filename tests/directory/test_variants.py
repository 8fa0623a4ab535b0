"""Names that likely stand for one agency (issue 13, F4; `tracker.directory.variants`): the
rule on pairs, and the first plan of a government, which establishes its directory, still
puts its look-alike names on the review list (never merged), the declared alias not."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import at
from tests.factories import small_plan
from tracker.catalog.load import load_catalog
from tracker.catalog.schema import Catalog
from tracker.db import transaction
from tracker.directory.review import review_page
from tracker.directory.variants import likely_variant, normal_form, variants_to_review
from tracker.models import Agency, DirectoryReview


@pytest.mark.parametrize(("a", "b", "same"), [
    ("市人力社保局", "市人力资源和社会保障局", True),  # an abbreviation
    ("市人力资源社会保障局", "市人力资源和社会保障局", True),  # 和 dropped
    ("市教委", "市教育委员会", True),  # 委员会 written out
    ("和平区政府", "和平区人民政府", True),
    ("市发展改革委", "市发展和改革委员会", True),
    ("河东区人民政府", "河西区人民政府", False),  # same length, another district
    ("市国税局", "市地税局", False),
    ("市委", "市委宣传部", False),  # too short to be an abbreviation
    ("市民政局", "市民族宗教委", False),  # another kind (局, 委)
    ("市统计局", "区统计局", False),  # another level
    ("市财政局", "市财政局", False),  # the same name is not a variant of itself
    # two plates: the name written with its second name in brackets, and either name
    ("省旅游文化广电体育厅（省体育局）", "省体育局", True),
    ("省旅游文化广电体育厅（省体育局）", "省旅游文化广电体育厅", True),
    ("市住房城乡建设局(市人防办)", "市人民防空办公室", True),  # the bracketed name, abbreviated
    ("省旅游文化广电体育厅（省体育局）", "省财政厅", False),
])
def test_the_rule_on_pairs(a, b, same):
    assert likely_variant(a, b) is same
    assert likely_variant(b, a) is same


def test_normal_form():
    assert normal_form("市 人力资源和社会保障局") == "市人力资源社会保障局"
    assert normal_form("市教育委员会") == "市教育委"
    assert normal_form("和平区人民政府") == "和平区政府"


def test_which_of_two_goes_to_review():
    # the shorter (the abbreviation) beside the name in full; of two of one length, the later
    assert variants_to_review(["市人力资源和社会保障局", "市财政局", "市人力社保局"], []) == {
        "市人力社保局": "市人力资源和社会保障局"}
    assert variants_to_review(["和平区政府", "和平区人民政府"], []) == {"和平区政府": "和平区人民政府"}
    # a new name beside one the directory has: always the new one
    assert variants_to_review(["市人力资源和社会保障局"], ["市人力社保局"]) == {
        "市人力资源和社会保障局": "市人力社保局"}
    # names known to be one agency (a declared alias) are not in doubt
    assert variants_to_review(["市人力资源和社会保障局", "市人力社保局"], [],
                              same={"市人力资源和社会保障局": 1, "市人力社保局": 1}) == {}


def test_a_second_name_in_brackets_is_reviewed_beside_the_bare_name():
    assert variants_to_review(["省旅游文化广电体育厅（省体育局）", "省财政厅", "省体育局"], []) == {
        "省体育局": "省旅游文化广电体育厅（省体育局）"}
    assert variants_to_review(["省体育局"], ["省旅游文化广电体育厅（省体育局）"]) == {
        "省体育局": "省旅游文化广电体育厅（省体育局）"}


def test_the_seed_names_no_variants(catalog):
    names = [a.name for a in catalog.agencies]
    assert len(names) == 52 and variants_to_review(names, []) == {}


def test_the_first_plan_puts_its_look_alike_names_on_the_review_list(db):
    data = small_plan(plan_id="plan-a").model_dump(mode="json")
    data["schema_version"] = 2
    data["agencies"] += [{"name": "市人力资源社会保障局", "kind": "city_agency"},  # 和 left out
                         {"name": "市教委", "kind": "city_agency"}]
    data["measures"][1]["co"] = ["市残联", "市人力资源社会保障局", "市教委"]
    with transaction(db) as s:
        result = load_catalog(s, Catalog.model_validate(data), at("2017-01-05"))
        rows = s.execute(select(DirectoryReview.kind, DirectoryReview.phrase,
                                DirectoryReview.reason, Agency.name)
                         .join(Agency, Agency.id == DirectoryReview.agency_id)).all()
        page = review_page(s)
    # the directory starts with every name (nothing merged), one of them in doubt; the
    # declared alias 市人力社保局 and the names unlike any other are not
    assert result.changes["agencies_created"] == 10 and result.changes["reviews_created"] == 1
    assert [tuple(r) for r in rows] == [(
        "name", "市人力资源社会保障局",
        "与“市人力资源和社会保障局”可能是同一单位的不同写法，载入时已作为新单位加入，其进展调度暂不发送、"
        "不催办；如是同一单位，请对应到“市人力资源和社会保障局”，否则请确认为新单位",
        "市人力资源社会保障局")]
    assert [(i.row.phrase, i.similar) for i in page.open] == [
        ("市人力资源社会保障局", ["市人力资源和社会保障局"])]
