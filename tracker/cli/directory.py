"""Commands for the plan and its directory: catalog, liaisons, meetings, agency sheets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from tracker.catalog import default_catalog_path
from tracker.catalog.schema import CatalogError
from tracker.cli.common import (
    agency_or_fail,
    app,
    catalog_app,
    console,
    current_settings,
    factory,
    fail,
    indicator_app,
    liaison_app,
    meeting_app,
    parse_now,
    plan_or_fail,
)


@catalog_app.command("validate")
def catalog_validate(path: Annotated[Path | None, typer.Argument(
                     help="default: ./tasks_catalog.json, else the checked-in catalog")] = None) -> None:
    """Check a catalog file; name each bad field with its JSON path and line."""
    from tracker.catalog.schema import load_catalog

    try:
        path = path or default_catalog_path()
        catalog = load_catalog(path)
    except (CatalogError, OSError) as exc:
        raise fail(str(exc)) from exc
    console.print(f"{path}：有效（任务 {len(catalog.measures)} 项，主要指标 {len(catalog.indicators)} 项）",
                  highlight=False, soft_wrap=True)


@catalog_app.command("load")
def catalog_load(path: Annotated[Path | None, typer.Argument(
                     help="default: ./tasks_catalog.json, else the checked-in catalog")] = None,
                 now: Annotated[str | None, typer.Option(help="ISO time")] = None,
                 replace: Annotated[bool, typer.Option(
                     "--replace", help="update a loaded plan in place although its issuer, "
                     "文号 or issue date differ, or although the catalog leaves out some of its "
                     "tasks (they are withdrawn, their open requests closed; reports are "
                     "kept)")] = False
                 ) -> None:
    """Load the catalog into the database (idempotent; updates in place). A new plan id
    adds a plan beside the others; another document under a loaded id, or a catalog
    without some of the plan's tasks (listed), is refused unless --replace."""
    from tracker.catalog.load import WithdrawalError
    from tracker.catalog.load import load_catalog as load_into
    from tracker.catalog.schema import load_catalog
    from tracker.cli.load_report import refuse_withdrawal, show_load
    from tracker.db import transaction
    from tracker.errors import DomainError

    try:
        catalog = load_catalog(path or default_catalog_path())
    except (CatalogError, OSError) as exc:
        raise fail(str(exc)) from exc
    with transaction(factory()) as session:
        try:
            result = load_into(session, catalog, parse_now(now), replace=replace,
                               rules=current_settings().rules)
        except WithdrawalError as exc:
            raise refuse_withdrawal(exc) from None
        except DomainError as exc:
            raise fail(str(exc)) from None
    show_load(result, catalog.plan.id)


@liaison_app.command("add")
def liaison_add(agency: str, name: str, email: str,
                deputy: Annotated[bool, typer.Option(help="deputy head in charge")] = False,
                government: Annotated[str | None, typer.Option(
                    help="the agency's government, when the name exists under several")] = None
                ) -> None:
    """Add a liaison (or, with --deputy, a deputy head) to an agency of the directory."""
    from tracker.db import transaction
    from tracker.directory.contacts import add_contact
    from tracker.enums import ContactRole
    from tracker.errors import DomainError

    with transaction(factory()) as session:
        try:
            added = add_contact(session, agency=agency, name=name, email=email,
                                role=ContactRole.DEPUTY_HEAD if deputy else ContactRole.LIAISON,
                                government=government)
        except DomainError as exc:
            raise fail(str(exc)) from exc
    console.print(f"已添加 {added} 位联系人" if added else "已存在，未重复添加")


@meeting_app.command("add")
def meeting_add(government: str, held_on: str, topic: str | None = None,
                plan: Annotated[str | None, typer.Option(help="plan id (when several)")] = None,
                now: Annotated[str | None, typer.Option()] = None) -> None:
    """Record an executive meeting (the plan's government or one of its districts)."""
    from tracker.annual.meetings import MeetingError, record_meeting
    from tracker.db import transaction

    with transaction(factory()) as session:
        chosen = plan_or_fail(session, plan)
        try:
            added = record_meeting(session, chosen, government=government,
                                   held_on=dt.date.fromisoformat(held_on),
                                   topic=topic or f"研究《{chosen.title}》实施工作",
                                   recorded_by="cli", now=parse_now(now))
        except (MeetingError, ValueError) as exc:
            raise fail(str(exc)) from exc
    console.print("recorded" if added else "already recorded")


@indicator_app.command("baseline")
def indicator_baseline(
    code: Annotated[str, typer.Argument(help="the indicator's code, e.g. I7")],
    value: Annotated[float, typer.Argument(
        help="the base year's value: a rate in %, or a growth indicator's level (e.g. 元)")],
    source: Annotated[str, typer.Option("--source", help="数据来源: where the value is printed")],
    plan: Annotated[str | None, typer.Option(help="plan id (when several)")] = None,
    now: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Record an indicator's baseline (基期值, the year before the plan's first); audited."""
    from tracker.annual.indicators import IndicatorError, base_year, record_baseline
    from tracker.db import transaction

    with transaction(factory()) as session:
        chosen = plan_or_fail(session, plan)
        try:
            ind = record_baseline(session, chosen, code, value, source=source, actor="cli",
                                  now=parse_now(now))
        except IndicatorError as exc:
            raise fail(exc.message) from exc
        unit = (ind.level_unit if ind.kind == "growth" else ind.unit) or ""
        console.print(f"{ind.code} {ind.name}：{base_year(chosen)}年基期值 {ind.baseline:g}{unit}"
                      f"（数据来源：{ind.baseline_source}）已记录")


@indicator_app.command("trajectory")
def indicator_trajectory(
    year: Annotated[int, typer.Argument(help="the data year, e.g. 2016")],
    plan: Annotated[str | None, typer.Option(help="plan id (when several)")] = None,
) -> None:
    """Print the indicators against their trajectory for a year."""
    from rich.table import Table

    from tracker.annual.indicators import trajectory_table

    with factory()() as session:
        chosen = plan_or_fail(session, plan)
        df = trajectory_table(session, chosen, year)
    table = Table(title=f"《{chosen.title}》{year}年主要指标进度")
    shown = ["编号", "指标", "属性", "基期值", "目标值", "本年应达值", "本年实际值", "是否符合进度",
             "处理情况"]
    for col in shown:
        table.add_column(col)
    for values in df.to_dict("records"):
        table.add_row(*("" if values[c] is None or values[c] != values[c] else str(values[c])
                        for c in shown))
    console.print(table)


@liaison_app.command("link")
def liaison_link(agency: str, now: Annotated[str | None, typer.Option()] = None,
                 government: Annotated[str | None, typer.Option(
                    help="the agency's government, when the name exists under several")] = None) -> None:
    """Print a signed answer link for each active liaison of an agency."""
    from sqlalchemy import select

    from tracker.directory.links import load_secret, make_token
    from tracker.enums import ContactRole
    from tracker.models import Contact

    settings = current_settings()
    secret = load_secret(settings.home, settings.secret_key)
    with factory()() as session:
        agency_id = agency_or_fail(session, agency, government)
        rows = session.scalars(select(Contact).where(
            Contact.agency_id == agency_id, Contact.active.is_(True),
            Contact.role == ContactRole.LIAISON)).all()
        if not rows:
            raise fail(f"{agency}没有在用的联络员：请先用 tracker liaison add 添加")
        for liaison in rows:
            token = make_token(secret, liaison, parse_now(now))
            console.print(f"{liaison.name} <{liaison.email}>: {settings.base_url}/l/{token}",
                          soft_wrap=True, highlight=False)


@liaison_app.command("revoke")
def liaison_revoke(email: str) -> None:
    """Invalidate every link issued so far to the liaison with this address."""
    from sqlalchemy import select

    from tracker.db import transaction
    from tracker.directory.addresses import AddressError, parse
    from tracker.directory.links import revoke
    from tracker.models import Contact

    try:
        addresses = [a.email for a in parse(email)]
    except AddressError as exc:
        raise fail(str(exc)) from exc
    with transaction(factory()) as session:
        ids = session.scalars(select(Contact.id).where(Contact.email.in_(addresses))).all()
        if not ids:
            raise fail(f"没有地址为 {'、'.join(addresses)} 的联系人")
        for liaison_id in ids:
            revoke(session, liaison_id)
    console.print(f"已停用 {len(ids)} 位联系人此前收到的全部答复链接", highlight=False)


@app.command("template")
def template(agency: str,
             output: Annotated[Path | None, typer.Option("-o", "--output")] = None,
             now: Annotated[str | None, typer.Option()] = None,
             government: Annotated[str | None, typer.Option(
                    help="the agency's government, when the name exists under several")] = None) -> None:
    """Write an agency's open requests to a pre-filled Excel sheet."""

    from tracker.dates.workdays import local_date
    from tracker.exchange.template import agency_template, template_filename

    at = parse_now(now)
    with factory()() as session:
        agency_id = agency_or_fail(session, agency, government)
        data = agency_template(session, agency_id, local_date(at), at)
        default = template_filename(session, agency_id, local_date(at))
    path = output or Path(default)
    path.write_bytes(data)
    console.print(f"{path}", highlight=False)


@app.command("import")
def import_sheet_cmd(agency: str, path: Path,
                     now: Annotated[str | None, typer.Option()] = None,
                     government: Annotated[str | None, typer.Option(
                    help="the agency's government, when the name exists under several")] = None) -> None:
    """Record a filled agency sheet (all rows, or nothing with each problem named)."""

    from tracker.db import transaction
    from tracker.exchange.convert import Converter
    from tracker.exchange.upload import UploadError, import_sheet
    from tracker.requests.reports import ReportError

    settings = current_settings()
    # .xls/.et and Strict Open XML through LibreOffice, as on the liaison's page
    converter = Converter.find(settings.soffice, settings.convert_timeout)
    with transaction(factory()) as session:
        agency_id = agency_or_fail(session, agency, government)
        try:
            result = import_sheet(session, path.read_bytes(), agency_id=agency_id,
                                  submitted_by="cli", now=parse_now(now), converter=converter)
        except (UploadError, ReportError, OSError) as exc:
            raise fail(f"{path} 未导入:\n{exc}") from exc
    console.print(f"已记录 {result.recorded} 项报送：按时 {result.on_time} 项，逾期 {result.late} 项",
                  highlight=False)


def _contact_table(session, ids: list[int], title: str):  # type: ignore[no-untyped-def]
    """The contacts `ids` as a Rich table (agency, role, name, address with its further
    addresses below it, state)."""
    from rich.table import Table
    from sqlalchemy import select

    from tracker.directory.extra_addresses import extra_addresses
    from tracker.models import Agency, Contact

    table = Table(title=title, title_justify="left")
    for column in ("编号", "单位", "角色", "姓名", "电子邮件", "状态"):
        table.add_column(column, no_wrap=column in ("电子邮件", "编号", "状态"))
    rows = session.execute(select(Contact, Agency).join(Agency, Agency.id == Contact.agency_id)
                           .where(Contact.id.in_(ids)).order_by(Contact.id)).all()
    extra = extra_addresses(session, ids)
    for contact, agency in rows:
        table.add_row(str(contact.id), f"{agency.government}·{agency.name}", contact.role.label,
                      contact.name, "\n".join([contact.email, *(
                          f"附加：{a}" for a in extra.get(contact.id, []))]),
                      "在用" if contact.active else "已停用")
    return table


@liaison_app.command("deactivate")
def liaison_deactivate(
    agency: Annotated[str | None, typer.Option(help="the contact's agency (name or alias)")] = None,
    email: Annotated[str | None, typer.Option(help="the contact's address")] = None,
    contact_id: Annotated[int | None, typer.Option("--id", help="the contact's id")] = None,
    government: Annotated[str | None, typer.Option(
        help="the agency's government, when the name exists under several")] = None,
) -> None:
    """Deactivate a contact: no more notices, every link issued to them stops working."""
    from tracker.db import transaction
    from tracker.directory.contacts import deactivate_contact, find_contact
    from tracker.errors import DomainError

    if contact_id is not None and (agency or email or government):
        raise fail("请只用 --id，或只用 --agency 和 --email 指定联系人，不要同时使用")
    with transaction(factory()) as session:
        try:
            contact = find_contact(session, agency=agency, email=email, contact_id=contact_id,
                                   government=government)
        except DomainError as exc:
            raise fail(str(exc)) from exc
        changed = deactivate_contact(session, contact.id)
        session.flush()
        console.print(_contact_table(session, [contact.id], "联系人"))
    console.print("已停用：不再向其发送通知，已发出的答复链接即时失效。" if changed
                  else "该联系人此前已停用，未作改动。", highlight=False, soft_wrap=True)


@liaison_app.command("replace")
def liaison_replace(
    agency: Annotated[str, typer.Option(help="the contact's agency (name or alias)")],
    email: Annotated[str, typer.Option(help="the address of the contact replaced")],
    new_email: Annotated[str, typer.Option(help="the new contact's address")],
    name: Annotated[str, typer.Option(help="the new contact's name")],
    government: Annotated[str | None, typer.Option(
        help="the agency's government, when the name exists under several")] = None,
    phone: Annotated[str | None, typer.Option(help="the new contact's telephone")] = None,
) -> None:
    """Replace a contact: the old one is deactivated, the new one gets the same role and
    the notices still waiting for the old one."""
    from tracker.db import transaction
    from tracker.directory.contacts import replace_contact
    from tracker.errors import DomainError

    with transaction(factory()) as session:
        try:
            done = replace_contact(session, agency=agency, old_email=email, new_email=new_email,
                                   name=name, government=government, phone=phone)
        except DomainError as exc:
            raise fail(str(exc)) from exc
        session.flush()
        console.print(_contact_table(session, [done.old_id, done.new_id], "联系人替换"))
    console.print(f"原联系人{'已停用，其答复链接即时失效' if done.deactivated else '此前已停用'}；"
                  f"新联系人{'已添加' if done.added else '已在名录中，已启用'}；"
                  f"{done.handed_over} 条待发送通知改由新联系人接收。", highlight=False, soft_wrap=True)


@liaison_app.command("list")
def liaison_list(
    agency: Annotated[str | None, typer.Option(help="one agency (name or alias)")] = None,
    government: Annotated[str | None, typer.Option(
        help="the agency's government, when the name exists under several")] = None,
    email: Annotated[str | None, typer.Option(
        help="one person's address (primary or further), at every agency")] = None,
    all_: Annotated[bool, typer.Option("--all", help="deactivated contacts too")] = False,
) -> None:
    """Contacts of the directory with their ids (for deactivate --id), active ones by default."""
    from sqlalchemy import select

    from tracker.directory.addresses import AddressError, parse
    from tracker.models import Contact, ContactAddress

    with factory()() as session:
        query = select(Contact.id).order_by(Contact.agency_id, Contact.role, Contact.id)
        if agency is not None:
            query = query.where(Contact.agency_id == agency_or_fail(session, agency, government))
        if email is not None:
            try:
                wanted = [a.email for a in parse(email)]
                query = query.where(Contact.email.in_(wanted) | Contact.id.in_(
                    select(ContactAddress.contact_id).where(ContactAddress.address.in_(wanted),
                                                            ContactAddress.active.is_(True))))
            except AddressError as exc:
                raise fail(str(exc)) from exc
        if not all_:
            query = query.where(Contact.active.is_(True))
        ids = list(session.scalars(query))
        if not ids:
            console.print("没有符合条件的联系人。")
            return
        console.print(_contact_table(session, ids, f"联系人（{len(ids)} 位）"))
