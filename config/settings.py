"""Typed settings: a TOML file plus ``ACTIONFLOW_<SECTION>__<KEY>`` environment overrides.

Every field carries a description; ``docs/configuration.md`` and ``config/actionflow.example.toml``
are generated from these models (``actionflow config-docs``) and a test keeps them in step.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core.redact import remember

CONFIG_ENV = "ACTIONFLOW_CONFIG"
DEFAULT_CONFIG_FILE = Path("actionflow.toml")
PACKAGE_DIR = Path(__file__).resolve().parent


class Section(BaseModel):
    """Base for every section: unknown keys are errors, values are read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _remember_secrets(self) -> Section:
        # Every configured secret is masked wherever it appears in errors, logs and status lines.
        remember(*(v.get_secret_value() for v in vars(self).values() if isinstance(v, SecretStr)))
        return self


class AppSettings(Section):
    data_dir: Path = Field(
        Path("./data"),
        description="Where audio, photos and generated reports are kept (content-addressed).",
    )
    timezone: str = Field(
        "Asia/Shanghai", description="Time zone for schedules, deadlines shown to users and digests."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    log_format: Literal["text", "json"] = Field(
        "text", description="`text` prints key=value lines; `json` prints one JSON object per line."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v


class DatabaseSettings(Section):
    url: str = Field(
        "sqlite+aiosqlite:///./actionflow.db",
        description="SQLAlchemy URL. SQLite (aiosqlite) by default; "
        "`postgresql+asyncpg://user:pass@host/db` for PostgreSQL.",
    )
    pool_size: int = Field(5, ge=1, le=50, description="Connection pool size.")
    busy_timeout_ms: int = Field(5000, ge=0, description="SQLite busy timeout in milliseconds.")
    echo: bool = Field(False, description="Log every SQL statement (debugging only).")
    migrate_on_start: bool = Field(True, description="Apply pending migrations when the bot starts.")
    sqlite_in_loop: bool = Field(
        True,
        description="Run SQLite calls on the event loop's thread (fast: no thread hand-offs per statement; "
        "see storage/sqlite_inloop.py). false = aiosqlite's worker thread.",
    )

    @field_validator("url")
    @classmethod
    def _supported(cls, v: str) -> str:
        if not (v.startswith("sqlite+aiosqlite://") or v.startswith("postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return v


class ConsoleSettings(Section):
    enabled: bool | None = Field(
        None, description="Console channel on/off. Default: on when no platform channel is enabled."
    )
    user: str = Field("", description="Acting user at start (name or id); default: the first rep.")
    show_alerts: bool = Field(True, description="Print messages addressed to other users and groups too.")


class FormsSettings(Section):
    path: Path = Field(
        PACKAGE_DIR / "forms.toml", description="Form definitions (fields, options, prompts) as TOML."
    )
    expire_hours: float = Field(
        72.0, gt=0, description="An untouched form closes after this many hours; answers are kept."
    )


class ApprovalMapping(Section):
    customer: str = Field("客户名称", description="Form field holding the customer name.")
    start: str = Field("拜访开始时间", description="Form field holding the planned visit start.")
    end: str = Field("拜访结束时间", description="Form field holding the planned visit end.")
    purpose: str = Field("拜访事由", description="Form field holding the visit purpose.")


class DingTalkGroup(Section):
    open_conversation_id: str = Field("", description="Group conversation id for the robot group API.")
    webhook_token: SecretStr = Field(SecretStr(""), description="Custom group-robot access token.")
    webhook_secret: SecretStr = Field(SecretStr(""), description="Custom group-robot signing secret (SEC…).")


class DingTalkSettings(Section):
    enabled: bool = Field(False, description="Connect to DingTalk in Stream mode.")
    client_id: str = Field("", description="AppKey / clientId of the internal app (also the robotCode).")
    client_secret: SecretStr = Field(SecretStr(""), description="AppSecret / clientSecret.")
    robot_code: str = Field("", description="Robot code; defaults to client_id when empty.")
    api_base: str = Field("https://api.dingtalk.com", description="New-style OpenAPI host.")
    oapi_base: str = Field("https://oapi.dingtalk.com", description="Old-style API host (webhooks, media).")
    card_template_id: str = Field(
        "", description="Interactive card template for choice prompts; empty = text prompts only."
    )
    visit_process_codes: list[str] = Field(
        default_factory=list, description="Approval process codes that are visit applications."
    )
    approval_fields: ApprovalMapping = Field(
        default_factory=ApprovalMapping, description="Approval form-field names."
    )
    groups: dict[str, DingTalkGroup] = Field(
        default_factory=dict, description="Named group targets, e.g. `[dingtalk.groups.managers]`."
    )
    api_rate_per_s: int = Field(20, ge=1, description="Calls per second per OpenAPI endpoint.")
    webhook_rate_per_min: int = Field(20, ge=1, description="Messages per minute per custom webhook.")
    http_timeout_s: float = Field(15.0, gt=0, description="Timeout of one OpenAPI or webhook call.")
    token_refresh_margin_s: int = Field(
        300, ge=0, description="Refresh the access token this long before it expires."
    )
    liveness_timeout_s: float = Field(
        180.0,
        gt=0,
        description="Recreate the Stream connection when no frame (not even a ping) arrived for this long.",
    )
    reconnect_min_s: float = Field(
        1.0, gt=0, description="First wait before reconnecting after the socket dropped; doubles per failure."
    )
    reconnect_max_s: float = Field(60.0, gt=0, description="Longest wait between reconnect attempts.")


class WeComGroup(Section):
    chat_id: str = Field("", description="App group chat id (appchat/send).")
    webhook_key: SecretStr = Field(SecretStr(""), description="Group-robot webhook key.")


class WeComSettings(Section):
    enabled: bool = Field(False, description="Serve the WeCom self-built app callback.")
    corp_id: str = Field("", description="CorpID (ww…).")
    agent_id: int = Field(0, ge=0, description="AgentId of the self-built app.")
    secret: SecretStr = Field(SecretStr(""), description="App secret.")
    token: SecretStr = Field(SecretStr(""), description="Callback Token.")
    encoding_aes_key: SecretStr = Field(SecretStr(""), description="Callback EncodingAESKey (43 characters).")
    api_base: str = Field("https://qyapi.weixin.qq.com", description="API host.")
    listen: str = Field("0.0.0.0:8080", description="host:port the callback server listens on.")
    callback_path: str = Field("/wecom/callback", description="Callback URL path.")
    public_url: str = Field("", description="Public base URL (for `wecom selfcheck` to print).")
    replay_window_s: int = Field(300, ge=10, description="Reject callbacks whose timestamp is older.")
    max_body_bytes: int = Field(65536, ge=1024, description="Reject callback bodies larger than this.")
    visit_template_ids: list[str] = Field(
        default_factory=list, description="Approval template ids that are visit applications."
    )
    approval_fields: ApprovalMapping = Field(
        default_factory=ApprovalMapping, description="Approval control titles."
    )
    groups: dict[str, WeComGroup] = Field(
        default_factory=dict, description="Named group targets, e.g. `[wecom.groups.managers]`."
    )
    webhook_rate_per_min: int = Field(20, ge=1, description="Messages per minute per robot webhook.")


class SpeechSettings(Section):
    model: str = Field(
        "base", description="Whisper size name (base, small, medium…) or a local model directory."
    )
    models_dir: Path = Field(Path("./models"), description="Where installed models live.")
    device: Literal["cpu", "cuda", "auto"] = Field("cpu", description="Inference device.")
    compute_type: str = Field("int8", description="CTranslate2 compute type (int8, int8_float32, float32…).")
    cpu_threads: int = Field(1, ge=0, description="Threads per transcription (1 measured best on 2 cores).")
    num_workers: int = Field(2, ge=1, description="Concurrent transcriptions.")
    language: str = Field("", description="Pin a language (zh, en); empty = detect first.")
    beam_size: int = Field(5, ge=1, le=10, description="Beam size.")
    no_repeat_ngram_size: int = Field(
        0,
        ge=0,
        description="Forbid any run of this many tokens from repeating; 0 = off. Off by default: with 3, "
        "a phrase the customer said twice came out garbled the second time.",
    )
    initial_prompt_zh: str = Field(
        "以下是普通话的句子，使用简体中文。",
        description="Prompt used for Mandarin (keeps the script Simplified).",
    )
    hotwords: str = Field(
        "",
        description="Extra hotwords (space separated), added to the company vocabulary when steering is on.",
    )
    vocabulary: bool = Field(
        True,
        description="Steer Mandarin recognition with the company's vocabulary (customer and key-person "
        "names, product names and codes, form options, theme keywords, vocabulary_file) in the prompt.",
    )
    vocabulary_file: Path | None = Field(
        PACKAGE_DIR / "vocabulary.txt",
        description="An editable word list, one term per line (UTF-8; # starts a comment).",
    )
    vocabulary_hotwords: bool = Field(
        False,
        description="Also put the vocabulary into the decoder prompt as hotwords (bounded below). Off: "
        "measured no better on the base model (bench/vocabulary.py).",
    )
    homophone_repair: bool = Field(
        True,
        description="Write a vocabulary term where the transcript has characters that sound like it and the "
        "sentence becomes likelier (气泄包 → 器械包; a correct common word is kept).",
    )
    vocabulary_max_terms: int = Field(
        40,
        ge=0,
        le=500,
        description="At most this many terms (and vocabulary_max_chars characters) go into the prompt: a "
        "longer prompt pushes words into what was said (measured in bench/vocabulary.py).",
    )
    vocabulary_max_chars: int = Field(
        160, ge=0, le=400, description="Character budget of the vocabulary in the prompt."
    )
    ledger_head_time: str = Field(
        "07:50",
        description="Local time (HH:MM) the quote ledger is verified daily and its head sent to the admins "
        "and the log (keep it: `audit verify --head` checks against it).",
    )
    max_duration_s: float = Field(300.0, gt=0, description="Reject longer voice notes.")
    preload: bool = Field(False, description="Load the model at start instead of on first use.")
    timeout_factor: float = Field(
        3.0, gt=0, description="Give up on a note after this many times its duration (plus 10 s)."
    )
    worker_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="Lower CPU priority (Linux nice) of transcription threads, so chat stays responsive "
        "while notes are transcribed; 0 = same priority as the bot.",
    )
    malloc_arenas: int = Field(
        2,
        ge=0,
        description="Cap on glibc malloc arenas for the process (fewer arenas keep less freed memory: "
        "peak RSS with two notes at once 738 → 662 MB); 0 = glibc's default. MALLOC_ARENA_MAX wins.",
    )

    @field_validator("ledger_head_time")
    @classmethod
    def _head_hhmm(cls, v: str) -> str:
        hh, _, mm = v.partition(":")
        if not (hh.isdigit() and mm.isdigit() and 0 <= int(hh) < 24 and 0 <= int(mm) < 60):
            raise ValueError("must be HH:MM")
        return v


class SchedulerSettings(Section):
    enabled: bool = Field(True, description="Run scheduled jobs and the deadline sweep.")
    sweep_interval_s: int = Field(30, ge=5, le=300, description="How often due deadlines are swept.")
    lease_s: int = Field(
        10,
        ge=3,
        description="Leader lease: renewed every third of it; a leader that cannot renew (frozen, "
        "partitioned) stops leading, and a follower takes over, within about this long.",
    )
    run_timeout_s: int = Field(
        900,
        ge=60,
        description="A job run still marked running after this long was abandoned by a dead process "
        "and is run again (its messages carry idempotency keys, so nothing is sent twice); a job "
        "declared with catch_up=False found more than an hour late is recorded failed instead.",
    )


class AlertSettings(Section):
    demand_confirmation_minutes: int = Field(
        30, ge=1, description="The demand confirmation is due this long after a visit ends."
    )
    demand_confirmation_nudge_minutes: int = Field(
        20,
        ge=0,
        description="Nudge the rep this long after a visit ends while the demand confirmation is still "
        "open (before it is due); 0 turns the nudge off. Must be less than demand_confirmation_minutes.",
    )
    visit_report_hours: int = Field(
        24, ge=1, description="The visit report is due this long after the visit."
    )
    overdue_supervisor_delay_minutes: int = Field(
        60, ge=0, description="Tell the supervisor when a form is still missing this long after its deadline."
    )
    stale_hours: float = Field(
        48.0, gt=0, description="A customer is stale after this many hours without update."
    )
    stale_hours_by_stage: dict[str, float] = Field(
        default_factory=dict, description="Per-stage overrides of stale_hours, e.g. {contract = 24}."
    )
    zombie_days: int = Field(90, ge=1, description="No deal for this many days makes a zombie customer.")
    demand_threshold: int = Field(
        5, ge=1, description="Alert product when a demand theme reaches this count."
    )
    demand_window_days: int = Field(7, ge=1, description="Trailing window for the demand-frequency alert.")
    key_person_stale_days: int = Field(
        60, ge=1, description="Remind reps of contacts not reached for this long."
    )
    competitor_review_hours: int = Field(24, ge=1, description="Remind the supervisor after this long.")
    key_person_scan_cron: str = Field(
        "30 9 * * *", description="When contacts not reached for key_person_stale_days are looked for (cron)."
    )
    digest_max_items: int = Field(
        10, ge=1, le=100, description="Customers listed per rep in a digest; the rest are counted."
    )
    morning_digest_time: str = Field("08:30", description="Local time of the morning digest (HH:MM).")
    stale_scan_cron: str = Field("0 9 * * *", description="When the stale-customer digest runs (cron).")
    zombie_scan_cron: str = Field("0 9 * * 1", description="When the weekly zombie list runs (cron).")
    demand_scan_cron: str = Field("0 * * * *", description="When the demand-frequency scan runs (cron).")
    routes: dict[str, str] = Field(
        default_factory=lambda: {"managers": "managers", "product": "product", "finance": "finance"},
        description="Alert audience → named group target.",
    )

    @model_validator(mode="after")
    def _nudge_before_due(self) -> AlertSettings:
        if self.demand_confirmation_nudge_minutes >= self.demand_confirmation_minutes:
            raise ValueError(
                "alerts.demand_confirmation_nudge_minutes must be less than demand_confirmation_minutes "
                "(the nudge comes before the deadline); 0 turns it off"
            )
        return self

    @field_validator("morning_digest_time")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        hh, _, mm = v.partition(":")
        if not (hh.isdigit() and mm.isdigit() and 0 <= int(hh) < 24 and 0 <= int(mm) < 60):
            raise ValueError("must be HH:MM")
        return v


class MetricsSettings(Section):
    window_days: int = Field(7, ge=1, description="Window for the compliance and conversion rates.")
    compliance_target: float = Field(0.92, ge=0, le=1, description="Healthy action compliance rate.")
    conversion_lift_target: float = Field(
        0.18, description="Healthy lead-conversion change against the previous window."
    )
    conversion_days: int = Field(
        90,
        ge=1,
        description="Lead conversion counts a lead as converted when its first signed order came within "
        "this many days of the lead's creation.",
    )
    freshness_target_hours: float = Field(3.2, gt=0, description="Healthy median data freshness.")


class RebateSettings(Section):
    formula: str = Field(
        "contract_amount * 0.03 + target_increment * 0.008 + new_hospitals * 5000",
        description="Safe expression over the named inputs; evaluated in Decimal, rounded to the fen.",
    )
    orders_dir: Path = Field(
        Path("./data/orders"), description="Drop folder for ERP order exports (CSV/XLSX)."
    )
    erp_url: SecretStr = Field(SecretStr(""), description="Optional ERP database URL (read-only).")
    erp_query: str = Field("", description="SQL returning order rows when erp_url is set.")
    run_at: str = Field("02:00", description="Local time of the nightly rebate run (HH:MM).")
    quarterly_targets: dict[str, float] = Field(
        default_factory=dict,
        description="Per-customer quarterly targets (customer name → yuan). target_increment is the "
        "part of a customer's signed contract amount in the quarter above its target (0 without one).",
    )

    @field_validator("run_at")
    @classmethod
    def _run_at_hhmm(cls, v: str) -> str:
        hh, _, mm = v.partition(":")
        if not (hh.isdigit() and mm.isdigit() and 0 <= int(hh) < 24 and 0 <= int(mm) < 60):
            raise ValueError("must be HH:MM")
        return v


class OrgSettings(Section):
    sync_from: Literal["", "dingtalk", "wecom"] = Field("", description="Scheduled contact sync source.")
    sync_cron: str = Field("0 3 * * *", description="When the scheduled contact sync runs (cron).")
    leaders_are_supervisors: bool = Field(
        True, description="Department leaders become their members' supervisors on sync."
    )
    admin_notice_target: str = Field(
        "", description="Group that hears about unknown senders; empty = every admin by direct message."
    )
    sync_departments: list[str] = Field(
        default_factory=list,
        description="Departments (names or ids) whose members are synced, with everything below them; "
        "empty = the whole company. People outside them are deactivated by a sync.",
    )
    sync_member_roles: list[str] = Field(
        default_factory=lambda: ["rep"], description="Roles a person added by a sync gets."
    )
    sync_leader_roles: list[str] = Field(
        default_factory=lambda: ["manager"],
        description="Roles a department leader added by a sync gets (instead of sync_member_roles).",
    )
    sync_match_by_name: bool = Field(
        True,
        description="Link a platform member to an existing person of the same name who has no id on "
        "that platform yet (one person on both platforms).",
    )

    @field_validator("sync_member_roles", "sync_leader_roles")
    @classmethod
    def _known_roles(cls, v: list[str]) -> list[str]:
        known = ("rep", "manager", "product", "finance", "admin")
        bad = [r for r in v if r not in known]
        if bad:
            raise ValueError(f"unknown role(s) {bad}; known: {', '.join(known)}")
        return v


DEFAULT_COMPETITOR_KEYWORDS = [
    "再比较",
    "比较几家",
    "其他家",
    "别家",
    "别的品牌",
    "其他品牌",
    "别的厂家",
    "其他厂家",
    "对比",
    "货比三家",
    "竞品",
    "竞争对手",
]


class FlowSettings(Section):
    competitor_keywords: list[str] = Field(
        default_factory=lambda: list(DEFAULT_COMPETITOR_KEYWORDS),
        description="Words in a customer's quote that mean they compare vendors; "
        "any of them starts the competitor analysis.",
    )
    duplicate_threshold: float = Field(
        80.0,
        ge=50,
        le=100,
        description="Name similarity (0–100) from which a new customer counts as a possible twin "
        "of an existing one and the rep is asked to confirm.",
    )
    competitor_analysis_hours: int = Field(
        24, ge=1, description="A triggered competitor analysis is due this long after the trigger."
    )
    default_visit_minutes: int = Field(
        60, ge=5, description="Visit length assumed when an application gives a start but no end."
    )
    brief_updates: int = Field(3, ge=1, le=20, description="Progress updates shown in a visit brief.")
    brief_demands: int = Field(5, ge=1, le=20, description="Open demands shown in a visit brief.")
    brief_competitors: int = Field(2, ge=1, le=10, description="Competitor analyses shown in a visit brief.")


class ReportSettings(Section):
    font_path: Path | None = Field(
        None, description="TTF/TTC with Chinese glyphs for PDFs; empty = search the usual system fonts."
    )


class ThemeSettings(Section):
    path: Path = Field(PACKAGE_DIR / "themes.toml", description="Demand theme dictionary (editable).")


class OutboxSettings(Section):
    max_attempts: int = Field(12, ge=1, description="Give up (dead letter) after this many failed sends.")
    backoff_base_s: float = Field(2.0, gt=0, description="First retry delay; doubles per attempt.")
    backoff_cap_s: float = Field(600.0, gt=0, description="Longest retry delay.")
    lease_s: float = Field(
        10.0,
        gt=0,
        description="Sending lease, renewed every third of it while a message is sent; another "
        "instance takes over the messages of a sender that stopped renewing after this.",
    )
    batch_size: int = Field(50, ge=1, description="Messages claimed per round.")


class WebSettings(Section):
    listen: str = Field(
        "127.0.0.1:8088",
        description="host:port of the bot's HTTP server (the board, /healthz, /metrics); empty turns it off. "
        "Not 8080, which the WeCom callback server (wecom.listen) uses by default.",
    )
    public_url: str = Field(
        "",
        description="The address people open, as seen from their phones (https://board.example.com); "
        "links in chat use it. Empty: the local address of `listen`.",
    )


class SecuritySettings(Section):
    """Limits on hostile input, and what a manager of one team may see (docs/security.md)."""

    import_max_unpacked_mb: int = Field(
        50, ge=1, description="An XLSX import whose zip unpacks to more than this (MB) is refused unread."
    )
    import_max_rows: int = Field(
        100_000, ge=1, description="Rows an XLSX import may have; reading stops and refuses beyond it."
    )
    photo_max_pixels: int = Field(
        50_000_000, ge=1, description="A photo with more pixels (width × height) is not decoded."
    )
    manager_scope: Literal["team", "company"] = Field(
        "team",
        description="What 健康指标 and 需求主题 show a manager: `team` = their own team's reps (admins "
        "always see the whole company); `company` = everyone, as before.",
    )


class BoardSettings(Section):
    session_secret: SecretStr = Field(
        SecretStr(""),
        description="Key that encrypts and signs board session cookies (32 bytes, url-safe base64). "
        "Empty: generated on first start and kept in <data_dir>/board_session.key.",
    )
    session_hours: float = Field(12.0, gt=0, le=720, description="A board session lasts this long.")
    link_minutes: int = Field(
        10, ge=1, le=1440, description="The one-time link that `看板` sends is valid this long."
    )
    dingtalk_corp_id: str = Field(
        "", description="DingTalk CorpId, for the micro-app's 免登 (requestAuthCode) on the board."
    )
    wecom_oauth_base: str = Field(
        "https://open.weixin.qq.com",
        description="WeCom OAuth2 page host (网页授权 snsapi_base); the emulator's address in tests.",
    )
    live_poll_s: float = Field(
        0.5, gt=0, le=10, description="How often open boards look for new actions (server-sent events)."
    )


class OpsSettings(Section):
    channel_window_s: int = Field(
        120,
        ge=5,
        description="/healthz fails when a channel has been disconnected for longer than this.",
    )
    channel_down_alert_s: int = Field(
        300,
        ge=10,
        description="Admins are told in chat (through another channel) when a channel stays "
        "disconnected this long; once per outage.",
    )
    alert_admins: bool = Field(
        True,
        description="Tell the admins in chat when a message is dead-lettered, a scheduled job fails or "
        "a channel stays down (once per incident). The `admins` route in [alerts.routes] is used "
        "when set, else a direct message to each admin.",
    )


class Settings(BaseSettings):
    """The whole configuration. Load it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="ACTIONFLOW_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        nested_model_default_partial_update=True,
    )

    app: AppSettings = Field(default_factory=AppSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    forms: FormsSettings = Field(default_factory=FormsSettings)
    dingtalk: DingTalkSettings = Field(default_factory=DingTalkSettings)
    wecom: WeComSettings = Field(default_factory=WeComSettings)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    rebates: RebateSettings = Field(default_factory=RebateSettings)
    org: OrgSettings = Field(default_factory=OrgSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    flows: FlowSettings = Field(default_factory=FlowSettings)
    themes: ThemeSettings = Field(default_factory=ThemeSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    board: BoardSettings = Field(default_factory=BoardSettings)
    ops: OpsSettings = Field(default_factory=OpsSettings)

    @model_validator(mode="after")
    def _channels_have_secrets(self) -> Settings:
        problems: list[str] = []
        if self.dingtalk.enabled:
            if not self.dingtalk.client_id:
                problems.append("dingtalk.enabled is true but dingtalk.client_id is empty")
            if not self.dingtalk.client_secret.get_secret_value():
                problems.append("dingtalk.enabled is true but dingtalk.client_secret is empty")
        if self.wecom.enabled:
            for key in ("corp_id", "secret", "token", "encoding_aes_key"):
                value = getattr(self.wecom, key)
                raw = value.get_secret_value() if isinstance(value, SecretStr) else value
                if not raw:
                    problems.append(f"wecom.enabled is true but wecom.{key} is empty")
            if not self.wecom.agent_id:
                problems.append("wecom.enabled is true but wecom.agent_id is 0")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def console_enabled(self) -> bool:
        if self.console.enabled is not None:
            return self.console.enabled
        return not (self.dingtalk.enabled or self.wecom.enabled)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = settings_cls.model_config.get("toml_file")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)


def resolve_config_path(path: str | Path | None) -> Path | None:
    """``--config`` wins, then ``ACTIONFLOW_CONFIG``, then ``./actionflow.toml`` if it exists."""
    if path:
        return Path(path)
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.exists() else None


class ConfigFileMissing(FileNotFoundError):
    pass


class ConfigSyntaxError(ValueError):
    """The config file is not valid TOML. ``str()`` is one line: ``file:line:column: what``."""


def check_toml_syntax(path: Path) -> dict[str, Any]:
    """Parse ``path`` as TOML; raise :class:`ConfigSyntaxError` with file, line and column if it is not."""
    import re
    import tomllib

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigSyntaxError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line = getattr(exc, "lineno", None)
        column = getattr(exc, "colno", None)
        found = re.search(r"\(at line (\d+), column (\d+)\)", message)
        if found:
            line, column = int(found.group(1)), int(found.group(2))
            message = message[: found.start()].strip()
        elif "(at end of document)" in message:
            message = message.replace("(at end of document)", "").strip()
            line = text.count("\n") + 1
            column = len(text.rsplit("\n", 1)[-1]) + 1
        where = f"{path}:{line}:{column}" if line else str(path)
        raise ConfigSyntaxError(f"{where}: TOML syntax error: {message}") from None


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Load settings; raises ``pydantic.ValidationError``, :class:`ConfigFileMissing` or
    :class:`ConfigSyntaxError`."""
    resolved = resolve_config_path(path)
    if resolved is not None and not resolved.exists():
        raise ConfigFileMissing(f"config file not found: {resolved}")
    if resolved is not None:
        check_toml_syntax(resolved)

    class _Loaded(Settings):
        model_config = SettingsConfigDict(toml_file=resolved)

    return anchored(_Loaded(**overrides), settings_home(resolved))


HOME_ENV = "ACTIONFLOW_HOME"


def settings_home(config_file: Path | None) -> Path:
    """Where relative paths in the configuration point: ``ACTIONFLOW_HOME``, else the config file's
    folder, else the working directory (no config file: the embedded defaults, as in development)."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    if config_file is not None:
        return config_file.resolve().parent
    return Path.cwd()


def _anchor(path: Path, home: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else home / path


def anchored(settings: Settings, home: Path) -> Settings:
    """``settings`` with every relative path (data, models, forms, themes, order drop folder, report
    font, the SQLite file) resolved against ``home``, so the bot behaves the same from any directory."""
    from sqlalchemy.engine import make_url

    s = settings
    db = s.database
    url = make_url(db.url)
    name = url.database or ""
    relative = name not in ("", ":memory:") and not name.startswith("file:") and not Path(name).is_absolute()
    if url.get_backend_name() == "sqlite" and relative:
        anchored_url = url.set(database=str(_anchor(Path(name), home)))
        db = db.model_copy(update={"url": anchored_url.render_as_string(hide_password=False)})
    fonts = s.reports.font_path
    return s.model_copy(
        update={
            "app": s.app.model_copy(update={"data_dir": _anchor(s.app.data_dir, home)}),
            "database": db,
            "forms": s.forms.model_copy(update={"path": _anchor(s.forms.path, home)}),
            "speech": s.speech.model_copy(update={"models_dir": _anchor(s.speech.models_dir, home)}),
            "rebates": s.rebates.model_copy(update={"orders_dir": _anchor(s.rebates.orders_dir, home)}),
            "reports": s.reports.model_copy(update={"font_path": _anchor(fonts, home) if fonts else None}),
            "themes": s.themes.model_copy(update={"path": _anchor(s.themes.path, home)}),
        }
    )
