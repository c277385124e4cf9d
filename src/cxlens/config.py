"""Settings: ``cxlens.toml`` in the workspace, overridden by ``CXLENS_*`` environment variables.

Unknown keys are rejected (pydantic ``extra="forbid"``) so a typo fails loudly. Environment
variables use ``CXLENS_<SECTION>__<KEY>`` (``CXLENS_WAREHOUSE__BACKEND=pyspark://local[2]``);
top-level keys use ``CXLENS_<KEY>``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cxlens.errors import ConfigError

SETTINGS_FILE = "cxlens.toml"
ENV_PREFIX = "CXLENS_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class WarehouseSettings(_Section):
    """Where the canonical tables live. Empty backend = DuckDB file in the workspace."""

    backend: str = ""
    spark_master: str = "local[2]"


class LocaleSettings(_Section):
    region: str = "CN"
    timezone: str = "Asia/Shanghai"
    languages: list[str] = Field(default_factory=lambda: ["zh", "en"])
    default_language: str = "zh"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("region")
    @classmethod
    def _region_upper(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError(f"region must be a two-letter country code, got {value!r}")
        return value.upper()


class IdentitySettings(_Section):
    """Rules of the identifier graph (see docs/identity.md)."""

    # a phone/e-mail on records quoting more than this many distinct accounts is a household
    # or switchboard value: it never merges records by itself
    max_accounts_per_identifier: int = 1
    household_types: list[str] = Field(default_factory=lambda: ["phone", "email"])
    # values that may attach orphan records to one customer but never bridge two customers
    # who are already identified by something stronger (a landline shared by a family)
    weak_types: list[str] = Field(default_factory=lambda: ["phone"])
    # a value on more records than this is junk (a default filled in by a form): ignored
    max_records_per_value: int = 20_000
    # written in any form; normalised like the identifiers. Agents' phones are added to them.
    blocked_values: list[str] = Field(default_factory=list)
    splink: bool = True
    splink_threshold: float = 0.99
    # connected components of the (small, integer) root graph: "local" fetches it once and
    # labels it with SciPy; "engine" runs min-label propagation as Ibis expressions in the
    # backend, round by round (for graphs too big for one process's memory, e.g. on Spark)
    components: Literal["local", "engine"] = "local"
    # rounds of "engine" propagation before giving up
    max_iterations: int = Field(default=50, gt=0)
    incremental: bool = True
    # contacts logged under one CRM case (`interactions.case_id`) are one customer's; numbers
    # are namespaced by the case system that issued them: interaction source -> system name,
    # sources not listed log under "crm" (two systems' case numbers never collide)
    case_edges: bool = True
    case_systems: dict[str, str] = Field(default_factory=dict)
    # a survey or helpdesk case that names the contact it is about (`interaction_ref`,
    # "<source>:<source_id>") is that contact's customer's
    ref_edges: bool = True


class JourneySettings(_Section):
    """Episode stitching (see docs/journeys.md)."""

    window_days: float = Field(default=7.0, gt=0)
    split_by_reason: bool = True
    reason_borrow_hours: float = Field(default=6.0, ge=0)
    split_by_case: bool = True
    # an IVR leg or abandoned attempt with no case belongs to the next contact's case when that
    # starts within this many hours (the call it led to)
    case_attach_hours: float = Field(default=6.0, ge=0)
    # two customer keys' contacts back to back on one line (the later starting at most this many
    # minutes after the earlier ended) are one customer for stitching; 0 turns it off
    line_link_minutes: float = Field(default=30.0, ge=0)
    self_service_channels: list[str] = Field(default_factory=lambda: ["ivr", "web", "app"])
    include_web_sessions: bool = True
    help_page_prefixes: list[str] = Field(
        default_factory=lambda: ["/help", "/support", "/faq", "/account/reset-password",
                                 "/orders/track"]
    )


class MetricSettings(_Section):
    """KPI parameters (see docs/kpis.md)."""

    service_level_seconds: int = Field(default=20, gt=0)
    service_level_target: float = Field(default=0.8, gt=0, le=1)
    short_abandon_seconds: int = Field(default=5, ge=0)
    live_channels: list[str] = Field(default_factory=lambda: ["phone", "chat"])


class TextSettings(_Section):
    redact: bool = True
    user_dictionary: str = ""
    intent_min_confidence: float = 0.35
    sentiment_backend: Literal["builtin", "transformer"] = "builtin"
    transformer_model_dir: str = ""
    taxonomy_file: str = ""  # a contact-reason taxonomy YAML replacing the built-in one
    # processes analysing texts; 0 = the CPUs available, at most 2 (same output with any number)
    workers: int = Field(default=0, ge=0)


class SpeechSettings(_Section):
    engine: Literal["pocketsphinx", "faster-whisper"] = "pocketsphinx"
    model_dir: str = ""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # pocketsphinx: "domain" = small LM built from contact-centre phrases (see docs/speech.md)
    language_model: Literal["domain", "general"] = "domain"
    domain_phrases_file: str = ""
    agent_channel: int = Field(default=0, ge=0, le=1)
    audio_dir: str = ""


class QASettings(_Section):
    rules_file: str = ""
    long_silence_s: float = 8.0
    negative_sentiment: float = -0.2
    # what makes a customer "negative" for the empathy rule (measured choice: docs/qa.md)
    empathy_trigger: Literal["lexicon", "sentiment", "either"] = "lexicon"


class WfmSettings(_Section):
    interval_minutes: int = 30
    service_level_target: float = 0.8
    service_level_seconds: int = 20
    shrinkage: float = 0.3
    max_occupancy: float = 0.85
    holidays: list[str] = Field(default_factory=list)
    # planning (see docs/wfm.md): real-time channels staffed by agents, backtest length,
    # days above incident_factor x the usual same-weekday volume are cleaned before fitting,
    # patience_s 0 = estimate from abandoned calls, staffing model erlang_c or erlang_a
    channels: list[str] = Field(default_factory=lambda: ["phone", "chat"])
    backtest_weeks: int = 2
    incident_factor: float = 1.5
    patience_s: float = 0.0
    staffing_model: Literal["erlang_c", "erlang_a"] = "erlang_c"
    chat_concurrency: float = Field(default=1.0, ge=1.0, le=10.0)  # chats one agent handles at once


class SecuritySettings(_Section):
    """``secret`` enables pseudonymised identifiers (keyed HMAC); keep it out of the toml in prod."""

    secret: str = ""
    session_hours: float = 12.0
    min_password_length: int = Field(default=8, ge=1)
    login_attempts: int = Field(default=5, ge=1)  # failures per user per 5 min before a lock-out


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8765
    # The server holds the DuckDB file only while requests arrive, so CLI commands can run
    # between them (see docs/web.md).
    idle_release_s: float = Field(default=3.0, ge=0)
    cache_seconds: float = Field(default=300.0, ge=0)
    session_secret: str = ""  # empty = a random key kept in <workspace>/.session-key
    cookie_secure: bool = False  # set true behind HTTPS


class Settings(_Section):
    """All settings of one workspace."""

    name: str = "cxlens"
    format_version: int = 1
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    locale: LocaleSettings = Field(default_factory=LocaleSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    journeys: JourneySettings = Field(default_factory=JourneySettings)
    metrics: MetricSettings = Field(default_factory=MetricSettings)
    text: TextSettings = Field(default_factory=TextSettings)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)
    qa: QASettings = Field(default_factory=QASettings)
    wfm: WfmSettings = Field(default_factory=WfmSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    server: ServerSettings = Field(default_factory=ServerSettings)


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX) or key == "CXLENS_WORKSPACE":
            continue
        path = key[len(ENV_PREFIX) :].lower().split("__")
        node = overrides
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _parse_env_value(value)
    return overrides


def _parse_env_value(value: str) -> Any:
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(error: ValidationError, origin: str) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(root)"
    if first["type"] == "extra_forbidden":
        return f"{origin}: unknown settings key {where!r}"
    return f"{origin}: {where}: {first['msg']}"


def load_settings(path: Path | None, environ: dict[str, str] | None = None) -> Settings:
    """Read ``path`` (a ``cxlens.toml``; may be None) and apply environment overrides."""
    data: dict[str, Any] = {}
    origin = "settings"
    if path is not None and path.exists():
        origin = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    env = _env_overrides(dict(os.environ if environ is None else environ))
    try:
        return Settings.model_validate(_merge(data, env))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin + (" + environment" if env else ""))) from exc


def dump_settings(settings: Settings) -> str:
    """Render settings as TOML (only simple types are used, so a tiny writer suffices)."""
    lines: list[str] = []
    top = settings.model_dump()
    for key, value in top.items():
        if not isinstance(value, dict):
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in top.items():
        if isinstance(value, dict):
            lines.append(f"\n[{key}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in value.items())
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)
