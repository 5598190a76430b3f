"""Runs random protocol sequences (harness/random_protocol.py) against
pgwarden or directly against PostgreSQL, and judges what came back
(harness/wire_oracle.py).

One sequence: its messages sent pipelined, one batch per session between
control steps. A control step is a barrier: every session sends Flush and
reads until all it sent is answered; then, for a reload, the config is
rewritten, SIGHUP sent, and the runner waits for the daemon's "config
reloaded" line before sending on. What arrives after a reload is searched
with the new policy's needles. After the sequence the base policy is
restored.

`run_many` spreads seeds over worker processes, one pgwarden each (a
reload must not change another worker's policy in the middle of its
sequence). A worker keeps its sessions for a while (reset between
sequences); what fails is replayed alone on new sessions, or with the
sequences that ran before it as one sequence, and minimised.
"""

import bisect
import itertools
import multiprocessing
import os
import signal
import socket
import struct
import time
from dataclasses import dataclass, field

from . import yamlgen
from .random_protocol import generate, is_message, render_python, wire
from .rawpg import parse_fields, query, startup_message, terminate
from .wire_oracle import Needles, Stream

ANSWER_TIMEOUT = 15.0   # no answer to what was sent within this: the relay hangs
RELOAD_TIMEOUT = 10.0
MINIMISE_SECONDS = float(os.environ.get("PGWARDEN_RANDOM_MINIMISE_SECONDS", "20"))
CRASH_MARKERS = ("AddressSanitizer", "UndefinedBehaviorSanitizer", "runtime error:", "terminate called",
                 "Aborted", "Segmentation fault", "SIGSEGV", "stack smashing")


class Hang(Exception):
    pass


class Connection:
    """A raw session: startup without password, buffered message reads."""

    def __init__(self, target):
        self.target = target
        path = target.get("unix")
        family = socket.AF_UNIX if path else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(ANSWER_TIMEOUT)
        self.sock.connect(path or (target["host"], target["port"]))
        if not path:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0
        self.closed = False
        self.sock.sendall(startup_message(target["user"], target["database"]))
        while True:
            kind, payload = self.read()
            if kind == b"E":
                raise ConnectionError(f"startup refused: {parse_fields(payload)}")
            if kind == b"Z":
                return

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True

    def read(self):
        """(kind, payload) or None at EOF."""
        while True:
            avail = len(self.buf) - self.pos
            if avail >= 5:
                (length,) = struct.unpack_from("!I", self.buf, self.pos + 1)
                if avail >= 1 + length:
                    kind = bytes(self.buf[self.pos:self.pos + 1])
                    payload = bytes(self.buf[self.pos + 5:self.pos + 1 + length])
                    self.pos += 1 + length
                    if self.pos > 65536:
                        del self.buf[:self.pos]
                        self.pos = 0
                    return kind, payload
            try:
                chunk = self.sock.recv(262144)
            except socket.timeout:
                raise Hang(f"nothing received for {ANSWER_TIMEOUT}s") from None
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
                return None
            self.buf += chunk

    def close(self):
        try:
            self.sock.sendall(terminate())
        except OSError:
            pass
        self.sock.close()


class DaemonWatch:
    """One daemon seen from a worker: its log read as it grows (reloads
    counted, crash markers caught) and its process state."""

    def __init__(self, daemon):
        self.pid = daemon["pid"]
        self.log = open(daemon["log_path"], "rb")
        self.log.seek(0, os.SEEK_END)
        self.reloads = 0
        self.crash = ""
        self._partial = b""

    def poll(self):
        text = self._partial + self.log.read()
        cut = text.rfind(b"\n") + 1       # whole lines only: a marker is never split
        lines, self._partial = text[:cut], text[cut:]
        self.reloads += lines.count(b"config reloaded from")
        for marker in CRASH_MARKERS:
            if not self.crash and marker.encode() in lines:
                self.crash = f"log says {marker!r}"
        return self

    def crashed(self):
        """'' while the daemon runs and its log shows no crash."""
        self.poll()
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return "pgwarden exited"
        except FileNotFoundError:
            return "pgwarden exited"
        return self.crash


class Reloader:
    """Rewrites one daemon's config and waits until it says it reloaded."""

    def __init__(self, daemon, watch):
        self.pid = daemon["pid"]
        self.config_path = daemon["config_path"]
        self.texts = {v: yamlgen.dump(c) + "\n" for v, c in daemon["configs"].items()}
        self.watch = watch
        self.current = "base"

    def apply(self, variant):
        before = self.watch.poll().reloads
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(self.texts[variant])
        os.replace(tmp, self.config_path)
        os.kill(self.pid, signal.SIGHUP)
        deadline = time.monotonic() + RELOAD_TIMEOUT
        while self.watch.poll().reloads <= before:
            if time.monotonic() > deadline:
                raise Hang(f"no 'config reloaded' within {RELOAD_TIMEOUT}s of SIGHUP")
            time.sleep(0.001)
        self.current = variant


@dataclass
class Outcome:
    seed: int
    steps: list
    leaks: list = field(default_factory=list)        # (step, session, kind, what, needle)
    violations: list = field(default_factory=list)   # (session, text)
    fatals: list = field(default_factory=list)       # (step, session, fields)
    sqlstates: dict = field(default_factory=dict)    # SQLSTATE -> count (coverage)
    crash: str = ""
    messages: int = 0
    history: list = field(default_factory=list)     # seeds run before on the same sessions, when needed
    combined: bool = False                          # steps are history's and the seed's as one sequence

    @property
    def failed(self):
        return bool(self.leaks or self.violations or self.fatals or self.crash)

    def signature(self):
        """What kind of failure, for grouping and minimising."""
        if self.crash:
            return "crash"
        if self.leaks:
            return "leak"
        if self.violations:
            return "malformed"
        return "fatal" if self.fatals else ""

    def report(self, limit=5):
        lines = [f"seed {self.seed}: {self.signature()}"]
        for step, session, kind, what, needle in self.leaks[:limit]:
            lines.append(f"  leak in {kind!r} answering step {step} (session {session}): {what}: {needle!r}")
        for session, text in self.violations[:limit]:
            lines.append(f"  malformed (session {session}): {text}")
        for step, session, fields in self.fatals[:limit]:
            lines.append(f"  FATAL answering step {step} (session {session}): {fields.get('C')} {fields.get('M')}")
        if self.crash:
            lines.append(f"  crash: {self.crash}")
        return "\n".join(lines)


class Sessions:
    """The sessions a worker runs its sequences on. fresh=True: new ones
    for every sequence (a seed alone replays it). Otherwise they are kept
    and reset between sequences (ROLLBACK, DISCARD ALL: no cursor, portal,
    prepared or unnamed statement survives), which saves a login per
    sequence; a session that ended or failed its reset is replaced."""

    def __init__(self, target, fresh=True):
        self.target = target
        self.fresh = fresh
        self.slots = {}     # slot -> Connection

    def take(self, slot, target=None):
        conn = self.slots.get(slot)
        if conn is None or conn.closed:
            conn = self.slots[slot] = Connection(target or self.target)
        return conn

    def give_back(self, slot, usable):
        conn = self.slots.get(slot)
        if conn is None:
            return
        if self.fresh or not usable or conn.closed or not self._reset(conn):
            conn.close()
            del self.slots[slot]

    @staticmethod
    def _reset(conn):
        conn.send(query("ROLLBACK") + query("DISCARD ALL"))
        ready = 0
        while ready < 2:
            message = conn.read()
            if message is None or message[0] == b"E":
                return False
            ready += message[0] == b"Z"
        return True

    def close(self):
        for conn in self.slots.values():
            conn.close()
        self.slots.clear()


def run_steps(steps, target, needles, reloader=None, watch=None, seed=None, sessions=None, policy="base"):
    """Run the steps (on fresh sessions unless `sessions` lends some); an
    Outcome. `policy`: whose needles to search for until a reload (the
    self-check searches direct answers with a reloaded policy's)."""
    out = Outcome(seed=seed, steps=steps)
    pool = sessions or Sessions(target)
    used = sorted({s[0] for s in steps if is_message(s)})
    conns, streams = {}, {}
    received = {s: [] for s in used}   # (step index, kind, payload, policy)

    def drain(s):
        stream, conn = streams[s], conns[s]
        while not stream.complete():
            message = conn.read()
            if message is None:
                if not stream.dead:
                    out.violations.append((s, "connection closed without a FATAL"))
                stream.dead = True
                return
            before = len(stream.attributed)
            stream.feed(*message)
            for index, kind, payload in stream.attributed[before:]:
                received[s].append((index, kind, payload, policy))

    batch = {s: [] for s in used}

    def send_batches():
        for s in used:
            if batch[s]:
                conns[s].send(b"".join(batch[s]))
                batch[s] = []

    def barrier():
        """Everything sent so far answered (Flush makes the server send it)."""
        send_batches()
        for s in used:
            if not streams[s].complete():
                streams[s].sent(None, (s, "flush"))
                conns[s].send(wire((s, "flush")))
        for s in used:
            drain(s)

    clean = False
    try:
        for s in used:
            conns[s] = pool.take(s, target)
            streams[s] = Stream()
        for index, step in enumerate(steps):
            if not is_message(step):
                barrier()
                if step[1] == "reload" and reloader is not None:
                    reloader.apply(step[2])
                    policy = step[2]
                continue
            s = step[0]
            if streams[s].dead:
                continue
            streams[s].sent(index, step)
            batch[s].append(wire(step))
            out.messages += 1
        send_batches()
        for s in used:
            drain(s)
        clean = True
    except Hang as exc:
        out.violations.append(("-", f"hang: {exc}"))
    except ConnectionError as exc:
        out.violations.append(("-", f"could not start a session: {exc}"))
    finally:
        for s in conns:
            pool.give_back(s, clean and not streams[s].dead and not streams[s].violations)
        if sessions is None:
            pool.close()
        if reloader is not None and reloader.current != "base":
            reloader.apply("base")

    for s, stream in streams.items():
        out.violations += [(s, v) for v in stream.violations]
        for index, fields in stream.errors:
            code = fields.get("C", "?")
            out.sqlstates[code] = out.sqlstates.get(code, 0) + 1
            if fields.get("S") in ("FATAL", "PANIC"):
                out.fatals.append((index, s, fields))
    for s, messages in received.items():
        _search(out, s, messages, needles)
    out.received = received
    out.crash = watch.crashed() if watch else ""
    return out


def _search(out, session, messages, needles):
    """Search each policy's stretch of received bytes at once."""
    by_policy = {}
    for message in messages:
        by_policy.setdefault(message[3], []).append(message)
    for policy, group in by_policy.items():
        starts, parts, offset = [], [], 0
        for index, kind, payload, _ in group:
            starts.append(offset)
            part = kind + struct.pack("!I", len(payload) + 4) + payload
            parts.append(part)
            offset += len(part)
        for at, needle, what in needles.search(b"".join(parts), policy):
            index, kind, _, _ = group[bisect.bisect_right(starts, at) - 1]
            out.leaks.append((index, session, kind, what, needle))


# ---- minimising -------------------------------------------------------------

def minimise(outcome, replay, seconds=MINIMISE_SECONDS):
    """Fewer steps that fail the same way (ddmin over the steps, a Sync per
    session kept at the end, then the statements of multi-statement
    Queries), for at most `seconds`. replay(steps) -> Outcome. Returns the
    steps and the Outcome of their last replay (None if it did not fail)."""
    want = outcome.signature()
    steps = [s for s in outcome.steps]
    deadline = time.monotonic() + seconds

    def in_time():
        return time.monotonic() < deadline

    def closed(candidate):
        used = sorted({s[0] for s in candidate if is_message(s)})
        tail = [(s, "sync") for s in used]
        body = list(candidate)
        while body and body[-1][1] == "sync" and body[-1] in tail:
            body.pop()
        return body + tail

    best = closed(steps)
    chunk = max(1, len(best) // 2)
    while chunk >= 1 and in_time():
        removed = False
        i = 0
        while i < len(best) and in_time():
            candidate = closed(best[:i] + best[i + chunk:])
            if len(candidate) < len(best):
                result = replay(candidate)
                if result.signature() == want:
                    best = candidate
                    removed = True
                    continue
            i += chunk
        if not removed:
            chunk //= 2
    # Then the statements of each remaining multi-statement Query, one by one.
    for i in range(len(best)):
        if best[i][1] != "query":
            continue
        parts = best[i][2].split("; ")
        j = 0
        while len(parts) > 1 and j < len(parts) and in_time():
            candidate = best[:i] + [best[i][:2] + ("; ".join(parts[:j] + parts[j + 1:]),)] + best[i + 1:]
            if replay(candidate).signature() == want:
                best, parts = candidate, parts[:j] + parts[j + 1:]
            else:
                j += 1
    final = replay(best)
    if final.signature() != want:   # it depended on timing after all
        return closed(steps), None
    return best, final


def with_history(history, seed, reloads=True):
    """One list of steps: the sequences of `history` then `seed`'s, each
    followed by the reset kept sessions get between sequences."""
    steps = []
    for earlier in history:
        part = generate(earlier, reloads=reloads)
        steps += part
        for s in sorted({st[0] for st in part if is_message(st)}):
            steps += [(s, "query", "ROLLBACK"), (s, "query", "DISCARD ALL")]
    return steps + generate(seed, reloads=reloads)


# ---- many sequences -------------------------------------------------------------

@dataclass
class Summary:
    sequences: int = 0
    messages: int = 0
    seconds: float = 0.0
    failures: list = field(default_factory=list)   # Outcome (failed), minimised steps attached
    sqlstates: dict = field(default_factory=dict)

    def merge(self, other):
        self.sequences += other.sequences
        self.messages += other.messages
        self.failures += other.failures
        for k, v in other.sqlstates.items():
            self.sqlstates[k] = self.sqlstates.get(k, 0) + v


def _worker(args):
    seeds, deadline, target, daemon, limits, reloads, generation, policy = args
    needles = Needles()
    watch = DaemonWatch(daemon) if daemon else None
    reloader = Reloader(daemon, watch) if daemon else None
    pool = Sessions(target, fresh=False)
    summary = Summary()
    history = []   # seeds run on the current sessions, in order
    investigated = minimised = 0

    def run(steps, seed, sessions=None):
        return run_steps(steps, target, needles, reloader, watch, seed, sessions, policy)

    def minimal(outcome):
        nonlocal minimised
        if minimised < limits["minimise"]:
            minimised += 1
            outcome.minimal, last = minimise(outcome, lambda st, seed=outcome.seed: run(st, seed))
            outcome.minimal_transcript = transcript(last) if last else ""

    started = time.monotonic()
    for seed in seeds:
        if deadline is not None and time.monotonic() > deadline:
            break
        if limits["progress"] and summary.sequences and summary.sequences % limits["progress"] == 0:
            print(f"  worker {os.getpid()}: {summary.sequences} sequences, {len(summary.failures)} failed, "
                  f"{summary.sequences / (time.monotonic() - started):.1f}/s", flush=True)
        if len(history) >= generation:
            pool.close()
            history = []
        history.append(seed)
        steps = generate(seed, reloads=reloads)
        outcome = run(steps, seed, pool)
        summary.sequences += 1
        summary.messages += outcome.messages
        for k, v in outcome.sqlstates.items():
            summary.sqlstates[k] = summary.sqlstates.get(k, 0) + v
        if not outcome.failed:
            continue
        if outcome.crash:
            summary.failures.append(outcome)
            break
        if investigated < limits["investigate"]:
            investigated += 1
            # On fresh sessions, the seed alone: does it fail the same way?
            alone = run(steps, seed)
            if alone.signature() == outcome.signature():
                outcome = alone
                minimal(outcome)
            else:
                # It needs what ran before on the same sessions: all of it
                # as one sequence, replayed and minimised like any other.
                outcome.history = history[:-1]
                combined = run(with_history(history[:-1], seed, reloads), seed)
                if combined.signature() == outcome.signature():
                    combined.history, combined.combined = outcome.history, True
                    outcome = combined
                    minimal(outcome)
        else:
            outcome.history = history[:-1]
        outcome.received = None   # the transcript stays in the worker
        summary.failures.append(outcome)
        pool.close()   # what follows starts from new sessions
        history = []
    pool.close()
    return summary


def _forget_parent_cleanup():
    """A forked worker inherits the harness's SIGTERM/SIGHUP handlers
    (harness/cleanup.py), which would stop the cluster and the daemons the
    parent still uses if the worker were ever signalled."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def run_many(target, daemons, seeds=None, first=0, seconds=None, minimise_limit=3, investigate_limit=25,
             reloads=True, generation=50, policy="base"):
    """Run sequences over one worker process per daemon (None entries: direct
    runs): the given seeds, split between the workers, or seeds from
    `first` on until `seconds` have passed. Each worker keeps its sessions
    for `generation` sequences. Per worker, the first `investigate_limit`
    failures are replayed alone (and with what ran before on the same
    sessions, when alone they pass) and `minimise_limit` of them minimised."""
    start = time.monotonic()
    workers = len(daemons)
    deadline = start + seconds if seconds is not None else None
    # Long runs say how far they are, every 5,000 sequences per worker.
    progress = 5000 if seeds is not None and len(seeds) >= 20000 else 0
    limits = {"minimise": minimise_limit, "investigate": investigate_limit, "progress": progress}
    jobs = []
    for i in range(workers):
        part = seeds[i::workers] if seeds is not None else itertools.count(first + i, workers)
        jobs.append((part, deadline, target_for(target, daemons[i]), daemons[i], limits, reloads, generation,
                     policy))
    total = Summary()
    if workers == 1:
        results = [_worker(jobs[0])]
    else:
        pool = multiprocessing.get_context("fork").Pool(workers, initializer=_forget_parent_cleanup)
        try:
            results = pool.map(_worker, jobs)
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
    for r in results:
        total.merge(r)
    total.seconds = time.monotonic() - start
    return total


def target_for(target, daemon):
    if daemon is None:
        return target
    return dict(target, host=daemon["host"], port=daemon["port"])


def transcript(outcome, width=100):
    """What each session received, message by message, with the step each answers."""
    lines = []
    for s, messages in getattr(outcome, "received", {}).items():
        for index, kind, payload, policy in messages:
            shown = payload[:width]
            if kind in (b"E", b"N"):
                f = parse_fields(payload)
                shown = f"{f.get('S')} {f.get('C')} {f.get('M')}"
            lines.append(f"  [{s}] step {index} {kind.decode()} {shown!r}" + (f" ({policy})" if policy != "base" else ""))
    return "\n".join(lines)


def describe_failure(outcome, full=True):
    text = outcome.report()
    if outcome.history:
        confirmed = ("they and it as one sequence fail again" if outcome.combined
                     else "as one sequence they do not: it needs the timing of separate runs")
        text += (f"\n  only after seeds {outcome.history} on the same sessions "
                 f"(the seed alone on new sessions passes; {confirmed})")
    steps = getattr(outcome, "minimal", None)
    if steps is not None:
        text += f"\n  minimised to {len(steps)} of {len(outcome.steps)} steps:\n" + render_python(steps)
        lines = getattr(outcome, "minimal_transcript", "").splitlines()
        if lines:
            text += "\n  what they got back:\n" + "\n".join(lines[:40])
    elif full:
        text += f"\n  steps ({len(outcome.steps)}):\n" + render_python(outcome.steps)
    return text
