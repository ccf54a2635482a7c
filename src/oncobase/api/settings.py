"""Settings of the web service (environment variables prefixed ``ONCOBASE_WEB_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from oncobase.config import Settings, get_settings
from oncobase.keys import read_or_create_hex_key
from oncobase.store.audit import audit_key


class WebSettings(BaseSettings):
    """Where the web service keeps its operational store and how it signs in its users."""

    model_config = SettingsConfigDict(env_prefix="ONCOBASE_WEB_", extra="ignore")

    home: Path | None = Field(
        default=None, description="Home folder; default: the platform's ONCOBASE_HOME."
    )
    store_url: str | None = Field(
        default=None, description="Clinical store; default: the platform's store URL."
    )
    operational_url: str | None = Field(
        default=None,
        description="Operational store (SQLAlchemy URL). Default: the platform's "
        "ONCOBASE_OPERATIONAL_URL, itself sqlite:///<home>/operational.sqlite3.",
    )
    session_key_file: Path | None = Field(
        default=None, description="Secret that signs CSRF tokens; default <home>/keys/session.key."
    )
    secure_cookies: bool | None = Field(
        default=None,
        description="Mark cookies Secure; default: only when the request came over https.",
    )
    session_hours: float = Field(default=8.0, gt=0, description="Session lifetime in hours.")
    login_max_failures: int = Field(
        default=5, ge=1, description="Failed logins before an account is locked."
    )
    lockout_minutes: float = Field(default=15.0, gt=0, description="How long a lockout lasts.")
    login_rate_per_minute: int = Field(
        default=20, ge=1, description="Login attempts per client address per minute."
    )
    population_csv: Path | None = Field(
        default=None,
        description="Population denominators (columns year, sex, age_group, departement, "
        "population) for rates and age-standardised rates; default: the synthetic nation's "
        "<home>/synth/population.csv when it exists; without one the explorer shows counts.",
    )
    oidc_name: str = Field(default="oidc", description="Label of the OpenID Connect provider.")
    oidc_metadata_url: str | None = Field(
        default=None,
        description="OpenID Connect discovery URL (…/.well-known/openid-configuration).",
    )
    oidc_client_id: str | None = Field(default=None, description="OIDC client id.")
    oidc_client_secret: str | None = Field(default=None, description="OIDC client secret.")
    oidc_default_role: str = Field(
        default="researcher", description="Role given to a user first seen through OIDC."
    )
    host: str = Field(default="127.0.0.1", description="Address `oncobase serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port of `oncobase serve`.")

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_metadata_url and self.oidc_client_id)

    def platform(self) -> Settings:
        """The platform settings, with this home folder when one is set."""
        base = get_settings()
        if self.home is None:
            return base
        return base.model_copy(update={"home": self.home})

    @property
    def resolved_population_csv(self) -> Path | None:
        """The population CSV in use: the setting, else the synthetic nation's, else none."""
        if self.population_csv is not None:
            return self.population_csv
        default = self.platform().synth_path / "population.csv"
        return default if default.is_file() else None

    @property
    def home_path(self) -> Path:
        return self.platform().home_path

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or self.platform().resolved_store_url

    @property
    def resolved_operational_url(self) -> str:
        return self.operational_url or self.platform().resolved_operational_url

    def session_key(self) -> bytes:
        """The signing secret, created (mode 0600) on first use."""
        return read_or_create_hex_key(
            self.session_key_file or self.home_path / "keys" / "session.key"
        )

    def audit_key(self) -> bytes:
        """The key of the audit chain's HMAC, created (mode 0600) on first use."""
        return audit_key(self.platform())
