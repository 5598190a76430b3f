// node-postgres (npm `pg`) against pgwarden: statements the read-only agent
// may not run must fail as the driver's normal DatabaseError with code 42501,
// and the client must go on working. test_policy_clients.py runs this with
// NODE_PATH pointing at an installed `pg`.
//
//   node denials.js HOST PORT DATABASE
//
// One line per step on stdout: step <TAB> ok|error <TAB> sqlstate <TAB>
// error class <TAB> message or first value.
'use strict';

const { Client, DatabaseError } = require('pg');

const [host, port, database] = process.argv.slice(2);

function clean(text) {
  return String(text).replace(/[\t\n]/g, ' ');
}

async function step(client, name, query) {
  try {
    const result = await client.query(query);
    const first = result.rows.length ? Object.values(result.rows[0])[0] : '';
    console.log([name, 'ok', '', '', clean(first)].join('\t'));
  } catch (err) {
    const kind = err instanceof DatabaseError ? 'DatabaseError' : err.constructor.name;
    console.log([name, 'error', err.code || '', kind, clean(err.message)].join('\t'));
  }
}

async function main() {
  // No password: pgwarden holds the upstream's credential.
  const client = new Client({ host, port: Number(port), database, user: 'agent' });
  await client.connect();
  // Simple protocol (a query without values).
  await step(client, 'simple_delete', 'DELETE FROM customers');
  await step(client, 'after_simple', 'SELECT 1 AS one');
  // Extended protocol, unnamed statement (values given).
  await step(client, 'unnamed_delete', { text: 'DELETE FROM orders WHERE id = $1', values: [1] });
  // Extended protocol, named prepared statement; twice: a refused Parse is
  // not remembered as prepared, so the second attempt is decided again.
  const named = { name: 'agent_delete', text: 'DELETE FROM orders WHERE id = $1', values: [1] };
  await step(client, 'named_delete', named);
  await step(client, 'named_delete_again', named);
  await step(client, 'named_hr_read', { name: 'agent_hr', text: 'SELECT amount FROM hr.salaries WHERE employee = $1', values: ['x'] });
  // An allowed named statement still works, and with parameters.
  await step(client, 'named_select', { name: 'agent_read', text: 'SELECT count(*) FROM customers WHERE id <= $1', values: [10] });
  // Inside a transaction the denial aborts it, as a server error would.
  await step(client, 'begin', 'BEGIN');
  await step(client, 'in_tx_update', { text: 'UPDATE customers SET name = $1 WHERE id = 1', values: ['x'] });
  await step(client, 'in_tx_next', 'SELECT 1 AS one');
  await step(client, 'rollback', 'ROLLBACK');
  await step(client, 'after_all', 'SELECT count(*) FROM customers');
  await client.end();
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(2);
});
