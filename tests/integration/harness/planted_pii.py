"""PII and secrets that no column rule names, planted by the admin in
public.tickets (free text and jsonb) for the masking tests: only the `detect:`
rule's detectors (iban, secrets, and the PII kinds that the sample customers
do not carry elsewhere) stand between these values and the client.

Every value has a valid shape for its detector (IBANs with correct mod-97
check digits, secrets of the documented prefixes and lengths), generated
from a fixed seed, so a run is repeatable.
"""

import base64
import json
import random
import string

SEED = 20261125


def iban(country, bban):
    """country + ISO 7064 mod-97-10 check digits + bban (electronic form)."""
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def print_form(electronic):
    return " ".join(electronic[i:i + 4] for i in range(0, len(electronic), 4))


def _b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _values(rng):
    alnum = string.ascii_letters + string.digits
    upper = string.ascii_uppercase + string.digits

    def pick(chars, n):
        return "".join(rng.choice(chars) for _ in range(n))

    pem_lines = [base64.b64encode(bytes(rng.randrange(256) for _ in range(48))).decode() for _ in range(4)]
    jwt_payload = json.dumps({"sub": pick(string.digits, 10), "role": "admin"}).encode()
    return {
        "iban_de": iban("DE", pick(string.digits, 18)),
        "iban_gb": iban("GB", pick(string.ascii_uppercase, 4) + pick(string.digits, 14)),
        "iban_fr": iban("FR", pick(string.digits, 10) + pick(upper, 11) + pick(string.digits, 2)),
        "aws_key": "AKIA" + pick(upper, 16),
        "github_token": "ghp_" + pick(alnum, 36),
        "slack_token": "xoxb-" + pick(string.digits, 12) + "-" + pick(alnum, 24),
        "stripe_key": "sk_live_" + pick(alnum, 24),
        "google_key": "AIza" + pick(alnum + "_-", 35),
        "jwt": ".".join([_b64url(b'{"alg":"HS256","typ":"JWT"}'), _b64url(jwt_payload),
                         _b64url(bytes(rng.randrange(256) for _ in range(32)))]),
        "pem_body": pem_lines,
        "ssn": f"{rng.randint(100, 599)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
        "email": f"refund.desk.{pick(string.digits, 4)}@billing.example.org",
        "phone": f"+44 20 7946 {rng.randint(1000, 9999)}",
    }


VALUES = _values(random.Random(SEED))
PEM = ("-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(VALUES["pem_body"])
       + "\n-----END RSA PRIVATE KEY-----")
IBAN_FR_PRINTED = print_form(VALUES["iban_fr"])

# (id, body, payload): the values as free text and inside JSON.
TICKETS = [
    (1, f"Refund to IBAN {VALUES['iban_de']} please, reachable at {VALUES['phone']}",
     {"kind": "refund", "account": {"iban": VALUES["iban_gb"], "holder_ssn": VALUES["ssn"]}}),
    (2, f"Leaked in a log line: aws_access_key_id={VALUES['aws_key']} token {VALUES['github_token']}",
     {"kind": "incident", "credentials": [VALUES["slack_token"], VALUES["stripe_key"]]}),
    (3, f"Printed form from the scanned letter: {IBAN_FR_PRINTED}. Contact {VALUES['email']}",
     {"kind": "letter", "auth": {"bearer": VALUES["jwt"], "google": VALUES["google_key"]}}),
    (4, PEM, {"kind": "key", "pem": PEM}),
    (5, "Nothing sensitive in this ticket.", {"kind": "note", "text": "all clear"}),
]

SQL = """
CREATE TABLE public.tickets (id integer PRIMARY KEY, body text NOT NULL, payload jsonb NOT NULL);
GRANT SELECT ON public.tickets TO app_owner;
"""


def load(conn):
    """Create and fill public.tickets with conn (the admin's connection)."""
    conn.execute(SQL)
    for ticket_id, body, payload in TICKETS:
        conn.execute("INSERT INTO public.tickets VALUES (%s, %s, %s)",
                     (ticket_id, body, json.dumps(payload)))


def needles():
    """{value: description} for every planted value, as stored (a detector
    can only recognise what it sees; transformed copies are not promised),
    and as a bytea's hex output shows it (a bytea holds the value as stored:
    pgwarden decodes bytea before the detectors look)."""
    found = {}
    for key, value in VALUES.items():
        for piece in (value if isinstance(value, list) else [value]):
            found[piece] = f"planted {key} (detectors only)"
            found[piece.encode().hex()] = f"planted {key} (detectors only, bytea hex)"
    found[IBAN_FR_PRINTED] = "planted iban_fr, print form (detectors only)"
    return found


def redacted(value):
    """`value` (a string, or JSON-like data) as the `redact` detectors should
    leave it: each planted value replaced in place by one '*' per character,
    everything around it untouched."""
    if isinstance(value, dict):
        return {k: redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    if not isinstance(value, str):
        return value
    pieces = [PEM, IBAN_FR_PRINTED] + [v for v in VALUES.values() if isinstance(v, str)]
    for piece in sorted(pieces, key=len, reverse=True):
        value = value.replace(piece, "*" * len(piece))
    return value
