// node-postgres (npm `pg`) with session settings in its connection options,
// for test_compat_node.py: run once directly and once through pgwarden, it
// prints one JSON document of what it saw.
//
//   node node_settings.js HOST PORT USER DATABASE CONFIG_JSON
//
// CONFIG_JSON: more options for pg's Client (e.g. {"statement_timeout": 4321}
// or {"options": "-c role=x"}). The document holds the startup parameters
// the driver builds from them (getStartupConf, what it sends), whether it
// connected (or the error: code, message), and, connected, SHOW of every
// setting named in CONFIG_JSON or in its `options`, and current_user.
// The password, if any, comes from PGPASSWORD (pg reads it).
'use strict';

const { Client } = require('pg');

const [host, port, user, database, configJson] = process.argv.slice(2);

async function main() {
  const config = JSON.parse(configJson);
  const client = new Client({ host, port: Number(port), user, database, ...config });
  const out = { startup: client.getStartupConf() };
  try {
    await client.connect();
  } catch (err) {
    out.connect = { error: err.code || '', message: String(err.message) };
    console.log(JSON.stringify(out));
    return;
  }
  out.connect = 'ok';
  const names = Object.keys(config).filter((k) => k !== 'options');
  for (const m of String(config.options || '').matchAll(/-c\s*([A-Za-z_.]+)=/g)) names.push(m[1]);
  out.show = {};
  for (const name of names) {
    const result = await client.query(`SHOW ${name}`);
    out.show[name] = Object.values(result.rows[0])[0];
  }
  out.current_user = (await client.query('SELECT current_user AS u')).rows[0].u;
  await client.end();
  console.log(JSON.stringify(out));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(2);
});
