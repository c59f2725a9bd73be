// Drives the live server with the npm odoo-await client; prints what it saw as JSON.
// Usage: node odoo_await_client.js '{"baseUrl": "http://127.0.0.1:8069", "db": ..., ...}'
const Odoo = require('odoo-await');

async function main() {
  const options = JSON.parse(process.argv[2]);
  const odoo = new Odoo(options);
  const out = {};
  out.uid = await odoo.connect();
  out.groups = await odoo.searchRead('res.partner', { is_group: true }, ['name'],
    { offset: 0, limit: 0, order: 'name', context: {} });
  out.created = await odoo.create('res.partner', {
    given_name: 'Nia', family_name: 'Njeri', is_group: false,
    phone_number_ids: { action: 'create', value: { phone_no: '+254733000111' } },
  }, 'nia_njeri');
  out.updated = await odoo.update('res.partner', out.created, { given_name: 'Nina' });
  out.read = await odoo.read('res.partner', out.created, ['name', 'given_name', 'phone_number_ids']);
  out.byExternalId = await odoo.searchByExternalId('nia_njeri');
  try {
    await odoo.update('res.partner', out.created, { given_name: '' });
    out.refusal = null;
  } catch (err) {
    out.refusal = { faultCode: err.faultCode, faultString: err.faultString };
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exit(1);
});
