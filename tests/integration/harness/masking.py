"""Masking tests' shared pieces: a database of their own with the sample PII,
the objects an admin creates beforehand (a view, a SQL function, a harmless
table), the policy under test, a tap that records every byte pgwarden sends
to a client, and the leak search over what it recorded.
"""

import base64
import os
import re
import select
import socket
import threading

import psycopg

from . import planted_pii, sample_data
from .cluster import write_secret_file

DB = "masking"
# Corpus queries read customers 1..CHECKED_IDS; those rows' values are searched.
CHECKED_IDS = 25
# A customer outside the checked ids with customer 1's phone: two rows with
# one input, so a test can see that `hash` gives them one output.
TWIN_ID = 100001

ADMIN_SQL = f"""
CREATE VIEW public.customer_contacts AS SELECT id, name, email, phone FROM public.customers;
CREATE VIEW public.tax_ids AS SELECT id, ssn AS tax_id FROM public.customers;
CREATE FUNCTION public.customer_ssn(integer) RETURNS text LANGUAGE sql STABLE
    AS 'SELECT ssn FROM public.customers WHERE id = $1';
CREATE TABLE public.regions (id integer PRIMARY KEY, label text NOT NULL);
INSERT INTO public.regions VALUES (1, 'north'), (2, 'south'), (3, 'east');
GRANT SELECT ON public.customer_contacts, public.tax_ids, public.regions TO app_owner;
GRANT EXECUTE ON FUNCTION public.customer_ssn(integer) TO app_owner;
INSERT INTO public.customers (id, name, email, ssn, card_number, phone)
    SELECT {TWIN_ID}, 'Twin Account', 'twin.account@example.com', '123-45-6789', '4000 0000 0000 0002', phone
    FROM public.customers WHERE id = 1;
"""

MASK_RULES = [
    {"column": "public.customers.ssn", "with": "partial(last=4)"},
    {"column": "public.customers.card_number", "with": "partial(last=4)"},
    {"column": "public.customers.email", "with": "email"},
    {"column": "public.customers.phone", "with": "hash"},
    {"detect": ["credit_card", "us_ssn", "email", "phone", "iban", "secrets"], "with": "redact"},
]

# insert, create and the functions of the built-in deny-list the corpus uses
# are allowed so that a statement moving a masked value somewhere unmasked is
# refused by masking itself, not by its verb or the deny-list.
ALLOWED = ["select", "insert", "update", "create", "copy_to", "transaction", "set", "prepare", "execute",
           "deallocate", "listen", "notify", "lock", "function:set_config", "function:query_to_xml",
           "function:query_to_xmlschema", "function:query_to_xml_and_xmlschema", "function:ts_stat",
           "function:cursor_to_xml", "function:table_to_xml", "function:lo_create", "function:lo_get"]


def create_database(cluster):
    """The masking database: the sample schema and rows, owned by the app
    user, plus the admin's objects. Idempotent within one cluster."""
    exists = cluster.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,))
    if exists:
        return DB
    cluster.create_database(DB)
    with cluster.connect_super(DB, autocommit=False) as conn:
        conn.execute(f"SET ROLE {cluster.app_user}")
        sample_data.load(conn)
        conn.execute("RESET ROLE")
        conn.execute(ADMIN_SQL)
        planted_pii.load(conn)
        conn.commit()
    return DB


HASH_KEY = "pgwarden-test-mask-key"


def config_overrides(tmpdir, strict=False, identity="agent", hash_key=HASH_KEY):
    key_file = os.path.join(tmpdir, "mask.key")
    write_secret_file(key_file, hash_key)
    policy = {"identity": identity, "allow": list(ALLOWED), "mask": list(MASK_RULES), "strict": strict}
    return {
        "default": "deny",
        "mask_hash_key_file": key_file,
        "identities": [{"name": identity, "match": {"source": ["127.0.0.0/8"]}}],
        "policies": [policy],
    }


# ---- what must never appear ------------------------------------------------

def checked_rows():
    """The generated rows of customers 1..CHECKED_IDS (ids follow generation order)."""
    rows = []
    for i, row in enumerate(sample_data.customers(), start=1):
        if i > CHECKED_IDS:
            break
        rows.append(row)
    return rows


EMAIL_RE = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[a-z]{2,}")
CARD_RE = re.compile(r"\b(?:\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}|\d{4} \d{6} \d{5}|\d{15,16})\b")


def _transforms(value):
    """A value and the trivial transforms an agent could use to sneak it out."""
    out = {value[::-1]: "reversed", value.upper(): "upper", value.lower(): "lower"}
    raw = value.encode()
    out[raw.hex()] = "hex"
    out[raw.hex().upper()] = "HEX"
    out[base64.b64encode(raw).decode()] = "base64"
    out[base64.urlsafe_b64encode(raw).decode()] = "base64url"
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) >= 9:
        out[digits] = "digits only"
        out[digits[::-1]] = "digits reversed"
        out[",".join(digits)] = "digits split by ','"
        out[" ".join(digits)] = "digits split by ' '"
    out[",".join(value)] = "characters split by ','"
    out[" ".join(value)] = "characters split by ' '"
    out[value] = "raw"  # last: a transform that changes nothing is the raw value
    return out


def needles():
    """{needle: description} for every checked masked value and its transforms,
    for the PII planted in notes, and for the admin's planted tickets (found
    only by detectors: searched as stored, since no detector can recognise a
    transformed value; the corpus selects those as stored). The PII in
    profile is the row's own column values, searched with their transforms."""
    found = dict(planted_pii.needles())
    for i, row in enumerate(checked_rows(), start=1):
        for column in ("ssn", "card_number", "email", "phone"):
            for needle, how in _transforms(row[column]).items():
                found[needle] = f"customer {i} {column} ({how})"
        for text in (row["notes"] or "",):
            for m in EMAIL_RE.findall(text) + CARD_RE.findall(text):
                found[m] = f"customer {i} PII in notes"
                found[m.lower()] = f"customer {i} PII in notes (lower)"
                # As a bytea's hex output shows it, and a card as the number
                # a cast makes of its digits: what the detectors still see.
                found[m.encode().hex()] = f"customer {i} PII in notes (bytea hex)"
            for m in CARD_RE.findall(text):
                found["".join(c for c in m if c.isdigit())] = f"customer {i} PII in notes (digits only)"
    return found


def leaks(captured, needles_map):
    """The needles found in the captured bytes, with what they are."""
    text = captured.decode("utf-8", errors="replace")
    hits = []
    for needle, what in needles_map.items():
        if needle in text or needle.encode() in captured:
            hits.append(f"{what}: {needle!r}")
    return hits


# ---- the tap ------------------------------------------------------------

class Tap:
    """A TCP relay in front of pgwarden that records every byte sent to the
    client. `take()` returns what was recorded since the last call."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self._lock = threading.Lock()
        self._recorded = bytearray()
        self._stop = False
        self._threads = []
        accept = threading.Thread(target=self._accept_loop, daemon=True)
        accept.start()
        self._threads.append(accept)

    def _accept_loop(self):
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            t = threading.Thread(target=self._pump, args=(client,), daemon=True)
            t.start()
            self._threads.append(t)

    def _pump(self, client):
        upstream = socket.create_connection(self.target)
        peers = {client: upstream, upstream: client}
        try:
            while True:
                readable, _, _ = select.select(list(peers), [], [], 1.0)
                if self._stop:
                    return
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    if s is upstream:
                        with self._lock:
                            self._recorded += data
                    peers[s].sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    def take(self):
        with self._lock:
            data = bytes(self._recorded)
            self._recorded.clear()
        return data

    def close(self):
        self._stop = True
        self.listener.close()
        for t in self._threads:
            t.join(timeout=2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
