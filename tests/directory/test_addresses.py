"""Addresses as offices type them (tracker.directory.addresses)."""

from __future__ import annotations

import pytest

from tracker.directory.addresses import Address, AddressError, check, parse


def test_display_name_is_split_not_refused():
    assert parse("张三 <Zhang.San@TJ.gov.cn>") == [Address("zhang.san@tj.gov.cn", "张三")]


def test_two_addresses_are_two():
    assert [a.email for a in parse("a@x.cn；b@y.cn")] == ["a@x.cn", "b@y.cn"]
    assert [a.email for a in parse("a@x.cn, b@y.cn")] == ["a@x.cn", "b@y.cn"]
    assert [a.email for a in parse("张三 <a@x.cn>；李四 <b@y.cn>")] == ["a@x.cn", "b@y.cn"]


def test_invisible_characters_and_internationalised_domains():
    assert check("zhang\u200b@example.org\ufeff") == "zhang@example.org"
    assert check("zhang@例子.中国") == "zhang@xn--fsqu00a.xn--fiqs8s"


@pytest.mark.parametrize("bad", ["张三@example.org", "not-an-address", "a@@x.cn", "a@x.cn\r\nBcc: b@y",
                                 "", "a b@x.cn"])
def test_refusals_name_the_value_in_chinese(bad):
    with pytest.raises(AddressError) as exc:
        check(bad)
    assert "不是" in str(exc.value) and exc.value.status == 422
    assert (bad[:10] in str(exc.value)) if bad.strip() else "空" in str(exc.value)


def test_parse_is_all_or_none():
    with pytest.raises(AddressError, match="坏地址"):
        parse("a@x.cn；坏地址")
