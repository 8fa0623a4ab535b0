"""Further addresses of a contact: `tracker liaison address add/remove` (issue 8, item 2)."""

from __future__ import annotations

from typing import Annotated

import typer

from tracker.cli.common import console, factory, fail, liaison_app

address_app = typer.Typer(help="Further addresses of a contact (a copy of every notice).",
                          no_args_is_help=True)
liaison_app.add_typer(address_app, name="address")

Agency = Annotated[str, typer.Option(help="the contact's agency (name or alias)")]
Primary = Annotated[str, typer.Option(help="the contact's primary address")]
Extra = Annotated[str, typer.Option(help="the further address")]
Government = Annotated[str | None, typer.Option(
    help="the agency's government, when the name exists under several")]


def _change(agency: str, email: str, extra: str, government: str | None, remove: bool) -> None:
    from tracker.db import transaction
    from tracker.directory.contacts import find_contact
    from tracker.directory.extra_addresses import add_address, remove_address
    from tracker.errors import DomainError

    with transaction(factory()) as session:
        try:
            contact = find_contact(session, agency=agency, email=email, government=government)
            done = (remove_address if remove else add_address)(session, contact, extra)
        except DomainError as exc:
            raise fail(str(exc)) from exc
        who = f"{contact.name}（{contact.email}）"
    if remove:
        console.print(f"已删除{who}的附加地址 {done.address}，不再向其发送通知；"
                      f"{done.dropped} 条待发送通知已撤销。" if done.changed else
                      f"{done.address} 此前已删除，未作改动。", highlight=False, soft_wrap=True)
    else:
        console.print(f"已为{who}添加附加地址 {done.address}：此后发给该联系人的通知同时发往此地址。"
                      if done.changed else f"{done.address} 已是{who}的附加地址，未重复添加。",
                      highlight=False, soft_wrap=True)


@address_app.command("add")
def address_add(agency: Agency, email: Primary, extra: Extra,
                government: Government = None) -> None:
    """Add a further address to a contact: every later notice to them goes there too."""
    _change(agency, email, extra, government, remove=False)


@address_app.command("remove")
def address_remove(agency: Agency, email: Primary, extra: Extra,
                   government: Government = None) -> None:
    """Remove a contact's further address: nothing more is sent there, waiting notices
    to it are dropped."""
    _change(agency, email, extra, government, remove=True)
