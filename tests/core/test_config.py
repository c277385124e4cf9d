from __future__ import annotations

from pathlib import Path

import pytest

from cxlens.config import Settings, dump_settings, load_settings
from cxlens.errors import ConfigError


def test_defaults_are_china_and_shanghai():
    settings = load_settings(None, environ={})
    assert settings.locale.region == "CN"
    assert settings.locale.timezone == "Asia/Shanghai"
    assert settings.warehouse.backend == ""


def test_round_trip_through_toml(tmp_path: Path):
    settings = load_settings(None, environ={})
    settings.locale.timezone = "Europe/London"
    settings.journeys.window_days = 3
    path = tmp_path / "cxlens.toml"
    path.write_text(dump_settings(settings))
    again = load_settings(path, environ={})
    assert again == settings


def test_unknown_key_is_rejected_with_its_name(tmp_path: Path):
    path = tmp_path / "cxlens.toml"
    path.write_text("[locale]\ntimezon = 'Asia/Shanghai'\n")
    with pytest.raises(ConfigError, match="unknown settings key 'locale.timezon'"):
        load_settings(path, environ={})


def test_unknown_time_zone_is_rejected(tmp_path: Path):
    path = tmp_path / "cxlens.toml"
    path.write_text("[locale]\ntimezone = 'Mars/Olympus'\n")
    with pytest.raises(ConfigError, match="unknown time zone"):
        load_settings(path, environ={})


def test_environment_overrides_file(tmp_path: Path):
    path = tmp_path / "cxlens.toml"
    path.write_text("[journeys]\nwindow_days = 3\n")
    settings = load_settings(path, environ={"CXLENS_JOURNEYS__WINDOW_DAYS": "5",
                                            "CXLENS_LOCALE__REGION": "gb"})
    assert settings.journeys.window_days == 5
    assert settings.locale.region == "GB"


def test_unknown_environment_key_is_rejected():
    with pytest.raises(ConfigError, match="unknown settings key"):
        load_settings(None, environ={"CXLENS_NOPE": "1"})


def test_invalid_toml_is_a_config_error(tmp_path: Path):
    path = tmp_path / "cxlens.toml"
    path.write_text("[locale\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path, environ={})


def test_settings_model_forbids_extra_fields():
    with pytest.raises(Exception, match="extra"):
        Settings.model_validate({"nope": 1})
