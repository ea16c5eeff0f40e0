"""Nepal time: instants are stored in UTC; days, weeks and months belong to Asia/Kathmandu."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NPT = ZoneInfo("Asia/Kathmandu")

# Nepal's week runs Sunday to Saturday (Saturday is the weekend day).
WEEKDAY_NAMES = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")

PRESETS = (
    "Today",
    "Yesterday",
    "Last 7 days",
    "Last 30 days",
    "Last 90 days",
    "This month",
    "Last month",
    "Custom",
)


def parse_khalti_time(text: str) -> datetime:
    """Parse Khalti's ISO 8601 timestamp; a missing offset is read as Nepal time."""
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=NPT)
    return parsed


def now_utc() -> datetime:
    return datetime.now(UTC)


def to_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: an instant needs a time zone")
    return moment.astimezone(UTC)


def to_npt(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: an instant needs a time zone")
    return moment.astimezone(NPT)


def today_npt(now: datetime | None = None) -> date:
    return to_npt(now or now_utc()).date()


def khalti_isoformat(moment: datetime) -> str:
    """2018-06-20T14:48:08.867125+05:45, the form Khalti and our exports use."""
    return to_npt(moment).isoformat(timespec="microseconds")


def format_npt(moment: datetime, *, seconds: bool = False) -> str:
    """Display form: 2024-10-12 14:05 NPT."""
    local = to_npt(moment)
    return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + " NPT"


def day_start_utc(day: date) -> datetime:
    """The UTC instant at which a Nepal calendar day begins."""
    return datetime.combine(day, time.min, tzinfo=NPT).astimezone(UTC)


def range_bounds_utc(first: date, last: date) -> tuple[datetime, datetime]:
    """[start, end) in UTC covering Nepal days first..last inclusive."""
    if last < first:
        raise ValueError("the range ends before it starts")
    return day_start_utc(first), day_start_utc(last + timedelta(days=1))


def week_start(day: date) -> date:
    """The Sunday that starts the Nepal week holding this day."""
    return day - timedelta(days=(day.weekday() + 1) % 7)


def month_start(day: date) -> date:
    return day.replace(day=1)


def weekday_index(day: date) -> int:
    """0 = Sunday ... 6 = Saturday, to match WEEKDAY_NAMES."""
    return (day.weekday() + 1) % 7


def preset_range(
    preset: str, today: date, custom: tuple[date, date] | None = None
) -> tuple[date, date]:
    """Inclusive Nepal-date range for a named preset, relative to today (a Nepal date)."""
    if preset == "Today":
        return today, today
    if preset == "Yesterday":
        day = today - timedelta(days=1)
        return day, day
    if preset.startswith("Last ") and preset.endswith(" days"):
        days = int(preset.split()[1])
        return today - timedelta(days=days - 1), today
    if preset == "This month":
        return month_start(today), today
    if preset == "Last month":
        last = month_start(today) - timedelta(days=1)
        return month_start(last), last
    if preset == "Custom":
        if custom is None:
            raise ValueError("a custom range needs both dates")
        first, last = custom
        if last < first:
            raise ValueError("the range ends before it starts")
        return first, last
    raise ValueError(f"unknown date range preset: {preset}")


def previous_period(first: date, last: date) -> tuple[date, date]:
    """The period of the same length just before first..last."""
    length = (last - first).days + 1
    return first - timedelta(days=length), first - timedelta(days=1)
