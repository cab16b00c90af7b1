"""Deterministic, realistic demo customers for `customergraph seed-demo`."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

COMPANIES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark Industries",
    "Wayne Enterprises",
    "Wonka Industries",
    "Soylent",
    "Cyberdyne",
    "Tyrell",
    "Massive Dynamic",
    "Aperture Labs",
    "Black Mesa",
    "Vandelay Industries",
    "Pied Piper",
    "Dunder Mifflin",
    "Prestige Worldwide",
    "Oceanic Airlines",
    "Monarch Solutions",
    "Blue Sun",
    "Nakatomi Trading",
    "Gringotts",
    "Oscorp",
    "Virtucon",
    "Bluth Company",
    "Sterling Cooper",
    "Los Pollos Hermanos",
    "Gekko & Co",
    "Rekall",
    "Weyland-Yutani",
    "Ollivanders",
    "Krusty Krab",
    "Planet Express",
    "Spacely Sprockets",
    "Cogswell Cogs",
    "Nuka-Cola",
    "Abstergo",
    "Kaibacorp",
    "Yoyodyne",
]
PEOPLE = [
    ("Ada", "Lovelace"),
    ("Grace", "Hopper"),
    ("Alan", "Turing"),
    ("Katherine", "Johnson"),
    ("Linus", "Pauling"),
    ("Margaret", "Hamilton"),
    ("Edsger", "Dijkstra"),
    ("Barbara", "Liskov"),
    ("Donald", "Knuth"),
    ("Frances", "Allen"),
]
PLACES = [
    ("US", "USD", "en-US", "America/New_York"),
    ("DE", "EUR", "de-DE", "Europe/Berlin"),
    ("GB", "GBP", "en-GB", "Europe/London"),
    ("FR", "EUR", "fr-FR", "Europe/Paris"),
    ("JP", "JPY", "ja-JP", "Asia/Tokyo"),
    ("BR", "BRL", "pt-BR", "America/Sao_Paulo"),
    ("IN", "INR", "en-IN", "Asia/Kolkata"),
    ("AU", "AUD", "en-AU", "Australia/Sydney"),
]
INDUSTRIES = ["Software", "Retail", "Manufacturing", "Healthcare", "Finance", "Media", "Logistics"]
TIERS = ["free", "startup", "growth", "enterprise"]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-").replace("--", "-")


def demo_customers(count: int = 50, seed: int = 2024) -> list[dict[str, Any]]:
    """Customer inputs (GraphQL field names), the same for the same count and seed."""
    rng = random.Random(seed)
    customers: list[dict[str, Any]] = []
    for index in range(count):
        country, currency, locale, zone = rng.choice(PLACES)
        number = f"{index + 1:04d}"
        fields: dict[str, Any] = {
            "externalId": f"demo-{number}",
            "countryCode": country,
            "currency": currency,
            "locale": locale,
            "timezone": zone,
            "industry": rng.choice(INDUSTRIES),
            "customFields": [{"key": "tier", "value": rng.choice(TIERS)}],
            "ingestAliases": [f"demo-alias-{number}"],
        }
        if index % 5 == 4:
            first, last = PEOPLE[index // 5 % len(PEOPLE)]
            fields |= {
                "accountType": "INDIVIDUAL",
                "firstName": first,
                "lastName": last,
                "email": f"{first}.{last}.{number}@example.com".lower(),
            }
        else:
            company = COMPANIES[index % len(COMPANIES)]
            suffix = "" if index < len(COMPANIES) else f" {rng.choice(['EU', 'APAC', 'Labs'])}"
            name = company + suffix
            fields |= {
                "accountType": "BUSINESS",
                "companyName": name,
                "handle": f"{_slug(name)}-{number}",
                "email": f"billing@{_slug(name)}-{number}.example.com",
                "description": f"{name} buys the {rng.choice(TIERS)} plan.",
            }
        customers.append(fields)
    return customers


DEMO_METRICS: list[dict[str, Any]] = [
    {
        "name": "API calls",
        "aggregationType": "COUNT",
        "eventTypeFilter": {"inValues": ["api_call"]},
    },
    {
        "name": "Compute hours",
        "aggregationType": "SUM",
        "aggregationKey": "hours",
        "eventTypeFilter": {"inValues": ["compute"]},
        "propertyFilters": [{"name": "hours", "exists": True}, {"name": "region", "exists": True}],
        "groupKeys": [["region"]],
    },
    {
        "name": "Storage GB (peak)",
        "aggregationType": "MAX",
        "aggregationKey": "gb",
        "eventTypeFilter": {"inValues": ["storage"]},
        "propertyFilters": [{"name": "gb", "exists": True}],
    },
    {
        "name": "Active users",
        "aggregationType": "UNIQUE",
        "aggregationKey": "user_id",
        "eventTypeFilter": {"inValues": ["login"]},
        "propertyFilters": [{"name": "user_id", "exists": True}],
    },
    {
        "name": "Seats",
        "aggregationType": "LATEST",
        "aggregationKey": "seats",
        "eventTypeFilter": {"inValues": ["seat_count"]},
        "propertyFilters": [{"name": "seats", "exists": True}],
    },
]
# Plan name → (description, [(metric name, unit price, credit type)]).
DEMO_PLANS: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "Starter": ("Pay as you go", [("API calls", "0.0010", "USD"), ("Seats", "5.00", "USD")]),
    "Growth": (
        "For scaling teams",
        [
            ("API calls", "0.0008", "USD"),
            ("Compute hours", "0.12", "USD"),
            ("Seats", "4.00", "USD"),
        ],
    ),
    "Enterprise": (
        "Committed use, credits",
        [
            ("API calls", "0.0005", "USD"),
            ("Compute hours", "0.09", "USD"),
            ("Storage GB (peak)", "0.02", "USD"),
            ("Active users", "1.00", "credits"),
        ],
    ),
}
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
SUBSCRIPTION_STATUSES = ["ACTIVE", "ACTIVE", "TRIALING", "PAST_DUE", "CANCELED"]
INSTANCE_STATUSES = ["RUNNING", "RUNNING", "STOPPED", "PROVISIONING", "TERMINATED"]


def demo_holdings(index: int) -> tuple[list[tuple[str, str, int]], list[tuple[str, str, str]]]:
    """A demo customer's subscriptions (plan, status, days ago) and instances (name, status,
    region), the same for the same customer index."""
    rng = random.Random(index)
    plans = list(DEMO_PLANS)
    subscriptions = [
        (rng.choice(plans), rng.choice(SUBSCRIPTION_STATUSES), rng.randint(1, 400))
        for _ in range(rng.randint(1, 3))
    ]
    instances = [
        (
            f"{rng.choice(['api', 'worker', 'db', 'cache'])}-{n + 1}",
            rng.choice(INSTANCE_STATUSES),
            rng.choice(REGIONS),
        )
        for n in range(rng.randint(0, 4))
    ]
    return subscriptions, instances


def demo_events(index: int, today: date, count: int = 20) -> list[dict[str, Any]]:
    """Usage events (column names) of one demo customer over the last 30 days; transaction
    ids are stable, so seeding again stores nothing twice."""
    rng = random.Random(f"events-{index}")
    events = []
    for n in range(count):
        day = today - timedelta(days=rng.randint(0, 29))
        moment = datetime.combine(day, time(rng.randint(0, 23), rng.randint(0, 59)), UTC)
        kind = rng.choice(["api_call", "api_call", "compute", "storage", "login", "seat_count"])
        properties: dict[str, Any] = {
            "api_call": {"endpoint": rng.choice(["/v1/orders", "/v1/users"])},
            "compute": {"hours": f"{rng.randint(1, 400) / 100:.2f}", "region": rng.choice(REGIONS)},
            "storage": {"gb": f"{rng.randint(1, 5000) / 10:.1f}"},
            "login": {"user_id": f"user-{rng.randint(1, 12)}"},
            "seat_count": {"seats": str(rng.randint(1, 40))},
        }[kind]
        events.append(
            {
                "transaction_id": f"demo-{index + 1:04d}-{n + 1:03d}",
                "event_type": kind,
                "timestamp": moment,
                "properties": properties,
            }
        )
    return events
