"""What the random protocol test checks in every byte a client receives.

`Stream` follows one session: given the frontend messages in the order
they were sent, it attributes each backend message to the message it
answers, as PostgreSQL's protocol defines (after an error in an extended
pipeline everything up to Sync is skipped and answered by nothing; a
simple Query is answered up to its own ReadyForQuery; Flush by nothing).
Anything else is a violation: a message where none may come, a Sync or
Query without its one ReadyForQuery, bytes after a FATAL, a DataRow whose
field lengths do not add up, more rows than Execute asked for.

`Needles` is the leak search: the searched values (harness/masking.py's
needles: customers 1..25's masked columns with their transforms, and the
planted PII) plus the binary int4/int8 fields of their digits, and values
that only some reloadable policies protect (customer names while a rule
masks them, salaries while a rule denies hr.*), all compiled into one
regular expression per policy so a sequence's bytes are scanned once.
"""

import re
import struct
from collections import deque

from . import masking, sample_data
from .random_protocol import int_needles
from .rawpg import parse_fields

ASYNC = {b"N", b"A", b"S"}  # NoticeResponse, NotificationResponse, ParameterStatus


class Stream:
    def __init__(self):
        self.pending = deque()   # (index, step) sent and not answered yet
        self.skip = False        # after an error in an extended pipeline, until Sync
        self.phase = None        # where in a multi-message answer the head is
        self.rows = 0            # DataRows of the current Execute
        self.columns = None      # RowDescription's count inside a simple Query
        self.dead = False        # a FATAL arrived
        self.violations = []
        self.errors = []         # (step index, fields)
        self.attributed = []     # (step index or None, kind, payload) in order received

    def sent(self, index, step):
        if not self.dead:
            self.pending.append((index, step))

    def _settle(self):
        """Drop pending messages that get no answer."""
        while self.pending and self.phase is None:
            op = self.pending[0][1][1]
            if op == "flush" or (self.skip and op != "sync"):
                self.pending.popleft()
            else:
                break

    def complete(self):
        self._settle()
        return self.dead or not self.pending

    def _violation(self, text):
        self.violations.append(text)

    def _resolve(self, error=False, extended=True):
        self.pending.popleft()
        self.phase = None
        self.rows = 0
        if error and extended:
            self.skip = True

    def feed(self, kind, payload):
        self._settle()
        head = self.pending[0] if self.pending else None
        self.attributed.append((head[0] if head else None, kind, payload))
        if self.dead:
            self._violation(f"{kind!r} after a FATAL")
            return
        if kind == b"E":
            fields = parse_fields(payload)
            self.errors.append((head[0] if head else None, fields))
            if fields.get("S") in ("FATAL", "PANIC"):
                self.dead = True
                self.pending.clear()
                return
        if kind in ASYNC:
            return
        if head is None:
            self._violation(f"{kind!r} answers nothing (every message sent was answered)")
            return
        index, step = head
        op = step[1]
        if op == "query":
            self._in_query(kind, payload)
            return
        if kind == b"E":
            if op != "sync":
                self._resolve(error=True)
            # At Sync the implicit transaction commits, and a commit can fail
            # (a WITH HOLD cursor's query runs then): ReadyForQuery follows.
            return
        expected = {"parse": b"1", "bind": b"2", "close": b"3", "sync": b"Z"}
        if op in expected:
            if kind != expected[op]:
                self._violation(f"{kind!r} answers {op} (step {index}), expected {expected[op]!r}")
            if op == "sync":
                self.skip = False
            self._resolve()
            return
        if op == "describe":
            if step[2] == "S" and self.phase is None:
                if kind != b"t":
                    self._violation(f"{kind!r} answers Describe S (step {index}), expected b't'")
                    self._resolve()
                else:
                    self.phase = "params"
                return
            if kind not in (b"T", b"n"):
                self._violation(f"{kind!r} answers Describe {step[2]} (step {index})")
            self._resolve()
            return
        if op == "execute":
            self._in_execute(kind, payload, index, step[3])
            return
        self._violation(f"{kind!r} while waiting for {op} (step {index})")

    def _check_row(self, payload):
        try:
            (count,) = struct.unpack("!H", payload[:2])
            pos = 2
            for _ in range(count):
                (length,) = struct.unpack("!i", payload[pos:pos + 4])
                pos += 4 + max(length, 0)
            if pos != len(payload):
                raise ValueError(f"{len(payload) - pos} bytes left over")
        except (struct.error, ValueError) as exc:
            self._violation(f"malformed DataRow: {exc}")
            return None
        return count

    def _in_execute(self, kind, payload, index, max_rows):
        if self.phase == "copy":
            if kind == b"d":
                return
            if kind == b"c":
                self.phase = "copy done"
                return
            self._violation(f"{kind!r} inside COPY data (step {index})")
            self._resolve()
            return
        if self.phase == "copy done":
            if kind != b"C":
                self._violation(f"{kind!r} after CopyDone, expected CommandComplete (step {index})")
            self._resolve()
            return
        if kind == b"D":
            self._check_row(payload)
            self.rows += 1
            if max_rows and self.rows > max_rows:
                self._violation(f"more than {max_rows} rows for Execute (step {index})")
            return
        if kind == b"H" and self.rows == 0:
            self.phase = "copy"
            return
        if kind not in (b"C", b"s", b"I"):
            self._violation(f"{kind!r} answers Execute (step {index})")
        self._resolve()

    def _in_query(self, kind, payload):
        index = self.pending[0][0]
        if self.phase == "failed" and kind != b"Z":
            self._violation(f"{kind!r} after the error of a simple Query (step {index})")
            return
        if self.phase == "copy":
            if kind == b"d":
                return
            if kind == b"c":
                self.phase = None
                return
            if kind != b"E":
                self._violation(f"{kind!r} inside COPY data of a simple Query (step {index})")
        if kind == b"Z":
            self._resolve(extended=False)
            self.columns = None
            return
        if kind == b"E":
            self.phase = "failed"
            return
        if kind == b"T":
            (self.columns,) = struct.unpack("!H", payload[:2])
        elif kind == b"D":
            count = self._check_row(payload)
            if self.columns is None:
                self._violation(f"DataRow without RowDescription in a simple Query (step {index})")
            elif count is not None and count != self.columns:
                self._violation(f"DataRow of {count} fields after a RowDescription of {self.columns} (step {index})")
        elif kind == b"H":
            self.phase = "copy"
        elif kind == b"C":
            self.columns = None
        elif kind not in (b"I",):
            self._violation(f"{kind!r} answers a simple Query (step {index})")


# ---- the leak search ------------------------------------------------------------

def _trie_pattern(needles):
    """One regular expression matching any of the byte strings (a trie, so
    the engine tries each position once instead of every needle)."""
    trie = {}
    for n in needles:
        node = trie
        for b in n:
            node = node.setdefault(b, {})
        node[None] = True

    def emit(node):
        end = None in node
        branches = [re.escape(bytes([b])) + emit(child) for b, child in node.items() if b is not None]
        if not branches:
            return b""
        body = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
        if end:
            return b"(?:" + body + b")?"
        return body

    return re.compile(emit(trie), re.DOTALL)


def _base_needles():
    found = {k.encode(): v for k, v in masking.needles().items()}
    for i, row in enumerate(masking.checked_rows(), start=1):
        for column in ("ssn", "card_number", "phone"):
            digits = "".join(c for c in row[column] if c.isdigit())
            # A leading zero is gone once the digits are a number.
            if len(str(int(digits))) >= 8:
                found[str(int(digits)).encode()] = f"customer {i} {column} (as a number)"
            for needle, how in int_needles(digits).items():
                found[needle] = f"customer {i} {column} (binary {how})"
    return found


def _numeric_binary(text):
    """PostgreSQL's binary numeric for a decimal string like '123456.00'."""
    whole, _, frac = text.partition(".")
    dscale = len(frac)
    whole_groups = []
    w = whole.lstrip("0")
    while w:
        whole_groups.insert(0, int(w[-4:]))
        w = w[:-4]
    frac_groups = [int((frac + "000")[i:i + 4].ljust(4, "0")) for i in range(0, len(frac), 4)]
    digits = whole_groups + frac_groups
    weight = len(whole_groups) - 1
    while digits and digits[-1] == 0:
        digits.pop()
    while digits and digits[0] == 0:
        digits.pop(0)
        weight -= 1
    return struct.pack("!hhHH", len(digits), weight, 0, dscale) + b"".join(struct.pack("!h", d) for d in digits)


def _name_needles():
    """Customer names of the searched rows, while a rule masks them. A name
    that hr.salaries also holds is left out: it may come from there."""
    employees = {row["employee"] for row in sample_data.salaries()}
    found = {}
    for i, row in enumerate(masking.checked_rows(), start=1):
        name = row["name"]
        if name in employees:
            continue
        for text, how in masking._transforms(name).items():
            found[text.encode()] = f"customer {i} name ({how})"
    return found


def _salary_needles():
    found = {}
    for row in sample_data.salaries():
        found[row["amount"].encode()] = f"salary of {row['employee']} (text)"
        found[_numeric_binary(row["amount"])] = f"salary of {row['employee']} (binary numeric)"
    return found


class Needles:
    """search(bytes, policy) -> [(offset, needle, what)] for one policy."""

    def __init__(self):
        self.base = _base_needles()
        self.extra = {"mask_name": _name_needles(), "deny_hr": _salary_needles()}
        self._compiled = {}

    def table(self, policy):
        found = dict(self.base)
        for part in policy.split("+"):
            found.update(self.extra.get(part, {}))
        return found

    def search(self, data, policy="base"):
        if policy not in self._compiled:
            table = self.table(policy)
            self._compiled[policy] = (_trie_pattern(table), table)
        pattern, table = self._compiled[policy]
        return [(m.start(), m.group(), table[m.group()]) for m in pattern.finditer(data)]
