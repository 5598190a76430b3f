"""What pgwarden's own sources say a policy can name, read from the one place
each list lives, so that a test meaning "allow everything" keeps meaning it
when a class or a deny-listed function is added:

    statement_classes()   userspace/policy/statement_class.h, kStatementClassNames
    denylist_entries()    userspace/sql/function_denylist.cpp, kDenylist
                          -> [(name, is_prefix)]
    pseudo_functions()    the COPY pseudo-functions (copy_program, copy_file)
"""

import re

from .pgwarden import REPO_ROOT

STATEMENT_CLASS_H = REPO_ROOT / "userspace" / "policy" / "statement_class.h"
DENYLIST_CPP = REPO_ROOT / "userspace" / "sql" / "function_denylist.cpp"
STATEMENT_FACTS_CPP = REPO_ROOT / "userspace" / "sql" / "statement_facts.cpp"


def statement_classes():
    text = STATEMENT_CLASS_H.read_text()
    block = re.search(r"kStatementClassNames\s*=\s*\{(.*?)\};", text, re.S)
    if block is None:
        raise RuntimeError(f"kStatementClassNames not found in {STATEMENT_CLASS_H}")
    names = re.findall(r'"([a-z_]+)"', block.group(1))
    if "select" not in names or "unknown" not in names:
        raise RuntimeError(f"unexpected class list in {STATEMENT_CLASS_H}: {names}")
    return names


def denylist_entries():
    text = DENYLIST_CPP.read_text()
    entries = re.findall(r'DenylistEntry\{"([a-z0-9_]+)",\s*(true|false),', text)
    if len(entries) < 10:
        raise RuntimeError(f"deny-list entries not found in {DENYLIST_CPP}")
    return [(name, prefix == "true") for name, prefix in entries]


def pseudo_functions():
    """copy_program / copy_file: COPY to or from a program or a server file
    is decided as a call of these (statement_facts.cpp)."""
    text = STATEMENT_FACTS_CPP.read_text()
    names = re.findall(r'\{kCopy\w+,\s*"([a-z_]+)"\}', text)
    if not names:
        raise RuntimeError(f"COPY pseudo-functions not found in {STATEMENT_FACTS_CPP}")
    return names
