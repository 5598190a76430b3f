"""The sample schema later issues share (policy, masking), with deterministic,
fake but realistic data: valid-format SSNs, Luhn-valid card numbers, emails,
phones, and PII hidden inside free text and JSON as well.

Everything comes from random.Random(seed), so two runs produce the same rows.
"""

import json
import random

CUSTOMERS_SQL = """
CREATE TABLE public.customers (
    id          serial PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL,
    ssn         text NOT NULL,
    card_number text NOT NULL,
    phone       text NOT NULL,
    notes       text,
    profile     jsonb
);
"""

SCHEMA_SQL = CUSTOMERS_SQL + """
CREATE TABLE public.orders (
    id          serial PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES public.customers(id),
    amount      numeric(12,2) NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX orders_customer_id_idx ON public.orders(customer_id);
CREATE SCHEMA hr;
CREATE TABLE hr.salaries (
    employee text PRIMARY KEY,
    amount   numeric(12,2) NOT NULL
);
"""

FIRST = ["Alice", "Bob", "Carmen", "Dmitri", "Elena", "Farid", "Grace", "Hiro",
         "Ines", "Jamal", "Keiko", "Lars", "Maya", "Nadia", "Oscar", "Priya",
         "Quentin", "Rosa", "Sven", "Tariq", "Uma", "Victor", "Wen", "Ximena",
         "Yusuf", "Zoe", "Émile", "Søren", "Zoë", "Łukasz"]
LAST = ["Anderson", "Brown", "Chen", "Dubois", "Evans", "Fischer", "García",
        "Hansen", "Ivanova", "Johnson", "Kowalski", "López", "Müller", "Nakamura",
        "O'Brien", "Patel", "Quinn", "Rossi", "Smith", "Tanaka", "Umar", "Varga",
        "Williams", "Xu", "Yilmaz", "Zhang"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example"]
CARD_PREFIXES = [("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15),
                 ("6011", 16)]

N_CUSTOMERS = 3000
N_ORDERS = 12000
N_EMPLOYEES = 60


def luhn_ok(number):
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _luhn_complete(prefix_digits):
    """Append the check digit that makes prefix_digits Luhn-valid."""
    for check in "0123456789":
        if luhn_ok(prefix_digits + check):
            return prefix_digits + check
    raise AssertionError("unreachable")


def card_number(rng):
    prefix, length = rng.choice(CARD_PREFIXES)
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    digits = _luhn_complete(body)
    if length == 15:
        return f"{digits[:4]} {digits[4:10]} {digits[10:]}"
    style = rng.random()
    if style < 0.5:
        return " ".join(digits[i:i + 4] for i in range(0, 16, 4))
    if style < 0.75:
        return "-".join(digits[i:i + 4] for i in range(0, 16, 4))
    return digits


def ssn(rng):
    # Valid SSA format: area 001-899 except 666, group 01-99, serial 0001-9999.
    area = rng.randint(1, 899)
    while area == 666:
        area = rng.randint(1, 899)
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def phone(rng):
    area, mid, last = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
    style = rng.randrange(3)
    if style == 0:
        return f"({area}) {mid}-{last:04d}"
    if style == 1:
        return f"+1-{area}-{mid}-{last:04d}"
    return f"{area}.{mid}.{last:04d}"


def customers(n=N_CUSTOMERS, seed=20240601):
    """Yields dicts with the customers columns (without id; ids are 1..n in order)."""
    rng = random.Random(seed)
    for i in range(1, n + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first} {last}"
        local = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
        email = f"{local}{i}@{rng.choice(DOMAINS)}"
        row = {
            "name": name, "email": email, "ssn": ssn(rng), "card_number": card_number(rng),
            "phone": phone(rng),
        }
        kind = rng.randrange(5)
        if kind == 0:
            notes = f"Called from {row['phone']}; asked to update card ending {row['card_number'][-4:]}."
        elif kind == 1:
            notes = f"Verified identity with SSN {row['ssn']} and backup email backup.{local}@example.net"
        elif kind == 2:
            notes = f"Paid by card {card_number(rng)} on the second attempt."
        elif kind == 3:
            notes = "Prefers contact by post. No PII here."
        else:
            notes = None
        profile = {
            "tier": rng.choice(["free", "pro", "enterprise"]),
            "contacts": [{"type": "email", "value": email},
                         {"type": "phone", "value": row["phone"]}],
            "billing": {"card": row["card_number"] if rng.random() < 0.3 else None,
                        "tax_id": row["ssn"] if rng.random() < 0.2 else None},
            "marketing_opt_in": rng.random() < 0.5,
        }
        row["notes"] = notes
        row["profile"] = json.dumps(profile, ensure_ascii=False)
        yield row


def orders(n=N_ORDERS, n_customers=N_CUSTOMERS, seed=20240602):
    rng = random.Random(seed)
    for _ in range(n):
        day = rng.randint(1, 28)
        month = rng.randint(1, 12)
        yield {
            "customer_id": rng.randint(1, n_customers),
            "amount": f"{rng.randint(100, 500000) / 100:.2f}",
            "created_at": f"2023-{month:02d}-{day:02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00+00",
        }


def salaries(n=N_EMPLOYEES, seed=20240603):
    rng = random.Random(seed)
    seen = set()
    while len(seen) < n:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if name in seen:
            continue
        seen.add(name)
        yield {"employee": name, "amount": f"{rng.randint(40000, 250000)}.00"}


def load(conn):
    """Create the schema and rows with conn (a psycopg connection whose current
    role owns the objects it creates, e.g. after SET ROLE app_owner)."""
    with conn.cursor() as cur:
        cur.execute(SCHEMA_SQL)
        cols = ["name", "email", "ssn", "card_number", "phone", "notes", "profile"]
        with cur.copy(f"COPY public.customers ({', '.join(cols)}) FROM STDIN") as copy:
            for row in customers():
                copy.write_row([row[c] for c in cols])
        with cur.copy("COPY public.orders (customer_id, amount, created_at) FROM STDIN") as copy:
            for row in orders():
                copy.write_row([row["customer_id"], row["amount"], row["created_at"]])
        with cur.copy("COPY hr.salaries (employee, amount) FROM STDIN") as copy:
            for row in salaries():
                copy.write_row([row["employee"], row["amount"]])
        cur.execute("ANALYZE public.customers, public.orders, hr.salaries")
    conn.commit()
