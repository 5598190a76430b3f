# `ROLLBACK; DECLARE p1 ... WITH HOLD` in one string: the ROLLBACK makes the
# cycle unclean, but the cursor is declared in the next transaction, which
# commits. The tracker dropped it, and the Execute's rows ended the session
# with XX000 (seed 457761604).
[
    query('ROLLBACK; DECLARE p1 SCROLL CURSOR WITH HOLD FOR SELECT employee, amount FROM hr.salaries ORDER BY employee LIMIT 25'),
    describe(b'P', 'p1'),
    wait(),
    SYNC,
    execute('p1', 10),
    SYNC,
]
