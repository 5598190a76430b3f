"""Random protocol sequences for the masking relay: the generator.

A sequence is what one seed makes: a list of steps over one or two sessions,
each step a frontend message (Parse, Bind, Describe, Execute, Close, Sync,
Flush, a simple Query of one to three statements) or a config reload between
messages. The SQL is drawn from small pools on purpose: a handful of names
shared by the protocol's statements and portals and SQL's cursors and
prepared statements (the server keeps cursors and portals in one namespace,
PREPARE and Parse in another), queries that read masked columns, clean
queries of the same result types, queries that fail half-way, and the SQL
that creates, reads and drops names (DECLARE/FETCH/MOVE/CLOSE,
PREPARE/EXECUTE/DEALLOCATE, transactions, DISCARD ALL, COPY TO STDOUT).

The generator keeps a rough model of which names exist so that most steps
use something that is there (a random Bind would almost always fail and
only test the error path); a fraction reuse a name on purpose (refused
duplicates) or name one that does not exist. The model need not be right:
the server decides, and the runner checks whatever it answers.

Same seed, same steps: `generate(seed)` is all a failure needs to be
replayed, and `render_python(steps)` writes the steps as the calls of
harness/extended_wire.py for a regression test.
"""

import random
import struct

from .extended_wire import FLUSH, SYNC, bind, close, describe, execute, parse
from .rawpg import query

# ---- the pools -------------------------------------------------------------

STATEMENT_NAMES = ["", "s1", "s2", "c1"]        # protocol Parse names ("" = unnamed)
PORTAL_NAMES = ["", "p1", "c1", "c2"]           # protocol Bind names (one namespace with cursors)
CURSOR_NAMES = ["c1", "c2", "p1"]               # SQL DECLARE names
PREPARED_NAMES = ["s1", "s2", "c1"]             # SQL PREPARE names (one namespace with Parse)

# Policies a sequence can reload to (runner.POLICIES says what each adds to
# the base policy); "base" is always restored after the sequence.
POLICY_VARIANTS = ["base", "mask_name", "deny_hr", "mask_name+deny_hr"]

# Queries: (template, number of $n parameters, what it reads). {n} is a row
# count (customers 1..25 are the searched rows), {k} an id.
MASKED = [
    ("SELECT ssn, email FROM customers WHERE id <= {n} ORDER BY id", 0),
    ("SELECT id, card_number, phone FROM customers WHERE id <= {n} ORDER BY id", 0),
    ("SELECT replace(ssn, '-', '')::bigint AS d FROM customers WHERE id <= {n} ORDER BY id", 0),
    ("SELECT upper(email) AS e, reverse(ssn) AS r FROM customers WHERE id <= {n} ORDER BY id", 0),
    ("SELECT c FROM customers c WHERE id <= {n} ORDER BY id", 0),
    ("SELECT row_to_json(c)::text AS j FROM customers c WHERE id <= {n} ORDER BY id", 0),
    ("SELECT * FROM customers WHERE id <= {n} ORDER BY id", 0),
    ("SELECT notes, profile FROM customers WHERE id <= {n} ORDER BY id", 0),
    ("SELECT tax_id FROM tax_ids WHERE id <= {n} ORDER BY id", 0),
    ("SELECT customer_ssn(id) AS s FROM customers WHERE id <= {n} ORDER BY id", 0),
    ("SELECT body, payload FROM tickets ORDER BY id", 0),
    ("SELECT ssn, phone FROM customers WHERE id <= $1 ORDER BY id", 1),
    ("SELECT name, ssn FROM customers WHERE id = $1", 1),
]
CLEAN = [
    ("SELECT name, id FROM customers WHERE id <= {n} ORDER BY id", 0),
    ("SELECT id, amount FROM orders WHERE id <= {n} ORDER BY id", 0),
    ("SELECT id::bigint AS d FROM customers WHERE id <= {n} ORDER BY id", 0),
    ("SELECT 1::bigint AS d", 0),
    ("SELECT label, id FROM regions ORDER BY id", 0),
    ("SELECT g FROM generate_series(1, {n}) AS g", 0),
    ("SELECT id, amount FROM orders WHERE customer_id = $1 ORDER BY id", 1),
    ("SELECT name FROM customers WHERE id = $1", 1),
]
SALARIES = [
    ("SELECT employee, amount FROM hr.salaries ORDER BY employee LIMIT {n}", 0),
    ("SELECT amount::text AS a FROM hr.salaries ORDER BY employee", 0),
]
# Fail when planned or when executed; some after sending rows.
FAILING = [
    ("SELECT 1/0 AS x", 0),
    ("SELECT ssn, 1/(id - {k}) AS x FROM customers WHERE id <= {n} ORDER BY id", 0),
    ("SELECT ssn::int AS x FROM customers WHERE id = {k}", 0),
    ("SELECT chr(replace(ssn, '-', '')::int) AS x FROM customers WHERE id = {k}", 0),
    ("SELECT nosuchcolumn FROM customers", 0),
    ("SELEC 1", 0),
]

FETCH_DIRECTIONS = ["", "NEXT", "PRIOR", "FIRST", "LAST", "ALL", "FORWARD ALL", "BACKWARD ALL",
                    "ABSOLUTE {k}", "RELATIVE -1", "FORWARD {k}", "BACKWARD 2", "{k}"]
COPY_OPTIONS = ["", " WITH (FORMAT csv)", " WITH (FORMAT csv, HEADER)", " WITH (FORMAT csv, HEADER true)",
                " WITH (FORMAT csv, HEADER 'OFF')", " WITH (FORMAT csv, HEADER 'False')",
                " WITH (FORMAT text)", " WITH (FORMAT binary)", " (FORMAT csv, HEADER on, DELIMITER '|')"]
TRANSACTION = ["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT sp", "ROLLBACK TO sp", "RELEASE sp",
               "START TRANSACTION ISOLATION LEVEL REPEATABLE READ", "END"]


class Model:
    """What the generator believes exists in one session. Only a guide."""

    def __init__(self):
        self.statements = {}   # name -> number of parameters
        self.portals = set()   # protocol portals and SQL cursors alike
        self.held = set()      # cursors declared WITH HOLD: they outlive their transaction
        self.in_block = False


class Generator:
    def __init__(self, seed):
        self.rng = random.Random(seed)

    # ---- SQL ---------------------------------------------------------------

    def _fill(self, template):
        r = self.rng
        return template.format(n=r.choice([1, 2, 3, 5, 10, 25]), k=r.randint(1, 25))

    def read_query(self, params_ok=True):
        """(sql, nparams) of a row-returning query."""
        r = self.rng
        pools = [(MASKED, 6), (CLEAN, 3), (FAILING, 1), (SALARIES, 1)]
        pool = r.choices([p for p, _ in pools], [w for _, w in pools])[0]
        if not params_ok:
            pool = [q for q in pool if q[1] == 0]
        template, nparams = r.choice(pool)
        return self._fill(template), nparams

    def _name(self, pool, existing):
        """Mostly a name that exists (from pool), sometimes any."""
        r = self.rng
        live = [n for n in pool if n in existing]
        if live and r.random() < 0.9:
            return r.choice(live)
        return r.choice(pool)

    def _taken(self, pool, existing):
        """Half the time a name that exists (a refused duplicate), else any."""
        live = [n for n in pool if n in existing]
        if live and self.rng.random() < 0.5:
            return self.rng.choice(live)
        return self.rng.choice(pool)

    def sql_statement(self, model):
        """(sql, nparams) of one SQL statement of any kind."""
        r = self.rng
        kind = r.choices(["read", "declare", "fetch", "move", "close", "prepare", "execute", "deallocate",
                          "transaction", "discard", "copy"],
                         [8, 6, 6, 1, 2, 3, 3, 1, 3, 1, 2])[0]
        if kind == "read":
            return self.read_query()
        if kind == "declare":
            # Often a name that is taken: the server refuses the duplicate
            # (42P03) and the first cursor stays what the name means.
            name = self._taken(CURSOR_NAMES, model.portals)
            sql, _ = self.read_query(params_ok=False)
            opts = r.choice(["", "BINARY ", "SCROLL ", "NO SCROLL ", "BINARY SCROLL "])
            hold = r.choice(["", " WITH HOLD", " WITH HOLD", " WITHOUT HOLD"])
            model.portals.add(name)
            if "WITH HOLD" in hold:
                model.held.add(name)
            return f"DECLARE {name} {opts}CURSOR{hold} FOR {sql}", 0
        if kind in ("fetch", "move"):
            name = self._name(CURSOR_NAMES + ["p1", "c2"], model.portals)
            direction = self._fill(r.choice(FETCH_DIRECTIONS))
            verb, prep = ("FETCH", r.choice(["FROM", "IN"])) if kind == "fetch" else ("MOVE", "IN")
            return f"{verb} {direction} {prep} {name}".replace("  ", " "), 0
        if kind == "close":
            if r.random() < 0.25:
                model.portals.clear()
                model.held.clear()
                return "CLOSE ALL", 0
            name = self._name(CURSOR_NAMES, model.portals)
            model.portals.discard(name)
            model.held.discard(name)
            return f"CLOSE {name}", 0
        if kind == "prepare":
            name = self._taken(PREPARED_NAMES, model.statements)   # 42P05 when taken
            sql, nparams = self.read_query()
            types = " (int)" if nparams else (" (int)" if r.random() < 0.1 else "")
            model.statements[name] = 1 if types else 0
            return f"PREPARE {name}{types} AS {sql}", 0
        if kind == "execute":
            name = self._name(PREPARED_NAMES, model.statements)
            n = model.statements.get(name, 0)
            if r.random() < 0.1:
                n = 1 - min(n, 1)
            args = f" ({r.randint(1, 25)})" if n else ""
            return f"EXECUTE {name}{args}", 0
        if kind == "deallocate":
            if r.random() < 0.3:
                model.statements.clear()
                return r.choice(["DEALLOCATE ALL", "DEALLOCATE PREPARE ALL"]), 0
            name = self._name(PREPARED_NAMES, model.statements)
            model.statements.pop(name, None)
            return f"DEALLOCATE {name}", 0
        if kind == "transaction":
            sql = r.choice(TRANSACTION)
            model.in_block = sql.startswith(("BEGIN", "START")) or (model.in_block and "sp" in sql)
            return sql, 0
        if kind == "discard":
            model.statements.clear()
            model.portals.clear()
            model.held.clear()
            return "DISCARD ALL", 0
        sql, _ = self.read_query(params_ok=False)
        return f"COPY ({sql}) TO STDOUT{r.choice(COPY_OPTIONS)}", 0

    # ---- messages ----------------------------------------------------------

    def step(self, model, session):
        """One message, or a short chain (Parse then Bind then Describe /
        Execute of what it made): chains keep most pipelines valid long
        enough to return rows, single messages mix them up."""
        r = self.rng
        kind = r.choices(["parse", "bind", "describe", "execute", "close", "sync", "flush", "query"],
                         [14, 10, 4, 12, 3, 12, 1, 12])[0]
        if kind in ("bind", "describe", "execute") and not (model.statements if kind == "bind" else model.portals):
            # Nothing to use yet: mostly make something first (a sequence
            # that fails at once skips everything up to its first Sync).
            if r.random() < 0.85:
                kind = "parse"
        if kind == "parse":
            first = self.parse(model, session)
            return [first] + (self.bind(model, session, first[2]) if r.random() < 0.6 else [])
        if kind == "bind":
            return self.bind(model, session, self._name(STATEMENT_NAMES, model.statements))
        if kind == "describe":
            if r.random() < 0.5:
                return [(session, "describe", "S", self._name(STATEMENT_NAMES, model.statements))]
            return [(session, "describe", "P", self._name(PORTAL_NAMES + CURSOR_NAMES, model.portals))]
        if kind == "execute":
            return [self.execute(session, self._name(PORTAL_NAMES + CURSOR_NAMES, model.portals))]
        if kind == "close":
            if r.random() < 0.5:
                name = self._name(STATEMENT_NAMES, model.statements)
                model.statements.pop(name, None)
                return [(session, "close", "S", name)]
            name = self._name(PORTAL_NAMES + CURSOR_NAMES, model.portals)
            model.portals.discard(name)
            model.held.discard(name)
            return [(session, "close", "P", name)]
        if kind == "sync":
            # Outside an explicit block the implicit transaction ends here:
            # portals and cursors without hold go.
            if not model.in_block:
                model.portals = set(model.held)
            return [(session, "sync")]
        if kind == "flush":
            return [(session, "flush")]
        statements = [self.sql_statement(model)[0] for _ in range(r.choices([1, 2, 3], [6, 3, 1])[0])]
        # A simple Query drops the unnamed statement and portal, and ends the
        # implicit transaction the pipeline ran in.
        model.statements.pop("", None)
        if not model.in_block:
            model.portals = set(model.held) | {st.split()[1] for st in statements if st.startswith("DECLARE")}
        model.portals.discard("")
        steps = [(session, "query", "; ".join(statements))]
        declared = [st.split()[1] for st in statements if st.startswith("DECLARE")]
        if declared and r.random() < 0.5:
            # A SQL cursor read by the protocol, as a portal of that name.
            if r.random() < 0.3:
                steps.append((session, "describe", "P", declared[-1]))
            steps.append(self.execute(session, declared[-1]))
        return steps

    def parse(self, model, session):
        r = self.rng
        name = r.choice(STATEMENT_NAMES)
        if r.random() < 0.6:
            sql, nparams = self.read_query()
        else:
            sql, nparams = self.sql_statement(model)
        oids = (23,) * nparams if nparams and r.random() < 0.5 else ()
        if sql.split()[0] in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "START", "END"):
            # PostgreSQL 15 itself ends the session (FATAL "unexpected state
            # STARTED") when a prepared transaction statement is run by SQL
            # EXECUTE: kept to the unnamed statement, which EXECUTE cannot name.
            name = ""
        model.statements[name] = nparams
        return (session, "parse", name, sql, oids)

    def bind(self, model, session, stmt):
        """Bind, then often Describe and Execute of the portal (or more)."""
        r = self.rng
        portal = r.choice(PORTAL_NAMES)
        nparams = model.statements.get(stmt, 0)
        if r.random() < 0.05:
            nparams = 1 - min(nparams, 1)
        params = tuple(str(r.randint(1, 25)).encode() for _ in range(nparams))
        formats = r.choices([(), (1,), (0,), (0, 1), (1, 0), (1, 1, 1)], [5, 4, 1, 1, 1, 1])[0]
        model.portals.add(portal)
        steps = [(session, "bind", portal, stmt, params, formats)]
        if r.random() < 0.7:
            if r.random() < 0.3:
                steps.append((session, "describe", "P", portal))
            steps.append(self.execute(session, portal))
            while r.random() < 0.3:
                steps.append(self.execute(session, portal))
        return steps

    def execute(self, session, portal):
        return (session, "execute", portal, self.rng.choice([0, 0, 0, 1, 2, 3, 5, 10]))


def generate(seed, reloads=True):
    """The steps of sequence `seed`: [(session, op, *args)], ending with a
    Sync on every session used. Control steps, between messages: ("-",
    "reload", variant) rewrites the config and reloads it; ("-", "wait")
    waits until every message sent so far is answered (after a Flush), so
    what follows reaches pgwarden as a packet of its own."""
    g = Generator(seed)
    r = g.rng
    sessions = r.choices([1, 2], [4, 1])[0]
    models = [Model() for _ in range(sessions)]
    length = r.randint(3, 30)
    reload_rate = 0.08 if reloads and r.random() < 0.2 else 0
    steps = []
    while len(steps) < length:
        if r.random() < reload_rate:
            steps.append(("-", "reload", r.choice(POLICY_VARIANTS)))
        elif r.random() < 0.04:
            steps.append(("-", "wait"))
        else:
            s = r.randrange(sessions)
            steps += g.step(models[s], s)
    for s in range(sessions):
        steps.append((s, "sync"))
    return steps


# ---- rendering ---------------------------------------------------------------

def wire(step):
    """The bytes of one message step."""
    op, args = step[1], step[2:]
    if op == "parse":
        return parse(args[0], args[1], args[2])
    if op == "bind":
        return bind(args[0], args[1], params=args[2], result_formats=args[3])
    if op == "describe":
        return describe(args[0].encode(), args[1])
    if op == "execute":
        return execute(args[0], args[1])
    if op == "close":
        return close(args[0].encode(), args[1])
    if op == "sync":
        return SYNC
    if op == "flush":
        return FLUSH
    if op == "query":
        return query(args[0])
    raise ValueError(f"not a message: {step!r}")


def render_step(step):
    """(the extended_wire / rawpg call that makes the step, its session)."""
    session, op, args = step[0], step[1], step[2:]
    if op == "reload":
        call = f"reload({args[0]!r})"
    elif op == "wait":
        call = "wait()"
    elif op == "parse":
        call = f"parse({args[0]!r}, {args[1]!r}" + (f", {args[2]!r})" if args[2] else ")")
    elif op == "bind":
        extra = ""
        if args[2]:
            extra += f", params={args[2]!r}"
        if args[3]:
            extra += f", result_formats={args[3]!r}"
        call = f"bind({args[0]!r}, {args[1]!r}{extra})"
    elif op in ("describe", "close"):
        call = f"{op}(b{args[0]!r}, {args[1]!r})"
    elif op == "execute":
        call = f"execute({args[0]!r}" + (f", {args[1]})" if args[1] else ")")
    elif op in ("sync", "flush"):
        call = op.upper()
    else:
        call = f"query({args[0]!r})"
    return call, session


def render_python(steps):
    """The steps as a Python list; with two sessions, (session, message)
    pairs."""
    several = len({s[0] for s in steps if is_message(s)}) > 1
    lines = []
    for step in steps:
        call, session = render_step(step)
        lines.append(f"    ({session!r}, {call}),\n" if several and session != "-" else f"    {call},\n")
    return "[\n" + "".join(lines) + "]"


def is_message(step):
    return step[0] != "-"


def int_needles(digits):
    """Binary DataRow fields (length word + value) of a digit string read as
    int4/int8: what `replace(ssn, '-', '')::bigint` sends in binary format."""
    value = int(digits)
    out = {struct.pack("!i", 8) + struct.pack("!q", value): "int8"}
    if value < 2 ** 31:
        out[struct.pack("!i", 4) + struct.pack("!i", value)] = "int4"
    return out


def steps_from_python(text):
    """render_python's text back into steps (to replay a printed failure,
    edited or not)."""
    names = {
        "parse": lambda name, sql, oids=(): ("parse", name, sql, tuple(oids)),
        "bind": lambda portal, stmt, params=(), result_formats=(): ("bind", portal, stmt, tuple(params),
                                                                      tuple(result_formats)),
        "describe": lambda kind, name: ("describe", kind.decode(), name),
        "execute": lambda portal, max_rows=0: ("execute", portal, max_rows),
        "close": lambda kind, name: ("close", kind.decode(), name),
        "query": lambda sql: ("query", sql),
        "reload": lambda variant: ("reload", variant),
        "wait": lambda: ("wait",),
        "SYNC": ("sync",),
        "FLUSH": ("flush",),
    }
    steps = []
    for item in eval(text, {"__builtins__": {}}, names):  # noqa: S307 - our own printed lists
        session, step = item if isinstance(item[0], int) else (0, item)
        steps.append(("-",) + step if step[0] in ("reload", "wait") else (session,) + step)
    return steps
