"""miniprogram_api.md documents every route the app serves."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "miniprogram_api.md"


def _documented_path(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "<id>" if m.group(1).endswith("id") else f"<{m.group(1)}>", rule)


def test_every_route_is_in_the_api_doc(app):
    text = DOC.read_text(encoding="utf-8")
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/v1", "/media")):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            heading = f"`{method} {_documented_path(rule.rule)}`"
            if heading not in text:
                missing.append(heading)
    assert not missing, f"not documented in miniprogram_api.md: {missing}"


def test_every_error_code_in_the_code_is_in_the_api_doc():
    text = DOC.read_text(encoding="utf-8")
    root = DOC.parent / "backend"
    codes = set()
    for path in root.rglob("*.py"):
        codes |= set(re.findall(r'code="([a-z_]+)"', path.read_text(encoding="utf-8")))
        codes |= set(re.findall(r'^\s+code = "([a-z_]+)"', path.read_text(encoding="utf-8"), re.M))
    missing = sorted(code for code in codes if f"`{code}`" not in text)
    assert not missing, f"error codes missing from miniprogram_api.md: {missing}"
