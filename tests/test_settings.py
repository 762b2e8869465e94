from pathlib import Path

import pytest

from bot.settings import ConfigurationError, Settings, TelegramMode, load_settings

VALID = {
    "TELEGRAM_BOT_TOKEN": "123456789:TEST-fake-token",
    "STRIPE_SECRET_KEY": "sk_test_fake_key_for_tests",
    "STRIPE_WEBHOOK_SECRET": "whsec_fake_secret_for_tests",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what each test sets: no variables or .env file of the machine running the tests."""
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


def use(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in {**VALID, **values}.items():
        monkeypatch.setenv(name, value)


def test_defaults_are_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch)
    settings = load_settings()
    assert settings.telegram_mode is TelegramMode.POLLING
    assert settings.database_path == Path("data/shop.db")
    assert settings.http_port == 8080
    assert settings.checkout_expires_minutes == 30
    assert settings.admin_ids == frozenset()


def test_admin_ids_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, ADMIN_IDS=" 11, 22 ,33")
    assert load_settings().admin_ids == frozenset({11, 22, 33})


def test_the_largest_telegram_user_id_is_an_admin_id(monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, ADMIN_IDS=str(2**52 - 1))
    assert load_settings().admin_ids == frozenset({2**52 - 1})


@pytest.mark.parametrize("value", [f"11,{2**64}", str(2**63), str(2**52), "0"])
def test_an_id_no_telegram_user_has_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """2**63 and beyond would overflow SQLite's integers later, at start-up or in a webhook."""
    use(monkeypatch, ADMIN_IDS=value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert str(caught.value) == (
        "configuration error: ADMIN_IDS: a Telegram user id is a whole number"
        f" from 1 to {2**52 - 1}"
    )


@pytest.mark.parametrize(("value", "rate"), [("0", 0.0), ("0.5", 0.5), ("0.01", 0.01), ("30", 30)])
def test_a_message_rate_may_be_off_or_a_fraction(
    monkeypatch: pytest.MonkeyPatch, value: str, rate: float
) -> None:
    use(monkeypatch, TELEGRAM_MESSAGES_PER_SECOND=value)
    assert load_settings().telegram_messages_per_second == rate


def test_the_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("\n".join(f"{k}={v}" for k, v in VALID.items()))
    assert load_settings().stripe_secret_key.get_secret_value() == VALID["STRIPE_SECRET_KEY"]


@pytest.mark.parametrize("name", sorted(VALID))
def test_each_required_setting_missing_is_named(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    use(monkeypatch)
    monkeypatch.delenv(name)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert str(caught.value) == f"configuration error: {name} is required"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TELEGRAM_BOT_TOKEN", "not-a-token"),
        ("STRIPE_SECRET_KEY", "pk_test_publishable"),
        ("STRIPE_WEBHOOK_SECRET", "hunter2-not-whsec"),
        ("TELEGRAM_MODE", "carrier-pigeon"),
        ("HTTP_PORT", "eighty"),
        ("HTTP_PORT", "70000"),
        ("CHECKOUT_EXPIRES_MINUTES", "10"),
        ("CHECKOUT_EXPIRES_MINUTES", "2000"),
        ("ADMIN_IDS", "12,bob"),
        ("DATABASE_URL", "mysql://localhost/shop"),
        ("STRIPE_API_BASE_URL", "ftp://example.com"),
        ("LOG_LEVEL", "LOUD"),
        ("TELEGRAM_MESSAGES_PER_SECOND", "-1"),
        ("TELEGRAM_MESSAGES_PER_SECOND", "lots"),
        ("TELEGRAM_MESSAGES_PER_SECOND", "0.001"),
        ("OUTBOX_LEASE_SECONDS", "0"),
        ("OUTBOX_LEASE_SECONDS", "a minute"),
        # Folders of zones: ZoneInfo raises IsADirectoryError, not "no such zone".
        ("SHOP_TIMEZONE", "America"),
        ("SHOP_TIMEZONE", "America/Argentina"),
        ("SHOP_TIMEZONE", "Mars/Olympus"),
        ("TELEGRAM_WEBHOOK_SECRET", "Zq7-x_3"),
        ("TELEGRAM_WEBHOOK_SECRET", "has spaces in it"),
    ],
)
def test_a_malformed_value_is_named_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    use(monkeypatch, **{name: value})
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"configuration error: {name}: ")
    assert "\n" not in message
    assert value not in message


@pytest.mark.parametrize(
    ("missing", "present"),
    [
        ("PUBLIC_BASE_URL", {"TELEGRAM_WEBHOOK_SECRET": "s3cret-token"}),
        ("TELEGRAM_WEBHOOK_SECRET", {"PUBLIC_BASE_URL": "https://shop.example.com"}),
    ],
)
def test_webhook_mode_needs_its_url_and_secret(
    monkeypatch: pytest.MonkeyPatch, missing: str, present: dict[str, str]
) -> None:
    use(monkeypatch, TELEGRAM_MODE="webhook", **present)
    with pytest.raises(ConfigurationError, match=f"{missing} is required"):
        load_settings()


def test_secrets_do_not_show_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch)
    text = repr(load_settings())
    assert all(secret not in text for secret in VALID.values())


@pytest.mark.parametrize(
    "url", ["postgresql://shop:pw@db.internal:5432/shop", "postgres://shop:pw@db:5432/shop"]
)
def test_a_postgresql_url_selects_postgresql(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    use(monkeypatch, DATABASE_URL=url)
    settings = load_settings()
    assert settings.database_url == url
    assert settings.database_path is None


@pytest.mark.parametrize("url", ["mysql://shop@db/shop", "sqlite:///", "postgresql://", "shop.db"])
def test_a_database_url_of_no_known_kind_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    use(monkeypatch, DATABASE_URL=url)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert str(raised.value) == (
        "configuration error: DATABASE_URL: expected sqlite:///PATH or"
        " postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
    )
