"""Settings: one database URL, a data folder, and the default rules (DESIGN.md).

`Settings` reads the environment and an optional `.env` file in the current folder
(UTF-8, with or without the BOM Windows Notepad writes); keyword arguments win over both:

  TRACKER_HOME          data folder (default ./var): SQLite file, outbox files, evidence
  TRACKER_DATABASE_URL  SQLAlchemy URL (default sqlite:///$TRACKER_HOME/tracker.db)
  TRACKER_RULES         optional JSON file overriding any field of `Rules`
  TRACKER_CALENDAR_OVERRIDES  optional JSON file of working-day overrides (see workdays.py)
  TRACKER_CHANNEL       email (default) or file: how contacts are notified
  TRACKER_BASE_URL      the web address in liaisons' links (default http://127.0.0.1:8000)
  TRACKER_SECRET_KEY    signs liaisons' links (default: a random key kept in HOME/secret.key)
  TRACKER_SMTP_HOST / TRACKER_SMTP_PORT / TRACKER_SMTP_FROM  the email channel
  TRACKER_ENV           development (default), test or production: outside production every
                        channel writes files to TRACKER_OUTBOX_DIR (a copied database never
                        mails or messages real people)
  TRACKER_CHANNEL_KEY   Fernet key that encrypts group bots' tokens and secrets in the database
  TRACKER_WECOM_BASE_URL / TRACKER_DINGTALK_BASE_URL / TRACKER_FEISHU_BASE_URL  the bots' APIs
  TRACKER_CHAT_TIMEOUT / TRACKER_CHAT_MAX_WAIT  seconds per bot API call / a run may wait
                        for a bot's rate limit before deferring the digest
  TRACKER_TEMPLATES_DIR optional folder of notice templates searched before the packaged ones
  TRACKER_NOTICE_MAX_ITEMS  items one notice lists (default 200); the others are counted in
                        its totals and summarised as “（另有X项未列出，详见督查督办系统。）”
  TRACKER_SMTP_CA_FILE  PEM file of the CA(s) to trust for the mail server's TLS certificate
                        (default: the system's store; verification is never turned off)
  TRACKER_DISPATCH_RUN_TIMEOUT  seconds one dispatch run may last (default 240, < the 15-min
                        claim); TRACKER_DISPATCH_RECIPIENTS  recipients claimed per batch
  TRACKER_OUTBOX_RETENTION_DAYS  calendar days a sent notice stays in the outbox (default
                        90); the daily job outbox_archive then keeps its delivery receipt
  TRACKER_SEND_HOURS    when notices go out, Asia/Shanghai: "08:30-18:00" (default) or
                        "always"; TRACKER_SEND_ON_REST_DAYS  true to send on weekends/holidays
  TRACKER_SOFFICE       LibreOffice's program (default "soffice" on the PATH; empty: none),
                        converting .xls/.et and Strict Open XML uploads to .xlsx;
                        TRACKER_CONVERT_TIMEOUT  seconds one conversion may take (default 60)
  TRACKER_TRUSTED_PROXY_HEADER  the header a reverse proxy puts the client's address in
                        (e.g. X-Real-IP); read only on connections from TRACKER_TRUSTED_PROXIES
                        (comma-separated addresses or networks, e.g. 127.0.0.1); otherwise
                        the socket's peer is the client (sign-in throttling counts by it)
  TRACKER_WORK_POOL     the Prefect work pool of `tracker deploy` / `tracker worker`
                        (default "tracker"; the server is Prefect's PREFECT_API_URL)

Settings are built once by the caller (the CLI, a test, the demo) and passed down
explicitly; nothing here or elsewhere writes os.environ. A bad value raises
`SettingsError`, whose message is one line in Chinese naming where the value came from,
the key and the value.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import json_source_map
import pydantic_settings
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

from tracker.enums import ChannelKind
from tracker.ops.files import os_reason

ENV_PREFIX = "TRACKER_"
ENV_FILE = ".env"


class SettingsError(ValueError):
    """A configuration value is wrong; the message is one line in Chinese for the user."""


SCORING_VERSION = "2026.1"  # the version of the built-in scoring rules below
# the ranking's tie rule (tracker.annual.scorecard.figures.rank_group), as printed
TIE_RULE = ("总分相同的，依次比较按时报送得分、牵头任务进展得分（不适用者在后）、完整性得分，"
            "扣分少者在前；仍相同的名次并列，按单位名称排序")


class ScoringRules(BaseModel):
    """The scorecard's rules (考核记分规则, DESIGN.md "Scorecard"; tunable by 绩效办 in the
    rules file under "scoring"): each part's maximum out of 100, the deductions per issued
    document, the red/amber/green thresholds and the rounding. `version` names them: a
    scorecard prints it, and an issued one keeps a copy of the rules it was scored by.
    Changing any value requires a new version (refused otherwise), so two scorecards that
    print the same version were scored by the same rules."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True,
                              allow_inf_nan=False)
    version: str = Field(SCORING_VERSION, min_length=1, max_length=40)
    on_time: float = Field(40, ge=0, le=100)  # 按时报送
    completeness: float = Field(20, ge=0, le=100)  # 完整性
    progress: float = Field(30, ge=0, le=100)  # 牵头任务进展
    meetings: float = Field(10, ge=0, le=100)  # 常务会议 (district governments only)
    per_supervision_notice: float = Field(2, ge=0, le=100)  # per delivered 督办通知
    per_circular: float = Field(5, ge=0, le=100)  # per signed and sent 通报 naming the agency
    green_at: float = Field(90, ge=0, le=100)  # >= green; >= amber_at amber; else red
    amber_at: float = Field(75, ge=0, le=100)
    percent_digits: int = Field(1, ge=0, le=4)  # rates, half up
    score_digits: int = Field(2, ge=0, le=4)  # points, half up

    @model_validator(mode="after")
    def _versioned(self) -> ScoringRules:
        if self.version == SCORING_VERSION and self.model_dump() != _DEFAULT_SCORING:
            raise ValueError("修改考核记分规则时须同时更改版本号 version"
                             f"（当前为内置版本 {SCORING_VERSION}）")
        if self.amber_at > self.green_at:
            raise ValueError("amber_at 不能高于 green_at")
        if self.on_time + self.completeness + self.progress + self.meetings <= 0:
            raise ValueError("各项满分之和须大于 0")
        return self

    def digest(self) -> str:
        """Eight hex characters of the rules' content (sha256 of their sorted JSON)."""
        import hashlib

        text = json.dumps(self.model_dump(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:8]

    def label(self) -> str:
        """"2026.1（校验码 1a2b3c4d）": what a scorecard prints as the rules it used."""
        return f"{self.version}（校验码 {self.digest()}）"

    def describe(self) -> list[tuple[str, str]]:
        """The rules as (项目, 说明) rows for the 说明 sheet, in the register of a notice."""
        p, s = self.percent_digits, self.score_digits
        return [
            ("规则版本", self.label()),
            ("按时报送", f"满分{self.on_time:g}分：按时报送率×{self.on_time:g}。按时报送率＝截止日期前"
                         "（含经批准延期后的截止日期）报送的调度事项数÷应报事项数（免报事项不计）"),
            ("完整性", f"满分{self.completeness:g}分：完整率×{self.completeness:g}。完整率＝首次报送即"
                       "写明进展情况及下步计划（已完成的无需下步计划）的事项数÷应报事项数"),
            ("牵头任务进展", f"满分{self.progress:g}分：牵头任务达成率×{self.progress:g}。每项牵头任务的"
                             "达成度＝牵头单位年内最新报送的完成进度÷本年应达进度（规划期内按年平均推进，"
                             "如2017年应达40%），最高为1，已完成的为1；达成率为所牵头任务达成度的平均值"),
            ("常务会议", f"满分{self.meetings:g}分：仅区人民政府。年内经督查室确认的政府常务会议"
                         "研究本规划工作至少一次的得满分，否则不得分"),
            ("不适用项目", "不牵头任务的单位不计牵头任务进展，市级部门不计常务会议，均显示“不适用”；"
                           "百分制得分＝各适用项目得分之和÷适用项目满分之和×100"),
            ("扣分", f"每份已送达的督办通知扣{self.per_supervision_notice:g}分；每份已签发并印发、"
                     f"点名该单位的通报扣{self.per_circular:g}分。同一单位同一报送期同日督办的事项合为"
                     "一份督办通知。未签发的通报草稿、未送达的督办通知不扣分。总分＝百分制得分－扣分，最低0分"),
            ("排名", "市级部门与区人民政府分别排名。" + TIE_RULE),
            ("数值修约", f"比率（%）保留{p}位小数，各项得分、百分制得分、总分保留{s}位小数，均四舍五入；"
                         "各项得分由未修约的比率计算后修约，百分制得分由修约后的各项得分计算"),
            ("颜色标识", f"总分及比率不低于{self.green_at:g}为绿色，不低于{self.amber_at:g}为黄色，"
                         "其余为红色；各排名前三名、后三名另行标注"),
        ]


_DEFAULT_SCORING = {name: f.default for name, f in ScoringRules.model_fields.items()}


class OfficeDocuments(BaseModel):
    """How one issuing office's documents are headed and numbered (GB/T 9704-2012):
    its 发文机关标志 and 署名 (unset: the office's full name, `full_office_name`), its 机关代字
    for 文号 such as 津政督〔2017〕3号 (`style` "号"), or bulletins numbered "2017年第3期"
    (`style` "期"), the 印发机关 of the 版记 and the 抄送机关 every document copies."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mark: str | None = Field(None, min_length=1, max_length=60)  # 发文机关标志
    signature: str | None = Field(None, min_length=1, max_length=60)  # 发文机关署名
    prefix: str = Field("督查", min_length=1, max_length=20)  # 机关代字
    style: Literal["号", "期"] = "号"
    printer: str | None = Field(None, min_length=1, max_length=60)  # 印发机关 (unset: mark)
    cc: tuple[str, ...] = ()  # 抄送机关

    @field_validator("prefix")
    @classmethod
    def _no_brackets(cls, value: str) -> str:
        if any(c in value for c in "〔〕[]()（）0123456789"):
            raise SettingsError("机关代字不含括号和数字，年份和序号由系统生成")
        return value


class DocumentRules(BaseModel):
    """Official documents per issuing office (rules file "documents": {"offices": {name:
    {...}}}); an office not listed gets `OfficeDocuments()`'s defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    offices: dict[str, OfficeDocuments] = {}

    def __hash__(self) -> int:  # settings are cached by value (flows.runtime.policy_for)
        return hash(tuple(sorted(self.offices.items())))

    def for_office(self, office: str) -> OfficeDocuments:
        """The settings of the office named as a plan names it (e.g. 市政府督查室)."""
        return self.offices.get(office, OfficeDocuments())


class Rules(BaseModel):
    """The default rules of DESIGN.md; every unit is working days unless named otherwise."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    issue_before_quarter_end: int = Field(10, ge=1)  # request opens N wd before quarter end
    due_after_quarter_end: int = Field(5, ge=1)  # due the Nth wd after quarter end
    indicator_due_working_day_of_january: int = Field(15, ge=1)
    ladder: tuple[int, int, int] = (1, 5, 10)  # wd after due: reminder, notice, circular
    pre_due_working_days: int = Field(3, ge=0)  # 临期提醒 N wd before the due day (0: none)
    meeting_reminder: tuple[int, int] = (10, 1)  # (month, day): reminder if no meeting yet
    meeting_warning: tuple[int, int] = (11, 15)
    checkpoint_working_day: int = Field(30, ge=1)  # annual checkpoint: Nth wd of next year
    yellow_within: int = 3  # traffic light: due within N wd
    return_working_days: int = Field(3, ge=1)  # a returned report is due again N wd later
    # a pending extension request (延期申请) holds the ladder and the 临期提醒 until decided
    extension_holds_ladder: bool = True
    link_max_age_days: int = Field(30, ge=1)  # liaison links expire after N calendar days
    new_link_every_minutes: int = Field(60, ge=1)  # at most one 新填报链接 per liaison per N min
    session_idle_minutes: int = Field(30, ge=1)  # a staff session unused this long is stale
    session_max_hours: int = Field(12, ge=1)  # and never lasts longer than this
    login_max_failures: int = Field(5, ge=1)  # consecutive wrong passwords before a lock
    login_lock_minutes: int = Field(15, ge=1)
    # failed sign-ins for unknown names one client address may have evaluated per window
    login_address_limit: int = Field(20, ge=1)
    login_address_window_minutes: int = Field(15, ge=1)
    scoring: ScoringRules = ScoringRules()
    documents: DocumentRules = DocumentRules()


class Settings(BaseSettings):
    """Where the data lives, how to reach contacts, and the rules in force.

    `home`, `database_url` and `outbox_dir` are filled in from each other when built;
    `model_copy(update=...)` does not recompute them, so build a new `Settings(...)`
    to move `home`.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=ENV_FILE,
        env_file_encoding="utf-8-sig",  # Notepad saves UTF-8 with a BOM
        env_ignore_empty=True,  # TRACKER_X= means "not set", as before
        extra="forbid",  # a misspelt TRACKER_ key in .env is named, not ignored
        frozen=True,
    )

    home: Path = Path("var")  # made absolute
    database_url: str = ""  # empty: sqlite:///{home}/tracker.db
    rules: Annotated[Rules, NoDecode] = Rules()  # TRACKER_RULES names a JSON file
    calendar_overrides: Path | None = None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "plan-tracker@example.gov.cn"
    smtp_user: str | None = None  # hosted government mailboxes require AUTH
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "ssl"] = "none"  # ssl: SMTPS, usually port 465
    smtp_timeout: float = Field(30.0, gt=0, le=300)  # seconds, per connection and command
    smtp_ca_file: Path | None = None  # trust this CA (PEM) for the server's certificate
    dispatch_run_timeout: float = Field(240.0, gt=0, le=600)  # seconds; the claim lasts 900
    dispatch_recipients: int = Field(500, ge=1, le=100000)  # whole recipients per batch
    # calendar days a sent (or dropped) notice stays in the outbox before the daily job
    # archives it into delivery receipts (tracker.outbox.archive_settled)
    outbox_retention_days: int = Field(90, ge=1, le=36500)
    send_hours: str = "08:30-18:00"  # Asia/Shanghai wall time, or "always"
    send_on_rest_days: bool = False  # weekends and public holidays (WorkCalendar)
    work_pool: str = Field("tracker", min_length=1)  # Prefect process work pool (flows/deploy.py)
    # plans per batch of a daily job (flows/plans.py): under a Prefect deployment each batch
    # beyond one is a flow run of its own that any worker of the pool may take
    plans_per_run: int = Field(50, ge=1, le=100_000)
    outbox_dir: Path = Path("var/outbox")  # unset: {home}/outbox
    channel: ChannelKind = ChannelKind.EMAIL
    base_url: str = "http://127.0.0.1:8000"  # where liaisons' links point
    # the supervision office's phone and email as an expired link's page shows them, e.g.
    # "市政府督查室　电话：022-23456789　电子邮箱：dcs@tj.gov.cn" (unset: a general line)
    office_contact: str | None = Field(None, max_length=300)
    secret_key: SecretStr | None = None  # else HOME/secret.key is made
    env: Literal["development", "test", "production"] = "development"
    channel_key: SecretStr | None = None  # Fernet key (tracker bot keygen) for bot credentials
    wecom_base_url: str = "https://qyapi.weixin.qq.com"
    dingtalk_base_url: str = "https://oapi.dingtalk.com"
    feishu_base_url: str = "https://open.feishu.cn"
    chat_timeout: float = Field(10.0, gt=0, le=120)  # seconds per bot API call
    chat_max_wait: float = Field(60.0, ge=0, le=600)  # seconds a run may wait for a bot's rate limit
    templates_dir: Path | None = None  # an administrator's notice templates (override ours)
    # items one notice (digest) lists; the rest are counted and summarised in one line
    notice_max_items: int = Field(200, ge=1, le=100_000)
    log_format: Literal["text", "json"] = "text"  # json: one JSON object per line on stderr
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    soffice: str = "soffice"  # LibreOffice for .xls/.et/Strict uploads; "" turns it off
    convert_timeout: float = Field(60.0, gt=0, le=600)  # seconds per conversion
    trusted_proxy_header: str | None = None  # e.g. X-Real-IP, set by the reverse proxy
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()  # peers whose header is believed

    if not TYPE_CHECKING:  # keep the mypy plugin's typed keyword arguments

        def __init__(self, **values: Any) -> None:
            try:
                super().__init__(**values)
            except ValidationError as exc:
                raise SettingsError(_describe(exc, values)) from None
            except UnicodeDecodeError as exc:
                raise SettingsError(f"配置有误：{ENV_FILE} 文件不是 UTF-8 编码的文本（第 {exc.start + 1} "
                                    "个字节起无法解码）") from None
            except pydantic_settings.SettingsError as exc:
                raise SettingsError(f"配置有误：无法解析环境变量或 {ENV_FILE} 文件中的取值"
                                    f"（{exc}）") from None

    @model_validator(mode="before")
    @classmethod
    def _derived_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        home = data.get("home") or "var"
        if not isinstance(home, str | os.PathLike):
            return data  # the field's own validation names the bad value
        home = Path(home).expanduser().resolve()
        data = {**data, "home": home}
        if not data.get("database_url"):
            data["database_url"] = f"sqlite:///{home / 'tracker.db'}"
        if not data.get("outbox_dir"):
            data["outbox_dir"] = home / "outbox"
        return data

    @field_validator("rules", mode="before")
    @classmethod
    def _rules_file(cls, value: Any) -> Any:
        if isinstance(value, str | os.PathLike):
            return load_rules(Path(value).expanduser().resolve())
        return value

    @field_validator("calendar_overrides", "templates_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value.expanduser().resolve() if value is not None else None

    @model_validator(mode="after")
    def _run_outlasts_one_send(self) -> Settings:
        if self.smtp_timeout >= self.dispatch_run_timeout:
            raise SettingsError(
                f"配置有误：TRACKER_SMTP_TIMEOUT（{self.smtp_timeout:g} 秒）应小于 "
                f"TRACKER_DISPATCH_RUN_TIMEOUT（{self.dispatch_run_timeout:g} 秒），"
                "否则一次投递连一封邮件也发不出")
        return self

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> Any:
        import ipaddress

        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list | tuple):
            for item in value:
                try:
                    ipaddress.ip_network(str(item), strict=False)
                except ValueError:
                    raise SettingsError(f"配置有误：TRACKER_TRUSTED_PROXIES 中的“{str(item)[:60]}”"
                                        "不是有效的 IP 地址或网段") from None
            return tuple(str(v) for v in value)
        return value

    @field_validator("smtp_from")
    @classmethod
    def _sender(cls, value: str) -> str:
        """The From address must be one usable address: a wrong one would fail every mail.

        A display name may come with it (`督查室 <ducha@tj.gov.cn>`); it is then the sender's
        name in every mail instead of the product's."""
        from tracker.directory.addresses import AddressError, check, parse

        try:
            if "<" not in value:
                return check(value)
            found = parse(value)
            if len(found) != 1:
                raise AddressError(f"“{value.strip()[:80]}”应为一个地址，不是 {len(found)} 个")
            name, addr = found[0].name, found[0].email
            return f"{name} <{addr}>" if name else addr
        except AddressError as exc:
            raise SettingsError(f"配置有误：TRACKER_SMTP_FROM {exc}") from None

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _log_case(cls, value: Any, info: Any) -> Any:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()

    @field_validator("send_hours")
    @classmethod
    def _send_hours(cls, value: str) -> str:
        from notifications.dispatch import SendWindow

        try:
            SendWindow.parse(value)
        except ValueError as exc:
            raise SettingsError(f"配置有误：TRACKER_SEND_HOURS {exc}") from None
        return value

    @field_validator("smtp_ca_file")
    @classmethod
    def _ca_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        value = value.expanduser().resolve()
        if not value.is_file():
            raise SettingsError(f"配置有误：TRACKER_SMTP_CA_FILE 的证书文件 {value} 不存在")
        return value

    @field_validator("base_url", "wecom_base_url", "dingtalk_base_url", "feishu_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("channel")
    @classmethod
    def _contact_channel(cls, value: ChannelKind) -> ChannelKind:
        # contacts are reached by email (or files); group bots are configured per agency
        if value.is_bot:
            from pydantic_core import PydanticCustomError

            raise PydanticCustomError("enum", "Input should be {expected}",
                                      {"expected": "'email' or 'file'"})
        return value

    @field_validator("channel_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from cryptography.fernet import Fernet

            try:
                Fernet(value.get_secret_value().encode())
            except (ValueError, TypeError):
                # SettingsError: the message names the key but never shows the value
                raise SettingsError("配置有误：TRACKER_CHANNEL_KEY 不是有效的 Fernet 密钥（应为 "
                                    "tracker bot keygen 生成的 44 个字符）") from None
        return value

    @field_serializer("database_url", when_used="json")
    def _hide_password(self, value: str) -> str:
        # JSON copies leave the process (Prefect stores flow parameters in its database).
        try:
            return make_url(value).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001  (not a URL SQLAlchemy can parse: nothing to hide)
            return value


# --- Reading files ------------------------------------------------------------------


def read_config_file(path: Path, label: str) -> str:
    """The text of a configuration file (BOM dropped); SettingsError naming it if unreadable."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        reason = "文件不存在"
    except IsADirectoryError:
        reason = "这是一个文件夹，不是文件"
    except PermissionError:
        reason = "没有读取权限"
    except UnicodeDecodeError as exc:
        reason = f"不是 UTF-8 编码的文本，第 {exc.start + 1} 个字节起无法解码"
    except OSError as exc:
        reason = f"无法读取：{os_reason(exc)}"
    raise SettingsError(f"{label} {path}：{reason}")


def parse_json_file(path: Path, label: str) -> tuple[Any, str]:
    """(data, text) of a JSON configuration file; SettingsError naming file and line if invalid."""
    text = read_config_file(path, label)
    try:
        return json.loads(text), text
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{label} {path} 第 {exc.lineno} 行第 {exc.colno} 列：不是有效的 JSON"
                            f"（{_json_reason(exc.msg)}）") from None


def json_line(text: str, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the value at `loc` (or of its nearest parent) in JSON text."""
    try:
        lines = json_source_map.calculate(text)
    except Exception:  # noqa: BLE001  (the text parsed as JSON; a line number is a bonus)
        return None
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in loc]
    while True:
        entry = lines.get("".join(f"/{p}" for p in parts))
        if entry is not None:
            return int(entry.value_start.line) + 1
        if not parts:
            return None
        parts.pop()


def load_rules(path: Path) -> Rules:
    """The rules of a JSON file (any field of `Rules` may be left out)."""
    label = "规则文件"
    data, text = parse_json_file(path, label)
    if not isinstance(data, dict):
        raise SettingsError(f"{label} {path}：内容应为一个 JSON 对象（{{\"键\": 值, …}}），"
                            f"实际为 {_show(data)}")
    try:
        return Rules.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = _value_loc(err)
            line = json_line(text, loc)
            where = f"{label} {path}" + (f" 第 {line} 行" if line else "")
            key = _dotted(loc) or "（顶层）"
            if err["type"] == "extra_forbidden":
                problems.append(f"{where}：键 {key} 不是可识别的规则项")
            else:
                problems.append(f"{where}：键 {key} 的值{_show(_value_at(data, loc))}无效"
                                f"（{_reason(err)}）")
        raise SettingsError("；".join(problems)) from None


# --- Messages -------------------------------------------------------------------------


def _describe(exc: ValidationError, init: dict[str, Any]) -> str:
    """One line naming, for every problem, its source, key and value."""
    problems, own = [], 0
    for err in exc.errors():
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, SettingsError):  # already names its file, key and value
            problems.append(str(cause))
            own += 1
            continue
        field = str(err["loc"][0]) if err["loc"] else ""
        rest = _dotted(tuple(err["loc"][1:]))
        if field in init:
            where = f"参数 {field}{'.' + rest if rest else ''} "
        else:
            where = _env_source(field, init.get("_env_file", ENV_FILE)) + (f" 中的 {rest} " if rest else "")
        if err["type"] == "extra_forbidden":
            problems.append(f"{where}不是可识别的配置项")
        else:
            problems.append(f"{where}的值{_show(err['input'])}{_reason(err)}")
    return ("" if own == len(problems) else "配置有误：") + "；".join(problems)


def _env_source(field: str, env_file: Any) -> str:
    """Where an environment setting came from: the environment or the .env file."""
    name = field.upper() if field.upper().startswith(ENV_PREFIX) else ENV_PREFIX + field.upper()
    if any(key.upper() == name for key in os.environ):
        return f"{name}（环境变量）"
    if isinstance(env_file, str | os.PathLike) and Path(env_file).is_file():
        return f"{name}（{Path(env_file).resolve()} 文件）"
    return f"{name}（环境变量或 {ENV_FILE} 文件）"


def _reason(err: Any) -> str:
    """Pydantic's error in Chinese, phrased to follow "的值“…”"."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "value_error" and isinstance(ctx.get("error"), SettingsError):
        return str(ctx["error"])
    simple = {
        "int_parsing": "不是有效的整数",
        "int_type": "不是有效的整数",
        "int_from_float": "不是整数（有小数部分）",
        "float_parsing": "不是有效的数字",
        "float_type": "不是有效的数字",
        "bool_parsing": "不是有效的布尔值（应为 true 或 false）",
        "bool_type": "不是有效的布尔值（应为 true 或 false）",
        "string_type": "不是文本",
        "tuple_type": "不是列表",
        "list_type": "不是列表",
        "dict_type": "不是 JSON 对象",
        "model_type": "不是 JSON 对象",
        "model_attributes_type": "不是 JSON 对象",
        "path_type": "不是有效的路径",
        "missing": "缺少此项",
    }
    if kind == "missing" and err["loc"] and isinstance(err["loc"][-1], int):
        return f"缺少第 {err['loc'][-1] + 1} 项"
    if kind in simple:
        return simple[kind]
    if kind == "enum":
        return f"不是允许的取值（应为 {_choices(ctx.get('expected', ''))}）"
    if kind == "literal_error":
        return f"不是允许的取值（应为 {_choices(ctx.get('expected', ''))}）"
    bounds = {"greater_than_equal": ("ge", "不应小于"), "greater_than": ("gt", "应大于"),
              "less_than_equal": ("le", "不应大于"), "less_than": ("lt", "应小于")}
    if kind in bounds:
        key, words = bounds[kind]
        return f"超出范围（{words} {ctx.get(key)}）"
    if kind in ("too_long", "too_short"):
        count = ctx.get("max_length") if kind == "too_long" else ctx.get("min_length")
        return f"项数不对（应为 {count} 项，实际 {ctx.get('actual_length')} 项）"
    return f"不符合要求（{err.get('msg', kind)}）"


def _choices(expected: str) -> str:
    return expected.replace("' or '", "、").replace("', '", "、").strip("'")


def _json_reason(msg: str) -> str:
    known = {
        "Expecting value": "此处缺少取值",
        "Expecting property name enclosed in double quotes": "键名应使用英文双引号，或多了一个逗号",
        "Expecting ',' delimiter": "缺少英文逗号",
        "Expecting ':' delimiter": "缺少英文冒号",
        "Extra data": "JSON 结束后还有多余内容",
        "Unterminated string starting at": "字符串缺少结尾的引号",
        "Invalid control character at": "字符串中有控制字符",
    }
    return next((zh for en, zh in known.items() if msg.startswith(en)), "格式错误")


def _value_loc(err: Any) -> tuple[int | str, ...]:
    """The location of the value to show: a missing tuple item is shown as its whole list."""
    loc = tuple(err["loc"])
    if err["type"] == "missing" and loc and isinstance(loc[-1], int):
        return loc[:-1]
    return loc


def _value_at(data: Any, loc: tuple[int | str, ...]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _show(value: Any) -> str:
    """A value quoted for a message: text as typed, anything else as JSON."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = str(value)
    if len(text) > 80:
        text = text[:77] + "…"
    return f"“{text}”"


# pydantic's and json's errors in Chinese, shared with the catalog's validation
# (tracker.catalog.schema), which follows the same wording
reason_in_chinese = _reason
json_reason_in_chinese = _json_reason
