"""The systemd unit: `systemd-analyze verify` is silent and the sandbox rates "OK" or better."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "systemd" / "coughwatch.service"
INSTALLED_BINARY = "/opt/coughwatch/venv/bin/cough-monitor"
MAX_EXPOSURE = 2.0
"""Measured 1.5; a change that weakens the sandbox should be a conscious one."""

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed"
)


@pytest.fixture
def unit_here(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this environment's cough-monitor (verify checks it)."""
    script = Path(sys.executable).parent / "cough-monitor"
    if not script.exists():
        pytest.skip("the cough-monitor console script is not installed next to python")
    text = UNIT.read_text()
    assert INSTALLED_BINARY in text
    path = tmp_path / "coughwatch.service"
    path.write_text(text.replace(INSTALLED_BINARY, str(script)))
    return path


def test_verify_prints_nothing(unit_here: Path):
    done = subprocess.run(["systemd-analyze", "verify", str(unit_here)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stderr == ""


def test_verify_notices_a_broken_unit(unit_here: Path):
    """The check above can fail: a missing binary and a typo are reported."""
    broken = unit_here.read_text().replace("ProtectSystem=strict", "ProtectSytem=strict")
    unit_here.write_text(broken.replace(str(Path(sys.executable).parent), "/nonexistent"))
    done = subprocess.run(["systemd-analyze", "verify", str(unit_here)],
                          capture_output=True, text=True, timeout=60)
    assert "ProtectSytem" in done.stderr
    assert "/nonexistent" in done.stderr


def test_security_exposure_is_ok_or_better(unit_here: Path):
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit_here)],
                          capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", done.stdout)
    assert match, done.stdout[-500:] + done.stderr
    exposure, rating = float(match.group(1)), match.group(2)
    assert rating in ("PERFECT", "SAFE", "OK")
    assert exposure <= MAX_EXPOSURE


def test_unit_is_a_watchdogged_notify_service_with_its_credential():
    text = UNIT.read_text()
    for line in ("Type=notify", "Restart=on-failure", "DynamicUser=yes",
                 "SupplementaryGroups=audio", "StateDirectory=coughwatch",
                 "ConfigurationDirectory=coughwatch",
                 "LoadCredential=mqtt_password:/etc/coughwatch/mqtt_password",
                 "EnvironmentFile=-/etc/default/coughwatch", "DeviceAllow=char-alsa rw"):
        assert re.search(rf"^{re.escape(line)}$", text, re.MULTILINE), line
    assert re.search(r"^WatchdogSec=\d+", text, re.MULTILINE)
    assert re.search(r"^ExecStart=\S+ listen --config /etc/coughwatch/coughwatch.toml$",
                     text, re.MULTILINE)
