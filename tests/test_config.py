"""Settings precedence: defaults < config file < LUNGDX_* environment."""

from pathlib import Path

from lungdx_widgets.config import PROJECT_ROOT, Settings, load_settings


def test_defaults_point_inside_the_repository():
    s = load_settings(env={}, config_file=Path("/nonexistent.toml"))
    assert s.db == Settings().db
    assert s.db.is_relative_to(PROJECT_ROOT)
    assert s.xrv_cache == s.weights / "xrv"


def test_config_file_then_environment_override(tmp_path: Path):
    cfg = tmp_path / "lungdx.toml"
    cfg.write_text('db = "from-file.db"\nport = 9000\nunknown_key = 1\n')
    s = load_settings(env={}, config_file=cfg)
    assert s.db == (PROJECT_ROOT / "from-file.db").resolve()
    assert s.port == 9000
    s = load_settings(env={"LUNGDX_PORT": "9100", "LUNGDX_DB": str(tmp_path / "env.db")}, config_file=cfg)
    assert s.port == 9100
    assert s.db == tmp_path / "env.db"


def test_config_file_named_by_environment(tmp_path: Path):
    cfg = tmp_path / "other.toml"
    cfg.write_text(f'weights = "{tmp_path}"\n')
    assert load_settings(env={"LUNGDX_CONFIG": str(cfg)}).weights == tmp_path
