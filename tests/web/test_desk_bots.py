"""The desk's item page names a group bot's channel (not "文件")."""

from __future__ import annotations

from cryptography.fernet import Fernet
from pydantic import SecretStr

from tests.conftest import at
from tests.web.test_desk import desk, login  # noqa: F401  (the fixture and helper)
from tracker.db import transaction
from tracker.directory.bots import add_bot
from tracker.enums import ChannelKind, MessageKind
from tracker.models import ProgressRequest
from tracker.outbox import enqueue_for_requests


def test_item_page_shows_a_bot_message_with_its_channel(desk, db):  # noqa: F811
    client, _, _, overdue = desk
    rid = overdue[0]
    with transaction(db) as s:
        agency_id = s.get_one(ProgressRequest, rid).agency_id
        add_bot(s, agency_id=agency_id, kind=ChannelKind.WECOM, name="督办工作群", token="k",
                secret=None, key=SecretStr(Fernet.generate_key().decode()), now=at("2017-04-12"))
        assert enqueue_for_requests(s, ProgressRequest.id == rid, kind=MessageKind.PROGRESS_REQUEST,
                                    level=0, now=at("2017-04-12"), channel=ChannelKind.EMAIL) == 1
    login(client)
    page = client.get(f"/desk/requests/{rid}").text
    assert "督办工作群" in page and "企业微信群机器人" in page
