"""PACS settings: lungdx.toml [pacs] < LUNGDX_PACS_* env; the password never shows in a repr."""

from __future__ import annotations

from lungdx_widgets.pacs.settings import load_pacs_settings


def test_file_then_environment_and_types(tmp_path):
    cfg = tmp_path / "lungdx.toml"
    cfg.write_text('[pacs]\nurl = "https://pacs.example/dicom-web"\nusername = "ai"\npassword = "from-file"\n'
                   'modalities = ["cr"]\npoll_seconds = 30\nverify_tls = true\n')
    s = load_pacs_settings(env={"LUNGDX_PACS_PASSWORD": "from-env", "LUNGDX_PACS_MODALITIES": "CR, dx",
                                "LUNGDX_PACS_VERIFY_TLS": "false", "LUNGDX_PACS_TIMEOUT": "2.5"}, config_file=cfg)
    assert (s.url, s.username, s.password) == ("https://pacs.example/dicom-web", "ai", "from-env")
    assert s.modalities == ("CR", "DX") and s.poll_seconds == 30 and s.verify_tls is False and s.timeout == 2.5
    assert "from-env" not in repr(s) and s.configured


def test_nothing_configured_means_no_pacs(tmp_path):
    s = load_pacs_settings(env={}, config_file=tmp_path / "absent.toml")
    assert not s.configured and s.modalities == ("CR", "DX") and s.poll_seconds == 0
