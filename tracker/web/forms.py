"""The pages' forms as pydantic models, read by FastAPI (`Annotated[Model, Form()]`).

Every field is a permissive string with a default, so no form ever fails here with a
bare 422: what a field must hold is checked by the service the route calls (an answer by
`tracker.requests.reports.ReportInput`, a reason by the office's actions), which refuses
with Chinese words the page shows next to what was typed. Lengths are clipped only where
the routes clipped them before (sign-in fields, a meeting's topic).

Staff forms also carry `csrf`, the single-use form token; `tracker.web.deps` consumes it
before the handler runs, so the desk models below do not repeat it.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

from fastapi import UploadFile
from pydantic import AfterValidator, model_validator
from pydantic import BaseModel as _PydanticModel
from starlette.datastructures import UploadFile as ParsedUpload

from tracker.requests.drafts import DRAFT_FIELDS
from tracker.text import clean_text


class FormModel(_PydanticModel):
    """Every form: each text field loses its control characters before anything else
    (`tracker.text.clean_text`), so nothing typed stores a NUL or an escape sequence."""

    @model_validator(mode="before")
    @classmethod
    def _clean(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: clean_text(v) if isinstance(v, str) else v for k, v in data.items()}
        return data


def _clip(limit: int) -> AfterValidator:
    return AfterValidator(lambda value: value[:limit])


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _positive_int(value: str) -> int | None:
    """A database id typed in a form (1 … 2**31-1), else None."""
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 0 < number < 2**31 else None


# The liaison's pages -------------------------------------------------------------------


class AnswerForm(FormModel):
    """A liaison's answer as typed: saved as a draft (`action=save`) or submitted."""

    action: str = "submit"
    status: str = ""
    percent: str = ""
    narrative: str = ""
    problems: str = ""
    next_steps: str = ""
    value: str = ""
    numerator: str = ""  # an indicator's 分子, 分母 and 数据来源 (issue 11, item 3)
    denominator: str = ""
    source: str = ""

    @property
    def saving(self) -> bool:
        return self.action == "save"

    def fields(self) -> dict[str, str]:
        """The answer's fields as typed (a draft, or the form shown again with errors)."""
        return {k: getattr(self, k) for k in DRAFT_FIELDS}


class AnswerWithFileForm(AnswerForm):
    """The answer form with its optional evidence file (multipart, issue 10 item 1):
    `action` submit (the file goes with the answer), save (a draft, and the file) or upload
    (the file only; what was typed is kept as a draft first)."""

    file: UploadFile | str | None = None

    @property
    def uploading(self) -> bool:
        return self.action == "upload"

    @property
    def chosen(self) -> ParsedUpload | None:
        """The chosen file, or None (an empty file part when nothing was chosen)."""
        if isinstance(self.file, ParsedUpload) and self.file.filename:
            return self.file
        return None


class ExplanationForm(FormModel):
    """An owner's written explanation of an indicator off its trajectory (说明)."""

    text: str = ""


class BaselineForm(FormModel):
    """The office's baseline (基期值) of an indicator: code, value as typed, source."""

    plan: str = ""
    year: str = ""  # the page's year, to return to
    code: str = ""
    value: str = ""
    source: Annotated[str, _clip(1000)] = ""

    @property
    def plan_id(self) -> int | None:
        return _positive_int(self.plan)

    @property
    def number(self) -> float | None:
        """The value as a finite number, or None."""
        try:
            x = float(self.value.strip())
        except ValueError:
            return None
        return x if math.isfinite(x) else None


class ExtensionAskForm(FormModel):
    """A liaison asks for a later due day (延期申请)."""

    new_due_on: str = ""
    reason: str = ""

    @property
    def new_due_date(self) -> dt.date | None:
        """The day asked for, or None if the field is not an ISO date."""
        return _date(self.new_due_on)


class UploadForm(FormModel):
    """One file: evidence, or the agency's filled Excel sheet.

    A browser sends an empty file part when nothing was chosen (read as None); a text
    field of the same name (no browser sends one) is taken as no file either.
    """

    file: UploadFile | str | None = None

    @property
    def chosen(self) -> ParsedUpload | None:
        # the value is Starlette's UploadFile (FastAPI's subclass only types the field)
        if isinstance(self.file, ParsedUpload) and self.file.filename:
            return self.file
        return None


# The desk ------------------------------------------------------------------------------


class LoginForm(FormModel):
    username: Annotated[str, _clip(80)] = ""
    password: Annotated[str, _clip(200)] = ""
    csrf: str = ""  # the sign-in form's nonce, matched against its cookie
    next: str = "/desk"


def _back_to_queue(value: str) -> str | None:
    """A queue page to return to after an action taken there (nothing else is followed)."""
    return value if value.startswith("/desk/queues/") and "//" not in value else None


class ConfirmForm(FormModel):
    """An outward or destructive action's second step: `confirm=1` acts; without it the
    action's confirmation page is shown (issue 10, item 3)."""

    confirm: str = ""
    # the fingerprint of the document the confirmation page showed (circulars: issue 12)
    digest: Annotated[str, _clip(64)] = ""

    @property
    def confirmed(self) -> bool:
        return self.confirm == "1"


class RequestActionForm(ConfirmForm):
    """Escalate now (no field), waive (`reason`) or add a note (`text`)."""

    reason: str = ""
    text: str = ""
    level: str = ""  # escalate: the rung the confirmation page showed (a Level value)

    @property
    def to_level(self) -> int | None:
        return int(self.level) if self.level.isdigit() else None


class ReviewForm(FormModel):
    comment: str = ""
    back: str = ""  # the queue page the review was made from

    @property
    def queue(self) -> str | None:
        return _back_to_queue(self.back)


class CheckedReportsForm(FormModel):
    """The review queue's checked rows (`report`: report ids), accepted at once."""

    report: list[int] = []
    back: str = ""  # the queue page the rows were checked on

    @property
    def queue(self) -> str | None:
        return _back_to_queue(self.back)


class ExtensionDecisionForm(FormModel):
    decision: str = ""  # grant | refuse
    note: str = ""
    back: str = ""  # the queue page the decision was made from

    @property
    def queue(self) -> str | None:
        return _back_to_queue(self.back)

    @property
    def grant(self) -> bool | None:
        """True to grant, False to refuse, None when neither was chosen."""
        return {"grant": True, "refuse": False}.get(self.decision)


class CloseOutForm(ConfirmForm):
    request_id: str = ""  # the item page to return to

    @property
    def back_to(self) -> int:
        return _positive_int(self.request_id) or 0


class MeetingForm(FormModel):
    government: str = ""
    held_on: str = ""
    topic: Annotated[str, _clip(500)] = ""
    plan: str = ""

    @property
    def held_on_date(self) -> dt.date | None:
        return _date(self.held_on)

    @property
    def plan_id(self) -> int | None:
        return _positive_int(self.plan)


class RequeueForm(FormModel):
    """Put dead letters back in the queue: one (`message`, its id) or all (`all=1`)."""

    message: str = ""
    all: str = ""

    @property
    def everything(self) -> bool:
        return self.all == "1" and not self.message

    @property
    def message_id(self) -> int | None:
        return _positive_int(self.message)


class MeetingRecordForm(FormModel):
    """A liaison records or corrects an executive meeting (multipart: the minutes file).
    `government` is a `tracker.annual.meeting_records.Government.key`."""

    government: str = ""
    held_on: str = ""
    name: str = ""
    decisions: str = ""
    minutes: UploadFile | str | None = None

    @property
    def chosen(self) -> ParsedUpload | None:
        """The chosen minutes file, or None (an empty file part when nothing was chosen)."""
        if isinstance(self.minutes, ParsedUpload) and self.minutes.filename:
            return self.minutes
        return None


class MeetingDecisionForm(FormModel):
    """The office confirms (`decision=confirm`) or returns (`decision=return`, `reason`)
    a meeting recorded by a liaison."""

    decision: str = ""
    reason: str = ""
    year: str = ""  # the desk page's year to come back to
    plan: str = ""

    @property
    def back_year(self) -> int | None:
        number = _positive_int(self.year)
        return number if number is not None and 1900 < number < 3000 else None

    @property
    def plan_id(self) -> int | None:
        return _positive_int(self.plan)


class DocumentEditForm(FormModel):
    """The preview page of a circular or a 督办通知单: the 文号 serial, title, 主送, wording,
    抄送, items to leave out (`drop`, request ids) with a `reason`, items to put back
    (`restore`). Checked by `tracker.documents.editing.apply_edits`."""

    serial: Annotated[str, _clip(20)] = ""
    title: Annotated[str, _clip(200)] = ""
    addressees: Annotated[str, _clip(20000)] = ""
    body: Annotated[str, _clip(20000)] = ""
    cc: Annotated[str, _clip(20000)] = ""
    drop: list[int] = []
    reason: Annotated[str, _clip(1000)] = ""
    restore: list[int] = []

    def edits(self) -> Any:
        from tracker.documents.editing import Edits

        return Edits(serial=self.serial, title=self.title, addressees=self.addressees,
                     body=self.body, cc=self.cc, drop=tuple(self.drop), reason=self.reason,
                     restore=tuple(self.restore))


class DirectoryReviewForm(FormModel):
    """An action on a row of the directory's review list (`tracker.directory.review`):
    `action` map (`agency`: one id), accept, assign (`agency`: one or several ids),
    deadline (`kind` date with `due`, yearly with `month` and `day`, or ongoing) or
    dismiss (`note`: the reason)."""

    action: str = ""
    agency: list[str] = []
    note: Annotated[str, _clip(500)] = ""
    kind: str = ""  # a 完成时限: date, yearly or ongoing
    due: str = ""  # its day (date), YYYY-MM-DD
    month: str = ""  # its month and day each year (yearly)
    day: str = ""

    @property
    def agency_ids(self) -> list[int]:
        """The picked agencies' ids (anything not an id is left out)."""
        return [i for i in (_positive_int(v) for v in self.agency) if i is not None]

    @property
    def due_date(self) -> dt.date | None:
        """The day typed, or None if it is not an ISO date."""
        return _date(self.due.strip())

    @property
    def month_no(self) -> int | None:
        return _positive_int(self.month.strip())

    @property
    def day_no(self) -> int | None:
        return _positive_int(self.day.strip())
