"""R25: runtime dependencies are pinned at or above the versions without known advisories."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLOORS = {"pillow": (13, 0, 0), "pyjwt": (2, 15, 1), "oauthlib": (4, 0, 1)}


def pinned(path: Path) -> dict[str, tuple[int, ...]]:
    found = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            found[name.strip().lower()] = tuple(int(p) for p in version.split(".") if p.isdigit())
    return found


def test_runtime_pins_are_at_or_above_the_advisory_floors():
    pins = pinned(ROOT / "requirements.txt")
    for name, floor in FLOORS.items():
        assert name in pins, f"{name} must be pinned in requirements.txt"
        assert pins[name] >= floor, f"{name} {pins[name]} is below {floor}"


def test_boto3_and_chalice_stay_out_of_the_lambda_bundle():
    pins = pinned(ROOT / "requirements.txt")
    assert "boto3" not in pins and "chalice" not in pins and "moto" not in pins
