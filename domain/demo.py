"""Deterministic, realistic demo customers for `customergraph seed-demo`."""

from __future__ import annotations

import random
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
