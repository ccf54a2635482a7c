"""The one settings object of OncoBase (environment variables prefixed ``ONCOBASE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from oncobase.errors import ConfigError

_ACCEPTED_SCHEMES = ("duckdb", "postgresql", "postgres")


class Settings(BaseSettings):
    """Where OncoBase keeps its data and how it reaches its databases.

    Every field can be set with an environment variable: ``ONCOBASE_HOME``,
    ``ONCOBASE_STORE_URL``, ``ONCOBASE_LOG_LEVEL`` …
    """

    model_config = SettingsConfigDict(env_prefix="ONCOBASE_", extra="ignore")

    home: Path = Field(
        default=Path(".oncobase"),
        description="Home folder: embedded databases, keys, generated data.",
    )
    store_url: str | None = Field(
        default=None,
        description=(
            "Clinical store. Default: duckdb:///<home>/store.duckdb. "
            "Also accepted: postgresql://user@host:port/dbname."
        ),
    )
    operational_url: str | None = Field(
        default=None,
        description=(
            "Operational store (users, audit log, access requests, permits, opt-outs) as a "
            "SQLAlchemy URL. Default: sqlite:///<home>/operational.sqlite3; "
            "postgresql+psycopg://… in production."
        ),
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    synth_patients: int = Field(
        default=20_000, ge=1, description="Cancer patients the demo's synthetic nation has."
    )
    synth_seed: int = Field(default=2026, description="Seed of the synthetic nation.")
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public base URL of the platform: the stable IRIs of the data catalogue "
        "(<public_url>/catalogue/datasets/<id>) and its links start with it.",
    )
    smtp_host: str | None = Field(
        default=None,
        description="SMTP server of the e-mail notifications; none: in-app notifications only.",
    )
    smtp_port: int | None = Field(
        default=None, ge=1, le=65535, description="SMTP port; default 587 with STARTTLS, else 25."
    )
    smtp_from: str | None = Field(
        default=None, description="Sender address of the notifications (default oncobase@<host>)."
    )
    smtp_user: str | None = Field(default=None, description="SMTP login, when the server asks.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_starttls: bool | None = Field(
        default=None, description="Upgrade the SMTP connection with STARTTLS (default: no)."
    )

    @field_validator("store_url")
    @classmethod
    def _check_store_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = value.split("://", 1)[0].split("+", 1)[0].lower()
        if "://" not in value or scheme not in _ACCEPTED_SCHEMES:
            raise ValueError(
                f"ONCOBASE_STORE_URL must start with duckdb:/// or postgresql:// (got scheme "
                f"{scheme!r}). Example: duckdb:///data/store.duckdb"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        text = value.strip().rstrip("/")
        scheme, _, rest = text.partition("://")
        host = rest.split("/", 1)[0]
        if scheme.lower() not in ("http", "https") or not host or any(c.isspace() for c in text):
            raise ValueError(
                f"ONCOBASE_PUBLIC_URL must be an absolute http(s) URL such as "
                f"https://oncobase.example.fr (got {value!r})"
            )
        return text

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(
                f"ONCOBASE_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {value!r}"
            )
        return level

    @property
    def home_path(self) -> Path:
        """The home folder as an absolute path."""
        return self.home.expanduser().resolve()

    @property
    def resolved_store_url(self) -> str:
        """The store URL, defaulting to a DuckDB file in the home folder."""
        if self.store_url:
            return self.store_url
        return f"duckdb:///{self.home_path / 'store.duckdb'}"

    @property
    def resolved_operational_url(self) -> str:
        """The operational store's URL, defaulting to a SQLite file in the home folder."""
        if self.operational_url:
            return self.operational_url
        return f"sqlite:///{self.home_path / 'operational.sqlite3'}"

    @property
    def synth_path(self) -> Path:
        """Where the pipeline's synthetic feeds and ground truth are written."""
        return self.home_path / "synth"

    def ensure_home(self) -> Path:
        """Create the home folder (private to the user) and return it."""
        path = self.home_path
        try:
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o700)
        except OSError as exc:
            raise ConfigError(
                f"Cannot create the OncoBase home folder {path}: {exc.strerror}. "
                "Set ONCOBASE_HOME to a folder you can write to."
            ) from exc
        return path


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment (``overrides`` win); ConfigError if invalid."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise ConfigError(f"Invalid OncoBase settings: {reasons}") from None


@lru_cache(maxsize=1)
def _cached() -> Settings:
    return load_settings()


def get_settings(*, fresh: bool = False) -> Settings:
    """Return the settings read from the environment (cached unless ``fresh``)."""
    if fresh:
        _cached.cache_clear()
    return _cached()
