# SQL EXECUTE of a protocol statement that declares cursor c1, with an
# Execute of c1 pipelined behind it: the cursor was no candidate until its
# CommandComplete, so no Describe went first and its rows ended the session
# with XX000 (seed 599035354).
[
    parse('s1', 'SELECT ssn, phone FROM customers WHERE id <= $1 ORDER BY id'),
    bind('c1', 's1', params=(b'10',)),
    execute('c1', 1),
    parse('c1', 'DECLARE c1 BINARY SCROLL CURSOR WITH HOLD FOR SELECT c FROM customers c WHERE id <= 3 ORDER BY id'),
    SYNC,
    query('EXECUTE c1'),
    execute('c1', 5),
    SYNC,
]
