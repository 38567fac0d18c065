"""Which config file is used without --config: the usual places, in order."""

from __future__ import annotations

from pathlib import Path

from publisher.settings import load_settings
from publisher.settings.files import choose_config


def test_order_explicit_env_working_directory_then_user(tmp_path: Path) -> None:
    cwd, home = tmp_path / "work", tmp_path / "home"
    cwd.mkdir()
    user = home / ".config" / "partner-publisher" / "config.yaml"
    env = {"HOME": str(home)}
    nothing = choose_config(None, env, cwd)
    assert nothing.path is None
    assert "./partner-publisher.yaml" in nothing.describe()
    assert str(user) in nothing.describe()
    user.parent.mkdir(parents=True)
    user.write_text("aws: {region: eu-west-1}\n")
    assert choose_config(None, env, cwd).path == user
    (cwd / "partner-publisher.yaml").write_text("aws: {region: eu-central-1}\n")
    assert choose_config(None, env, cwd).path == Path("partner-publisher.yaml")
    with_env = {**env, "PUBLISHER_CONFIG": "/etc/p.yaml"}
    assert choose_config(None, with_env, cwd).path == Path("/etc/p.yaml")
    assert choose_config("given.yaml", with_env, cwd).path == Path("given.yaml")


def test_xdg_config_home_wins_over_home(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    (xdg / "partner-publisher").mkdir(parents=True)
    (xdg / "partner-publisher" / "config.yaml").write_text("aws: {region: sa-east-1}\n")
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(xdg)}
    choice = choose_config(None, env, tmp_path)
    assert choice.path == xdg / "partner-publisher" / "config.yaml"
    assert "user's config directory" in choice.describe()
    assert load_settings(None, env).aws.region == "sa-east-1"
