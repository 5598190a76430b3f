// A catalog snapshot that mirrors the integration harness's sample schema
// (tests/integration/harness/sample_data.py) plus the views the policy
// corpus needs, as an admin would create them:
//
//   CREATE VIEW public.payroll AS SELECT employee, amount FROM hr.salaries;
//   CREATE VIEW public.payroll_summary AS SELECT count(*) AS n FROM public.payroll;
//   CREATE VIEW public.order_totals AS
//     SELECT customer_id, sum(amount) AS total FROM public.orders GROUP BY customer_id;
//
// and a few pg_catalog / information_schema relations and functions, with
// the OIDs PostgreSQL 15 gives them where a test depends on one.
#pragma once

#include <memory>

#include "policy/catalog.h"

namespace pgw::policy::testing {

inline CatalogData sample_catalog_data() {
  CatalogData d;
  d.database = "app";
  d.user = "app_owner";
  d.search_path = "\"$user\", public";
  d.schemas = {"pg_catalog", "information_schema", "public", "hr", "pg_toast"};
  using K = RelationKind;
  d.relations = {
      {16386, "public", "customers", K::table, {}},
      {16385, "public", "customers_id_seq", K::sequence, {}},
      {16395, "public", "orders", K::table, {}},
      {16394, "public", "orders_id_seq", K::sequence, {}},
      {16410, "hr", "salaries", K::table, {}},
      {16420, "public", "payroll", K::view, {}},
      {16424, "public", "payroll_summary", K::view, {}},
      {16428, "public", "order_totals", K::view, {}},
      {1259, "pg_catalog", "pg_class", K::table, {}},
      {1260, "pg_catalog", "pg_authid", K::table, {}},
      {2615, "pg_catalog", "pg_namespace", K::table, {}},
      {1255, "pg_catalog", "pg_proc", K::table, {}},
      {1262, "pg_catalog", "pg_database", K::table, {}},
      {12001, "pg_catalog", "pg_shadow", K::view, {}},
      {12002, "pg_catalog", "pg_roles", K::view, {}},
      {12003, "pg_catalog", "pg_user", K::view, {}},
      {12004, "pg_catalog", "pg_stat_activity", K::view, {}},
      {12005, "pg_catalog", "pg_settings", K::view, {}},
      {12006, "pg_catalog", "pg_tables", K::view, {}},
      {13001, "information_schema", "tables", K::view, {}},
      {13002, "information_schema", "columns", K::view, {}},
  };
  d.columns = {
      {16386, 1, "id", 23},     {16386, 2, "name", 25},   {16386, 3, "email", 25},
      {16386, 4, "ssn", 25},    {16386, 5, "card_number", 25}, {16386, 6, "phone", 25},
      {16386, 7, "notes", 25},  {16386, 8, "profile", 3802},
      {16395, 1, "id", 23},     {16395, 2, "customer_id", 23}, {16395, 3, "amount", 1700},
      {16395, 4, "created_at", 1184},
      {16410, 1, "employee", 25}, {16410, 2, "amount", 1700},
      {16420, 1, "employee", 25}, {16420, 2, "amount", 1700},
      {16424, 1, "n", 20},
      {16428, 1, "customer_id", 23}, {16428, 2, "total", 1700},
  };
  d.view_dependencies = {
      {16420, 16410},  // payroll -> hr.salaries
      {16424, 16420},  // payroll_summary -> payroll
      {16428, 16395},  // order_totals -> orders
      {12001, 1260},   // pg_shadow -> pg_authid
      {12002, 1260},   // pg_roles -> pg_authid
      {12003, 12001},  // pg_user -> pg_shadow
      {12006, 1259},   // pg_tables -> pg_class
      {13001, 1259},   // information_schema.tables -> pg_class
      {13001, 2615},
  };
  d.functions = {
      {1299, "pg_catalog", "now", {}, {}},
      {870, "pg_catalog", "lower", {}, {}},
      {2624, "pg_catalog", "pg_read_file", {}, {}},
      {2078, "pg_catalog", "set_config", {}, {}},
      {2096, "pg_catalog", "pg_terminate_backend", {}, {}},
      {764, "pg_catalog", "lo_import", {}, {}},
      {1397, "pg_catalog", "abs", {}, {}},
  };
  return d;
}

inline std::shared_ptr<const Catalog> sample_catalog() { return Catalog::build(sample_catalog_data()); }

// The sample catalog plus what an admin creates for masking tests:
//
//   CREATE VIEW public.customer_contacts AS SELECT id, name, email, phone FROM public.customers;
//   CREATE VIEW public.tax_ids AS SELECT id, ssn AS tax_id FROM public.customers;
//   CREATE VIEW public.tax_ids_upper AS SELECT id, upper(tax_id) AS t FROM public.tax_ids;
//   CREATE FUNCTION public.get_ssn(int) RETURNS text LANGUAGE sql AS 'SELECT ssn FROM public.customers WHERE id = $1';
//   CREATE FUNCTION public.order_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM public.orders';
//   CREATE FUNCTION public.plpgsql_fn() RETURNS text LANGUAGE plpgsql AS ...;
inline std::shared_ptr<const Catalog> masking_catalog() {
  CatalogData d = sample_catalog_data();
  using K = RelationKind;
  d.relations.push_back({16440, "public", "customer_contacts", K::view,
                         " SELECT customers.id,\n    customers.name,\n    customers.email,\n    customers.phone\n   FROM customers;"});
  d.relations.push_back({16444, "public", "tax_ids", K::view,
                         " SELECT customers.id,\n    customers.ssn AS tax_id\n   FROM customers;"});
  d.relations.push_back({16448, "public", "tax_ids_upper", K::view,
                         " SELECT tax_ids.id,\n    upper(tax_ids.tax_id) AS t\n   FROM tax_ids;"});
  d.columns.push_back({16440, 1, "id", 23});
  d.columns.push_back({16440, 2, "name", 25});
  d.columns.push_back({16440, 3, "email", 25});
  d.columns.push_back({16440, 4, "phone", 25});
  d.columns.push_back({16444, 1, "id", 23});
  d.columns.push_back({16444, 2, "tax_id", 25});
  d.columns.push_back({16448, 1, "id", 23});
  d.columns.push_back({16448, 2, "t", 25});
  d.view_dependencies.push_back({16440, 16386});
  d.view_dependencies.push_back({16444, 16386});
  d.view_dependencies.push_back({16448, 16444});
  d.functions.push_back({2147, "pg_catalog", "count", "internal", {}});
  d.functions.push_back({871, "pg_catalog", "upper", "internal", {}});
  d.functions.push_back({16450, "public", "get_ssn", "sql", "SELECT ssn FROM public.customers WHERE id = $1"});
  d.functions.push_back({16451, "public", "order_count", "sql", "SELECT count(*) FROM public.orders"});
  d.functions.push_back({16452, "public", "plpgsql_fn", "plpgsql", {}});
  return Catalog::build(std::move(d));
}

}  // namespace pgw::policy::testing
