"""The verification slip: one audit entry as a self-contained, printable HTML page."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from html import escape
from typing import Any

from dashboard.money import format_npr
from dashboard.nptime import format_npt

_ACTION_TITLES = {
    "status_check": "Payment status check",
    "verify": "Payment verification",
    "lookup": "ePayment lookup",
    "bulk_status": "Payment status check (bulk)",
    "bulk_lookup": "ePayment lookup (bulk)",
    "refresh": "Transaction refresh",
}
# Same colours as the desk: only Deliver is green.
_VERDICT_COLOURS = {
    "Deliver": ("#14532d", "#dcfce7"),
    "Do not deliver": ("#7f1d1d", "#fee2e2"),
}
_OTHER_COLOURS = ("#78350f", "#fef3c7")

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111;
       margin: 0; padding: 32px; background: #f4f4f5; }
.slip { max-width: 640px; margin: 0 auto; background: #fff; border: 1px solid #d4d4d8;
        border-radius: 8px; padding: 28px 32px; }
h1 { font-size: 20px; margin: 0 0 4px; }
.merchant { font-size: 15px; color: #3f3f46; margin-bottom: 20px; }
.verdict { border-radius: 6px; padding: 14px 18px; font-size: 26px; font-weight: 700;
           margin-bottom: 20px; }
.mode { display: inline-block; font-size: 12px; font-weight: 700; padding: 2px 8px;
        border-radius: 4px; margin-left: 8px; vertical-align: middle; }
.mode.live { background: #b91c1c; color: #fff; }
.mode.test { background: #e4e4e7; color: #27272a; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th { text-align: left; color: #52525b; font-weight: 500; width: 38%; padding: 7px 0;
     vertical-align: top; }
td { padding: 7px 0; overflow-wrap: anywhere; }
tr + tr th, tr + tr td { border-top: 1px solid #f0f0f2; }
.foot { margin-top: 20px; font-size: 12px; color: #71717a; }
@media print { body { background: #fff; padding: 0; } .slip { border: none; } }
"""


def _cell(value: Any) -> str:
    return "—" if value is None or value == "" else escape(str(value))


def slip_html(entry: Mapping[str, Any], *, merchant_name: str) -> str:
    """A printable slip for one audit entry (a dict as the store's audit_entry returns it)."""
    mode = str(entry.get("mode") or "")
    verdict = str(entry.get("verdict") or "")
    text, background = _VERDICT_COLOURS.get(verdict, _OTHER_COLOURS)
    at = entry.get("at")
    when = format_npt(at, seconds=True) if isinstance(at, datetime) else None
    amount = entry.get("amount_paisa")
    action = str(entry.get("action") or "")
    rows = (
        ("Payment reference", entry.get("reference")),
        ("Amount", format_npr(int(amount)) if amount is not None else None),
        ("Verdict", verdict),
        ("Khalti's state", entry.get("khalti_state")),
        ("Checked at", when),
        ("Mode", "Live (real money)" if mode == "live" else "Test (no real money)"),
        ("Checked by", entry.get("operator")),
        ("Note", entry.get("note")),
        ("Audit record", f"#{entry.get('id')}"),
    )
    table = "\n".join(
        f"<tr><th>{escape(label)}</th><td>{_cell(value)}</td></tr>"
        for label, value in rows
        if label != "Note" or value
    )
    title = _ACTION_TITLES.get(action, "Payment check")
    mode_class = "live" if mode == "live" else "test"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)} #{_cell(entry.get("id"))}</title>
<style>{_STYLE}</style>
</head>
<body>
<div class="slip">
<h1>{escape(title)}<span class="mode {mode_class}">{escape(mode.upper())}</span></h1>
<div class="merchant">{_cell(merchant_name)}</div>
<div class="verdict" style="color:{text};background:{background}">{_cell(verdict)}</div>
<table>
{table}
</table>
<div class="foot">Recorded in the merchant dashboard's audit log when Khalti's server was
asked. Only the verdict Deliver means the goods may be handed over.</div>
</div>
</body>
</html>
"""
