"""People named once on the desk (issue 10, office item 9)."""

from __future__ import annotations

from tracker.desk.actors import person_label, staff_label
from tracker.enums import StaffRole


def test_a_person_is_named_once_with_context_only_when_it_adds_something():
    assert person_label("张敏", "市残联联络员", said_by="市残联") == "张敏（市残联联络员）"
    assert person_label("市残联联络员", "市残联联络员", said_by="市残联") == "市残联联络员"
    assert staff_label("督查室（演示）", StaffRole.OFFICE) == "督查室（演示）"
    assert staff_label("绩效办", StaffRole.PERFORMANCE) == "绩效办"
    assert staff_label("王芳", StaffRole.PERFORMANCE) == "王芳（绩效办）"
    assert staff_label("张科长", StaffRole.OFFICE) == "张科长（督查室）"


def test_the_demos_simulated_people_read_as_such(db):
    from tracker.desk.actors import actor_names

    with db() as s:
        assert actor_names(s, ["demo:liaison", "demo:督查室"]) == {
            "demo:liaison": "联络员（演示）", "demo:督查室": "督查室（演示）"}
