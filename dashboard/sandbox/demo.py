"""Deterministic demo traffic for a Nepali online shop.

Nothing is generated up front: record `seq` is rebuilt on demand from (seed, seq), and
its time comes from inverting a cumulative demand curve at quantile (seq + jitter) / N.
Because that quantile rises with `seq`, records come out in time order without being
sorted, and any page of a million-record sandbox costs only its own records.
"""

import hashlib
import math
import random
from bisect import bisect_right
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import accumulate
from types import MappingProxyType

from dashboard.sandbox.ids import IdCodec, Kind
from dashboard.sandbox.records import (
    DAY_US,
    HOUR_US,
    KATHMANDU,
    WALLET,
    Txn,
    User,
    to_us,
)

WINDOW_DAYS = 395  # about 13 months

TYPE_WEIGHTS = (65, 13, 11, 7, 4)  # over TYPE_NAMES without Fee
# Basis points of the amount; cards cost the merchant most, bank transfers least.
FEE_BASIS_POINTS = (250, 150, 150, 150, 300, 0)

BANKS = (
    "Nabil Bank",
    "NIC Asia Bank",
    "Global IME Bank",
    "Nepal Investment Mega Bank",
    "Himalayan Bank",
    "Standard Chartered Bank Nepal",
    "Everest Bank",
    "Prabhu Bank",
    "Siddhartha Bank",
    "Kumari Bank",
    "Laxmi Sunrise Bank",
    "Sanima Bank",
    "NMB Bank",
    "Prime Commercial Bank",
    "Citizens Bank International",
    "Machhapuchchhre Bank",
    "Nepal Bank",
    "Rastriya Banijya Bank",
    "Agricultural Development Bank",
    "Nepal SBI Bank",
)

MALE_NAMES = (
    "Ram", "Hari", "Shyam", "Krishna", "Bikash", "Suresh", "Ramesh", "Prakash", "Sagar",
    "Nabin", "Rajesh", "Dipesh", "Anish", "Sujan", "Roshan", "Bishal", "Kiran", "Santosh",
    "Dinesh", "Aayush", "Pratik", "Niraj", "Sandeep", "Mohan", "Gopal", "Tenzing", "Pemba",
)  # fmt: skip
FEMALE_NAMES = (
    "Sita", "Gita", "Aarati", "Sunita", "Anita", "Puja", "Sabina", "Nisha", "Asmita",
    "Srijana", "Kabita", "Rojina", "Prativa", "Sarita", "Manisha", "Binita", "Sushma",
    "Pooja", "Anjali", "Rachana", "Laxmi", "Samjhana", "Dolma", "Pasang", "Kritika",
)  # fmt: skip
SURNAMES = (
    "Sharma", "Thapa", "Gurung", "Shrestha", "Tamang", "Rai", "Limbu", "Magar", "Karki",
    "Adhikari", "Poudel", "Bhattarai", "KC", "Maharjan", "Joshi", "Khadka", "Basnet",
    "Pandey", "Sherpa", "Yadav", "Chaudhary", "Bista", "Dahal", "Koirala", "Rana",
    "Tamrakar", "Pradhan", "Ghimire", "Subedi", "Lama",
)  # fmt: skip
FOREIGN_NAMES = (
    "John Smith", "Emma Wilson", "David Brown", "Sarah Johnson", "Michael Lee",
    "Olivia Martin", "James Taylor", "Sophie Müller", "Lucas Dubois", "Priya Patel",
    "Daniel Kim", "Hannah Schmidt", "Tom Evans", "Chloe Bernard", "Rahul Verma",
)  # fmt: skip
MOBILE_PREFIXES = ("980", "981", "982", "984", "985", "986", "974", "975", "976")

PRODUCTS = (
    ("Pashmina Shawl", "pashmina-shawl"),
    ("Dhaka Topi", "dhaka-topi"),
    ("Momo Steamer Set", "momo-steamer-set"),
    ("Ilam Tea 500g", "ilam-tea-500g"),
    ("Mobile Recharge", "mobile-recharge"),
    ("Data Pack 10GB", "data-pack-10gb"),
    ("NEA Electricity Bill", "nea-electricity-bill"),
    ("Internet Bill", "internet-bill"),
    ("Movie Ticket", "movie-ticket"),
    ("Bus Ticket Kathmandu-Pokhara", "bus-kathmandu-pokhara"),
    ("Trekking Pole", "trekking-pole"),
    ("Lokta Paper Notebook", "lokta-notebook"),
    ("Singing Bowl", "singing-bowl"),
    ("Yak Cheese 250g", "yak-cheese-250g"),
    ("Dashain Tika Set", "dashain-tika-set"),
    ("Tihar Diyo Pack", "tihar-diyo-pack"),
    ("Palpasa Cafe (paperback)", "palpasa-cafe"),
    ("Down Jacket", "down-jacket"),
    ("Gundruk 200g", "gundruk-200g"),
    ("Handmade Felt Slippers", "felt-slippers"),
)
SHOP_URL = "https://sajilomart.com.np/products/"
MERCHANT_NAME = "Sajilo Mart"
MERCHANT_LOGIN = "sajilomart@khalti.com"

# Demand by Nepal-Time hour: asleep at night, busy late morning and again after work.
HOURLY_DEMAND = (
    0.15, 0.08, 0.05, 0.04, 0.05, 0.15, 0.40, 0.70, 1.00, 1.40, 1.80, 2.00,
    1.70, 1.40, 1.30, 1.30, 1.40, 1.60, 1.90, 2.10, 2.00, 1.50, 0.90, 0.40,
)  # fmt: skip
SATURDAY_DEMAND = 0.75  # Nepal's one weekend day: shops and offices shut
FRIDAY_EVENING_DEMAND = 1.35  # the eve of the weekend
RECENT_US = DAY_US  # only this young a transaction may still be Initiated or Confirmed
REGULAR_CUSTOMERS = 30
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def fee_for(amount: int, kind: int) -> int:
    """Khalti's charge on a payment, in paisa, rounded half up."""
    return (amount * FEE_BASIS_POINTS[kind] + 5000) // 10000


def _season(day: date) -> float:
    """Dashain (around mid October) and Tihar (around early November) lift sales."""
    offset = (day - date(day.year, 10, 1)).days
    dashain = math.exp(-(((offset - 12) / 8) ** 2))
    tihar = math.exp(-(((offset - 33) / 5) ** 2))
    return 1 + 0.8 * dashain + 0.6 * tihar


class Traffic:
    """Cumulative demand over the window, to turn a quantile into a moment."""

    def __init__(self, end: datetime, seed: int) -> None:
        self.end_us = to_us(end)
        hours = WINDOW_DAYS * 24
        self.start_us = self.end_us - hours * HOUR_US
        # Nepal Time has kept one offset since 1986, so local time is plain arithmetic here;
        # building 9,500 datetimes would dominate start-up.
        offset_us = end.astimezone(KATHMANDU).utcoffset() // timedelta(microseconds=1)
        first_local_us = self.start_us + offset_us + HOUR_US // 2  # middle of each hour
        first_day = first_local_us // DAY_US
        day_noise = random.Random(f"khalti-sandbox-days:{seed}")
        days = []
        for number in range(WINDOW_DAYS + 2):
            day = date.fromordinal(_EPOCH_ORDINAL + first_day + number)
            weight = day_noise.lognormvariate(0, 0.12) * _season(day)
            if day.weekday() == 5:
                weight *= SATURDAY_DEMAND
            days.append((weight, day.weekday() == 4))
        weights = []
        for hour in range(hours):
            local_us = first_local_us + hour * HOUR_US
            day_weight, friday = days[local_us // DAY_US - first_day]
            clock_hour = local_us % DAY_US // HOUR_US
            weight = HOURLY_DEMAND[clock_hour] * day_weight
            weight *= 0.75 + 0.5 * hour / hours  # the shop grows over the year
            if friday and clock_hour >= 17:
                weight *= FRIDAY_EVENING_DEMAND
            weights.append(weight)
        total = sum(weights)
        self._cumulative = [value / total for value in accumulate(weights)]

    def moment(self, quantile: float) -> int:
        """Microseconds since the epoch below which `quantile` of the demand lies."""
        hour = min(bisect_right(self._cumulative, quantile), len(self._cumulative) - 1)
        low = self._cumulative[hour - 1] if hour else 0.0
        share = (quantile - low) / ((self._cumulative[hour] - low) or 1.0)
        us = self.start_us + round((hour + min(max(share, 0.0), 1.0)) * HOUR_US)
        return min(us, self.end_us)


class DemoGenerator:
    """Builds record `seq` of a `count`-record history ending at `end`, always the same way."""

    def __init__(self, count: int, seed: int, end: datetime, codec: IdCodec) -> None:
        self.count = count
        self.codec = codec
        self.traffic = Traffic(end, seed)
        self._seed_key = hashlib.blake2b(f"khalti-sandbox:{seed}".encode(), digest_size=16)
        self._customer_pool = max(100, count // 4)
        self.customer = lru_cache(maxsize=8192)(self._customer)

    def _rng(self, purpose: bytes, number: int) -> random.Random:
        key = self._seed_key.copy()
        key.update(purpose + number.to_bytes(8, "big"))
        return random.Random(int.from_bytes(key.digest(), "big"))

    def txn(self, seq: int) -> Txn:
        """Seeded history record `seq` (0 is the oldest)."""
        rng = self._rng(b"txn", seq)
        created_us = self.traffic.moment((seq + rng.random()) / self.count)
        recent = self.traffic.end_us - created_us < RECENT_US
        return self._build(rng, seq, created_us, self._state(rng, recent), None)

    def fresh(self, seq: int, created_us: int, state: str, amount: int | None) -> Txn:
        """A new payment `seq` made at `created_us`, as the test hooks add them."""
        return self._build(self._rng(b"new", seq), seq, created_us, state, amount)

    def _build(
        self, rng: random.Random, seq: int, created_us: int, state: str, amount: int | None
    ) -> Txn:
        kind = rng.choices(range(len(TYPE_WEIGHTS)), TYPE_WEIGHTS)[0]
        ebanker = None if kind == WALLET else rng.choice(BANKS)
        if rng.random() < 0.15:
            customer = rng.randrange(REGULAR_CUSTOMERS)
        else:
            customer = REGULAR_CUSTOMERS + rng.randrange(self._customer_pool)
        if amount is None:
            amount = _amount(rng)
        meta = _meta(rng, seq)
        txn = Txn(
            seq=seq,
            created_us=created_us,
            kind=kind,
            state="Completed",
            amount=amount,
            fee=fee_for(amount, kind),
            user=self.customer(customer),
            ebanker=ebanker,
            meta=meta,
        )
        if state == "Partially refunded":
            share = rng.uniform(0.2, 0.6)
            txn = replace(txn, refunded_amount=int(amount * share) // 100 * 100)
        return txn.with_state(state)

    def _customer(self, number: int) -> User:
        rng = self._rng(b"customer", number)
        if rng.random() < 0.03:
            name = rng.choice(FOREIGN_NAMES)
        elif rng.random() < 0.5:
            middle = " Bahadur" if rng.random() < 0.25 else ""
            name = f"{rng.choice(MALE_NAMES)}{middle} {rng.choice(SURNAMES)}"
        else:
            middle = " Kumari" if rng.random() < 0.12 else ""
            name = f"{rng.choice(FEMALE_NAMES)}{middle} {rng.choice(SURNAMES)}"
        mobile = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**7):07d}"
        if mobile.startswith("980000000"):
            mobile = f"9801{mobile[4:]}"  # keep clear of the sandbox test payers
        return User(idx=self.codec.encode(Kind.USER, number), name=name, mobile=mobile)

    @staticmethod
    def _state(rng: random.Random, recent: bool) -> str:
        roll = rng.random()
        if recent:
            if roll < 0.03:
                return "Initiated"
            if roll < 0.06:
                return "Confirmed"
        if roll > 0.935:
            return "Failed" if roll > 0.97 else "Refunded" if roll > 0.95 else "Partially refunded"
        return "Completed"


def _amount(rng: random.Random) -> int:
    """Paisa: mostly whole rupees, biased to round prices, rarely up to Rs 1,00,000."""
    if rng.random() < 0.004:
        return rng.randrange(20, 101) * 1000 * 100
    rupees = int(rng.lognormvariate(6.4, 0.9))
    roll = rng.random()
    if rupees >= 500 and roll < 0.4:
        rupees = round(rupees / 500) * 500
    elif rupees >= 100 and roll < 0.65:
        rupees = round(rupees / 100) * 100
    elif roll < 0.8:
        rupees = round(rupees / 10) * 10
    paisa = min(max(rupees, 10), 100_000) * 100
    if rng.random() < 0.05 and paisa < 100_000 * 100:
        paisa += rng.randrange(1, 100)  # utility bills carry paisa
    return paisa


def _meta(rng: random.Random, seq: int) -> MappingProxyType | None:
    if rng.random() < 0.15:
        return None
    name, slug = rng.choice(PRODUCTS)
    url = None if rng.random() < 0.3 else SHOP_URL + slug
    return MappingProxyType(
        {"product_identity": f"SM-{seq + 100001}", "product_name": name, "product_url": url}
    )
