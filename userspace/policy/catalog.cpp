#include "policy/catalog.h"

#include <algorithm>
#include <atomic>

namespace pgw::policy {
namespace {

std::string name_key(std::string_view schema, std::string_view name) {
  std::string key;
  key.reserve(schema.size() + name.size() + 1);
  key.append(schema);
  key.push_back('\0');  // cannot occur in an identifier, so keys never collide
  key.append(name);
  return key;
}

std::atomic<std::uint64_t> g_next_version{1};

}  // namespace

std::string_view to_string(RelationKind k) {
  switch (k) {
    case RelationKind::table: return "table";
    case RelationKind::view: return "view";
    case RelationKind::matview: return "materialized view";
    case RelationKind::foreign: return "foreign table";
    case RelationKind::partitioned: return "partitioned table";
    case RelationKind::sequence: return "sequence";
  }
  return "relation";
}

std::shared_ptr<const Catalog> Catalog::build(CatalogData data) {
  std::shared_ptr<Catalog> c(new Catalog());
  c->version_ = g_next_version.fetch_add(1, std::memory_order_relaxed);
  c->data_ = std::move(data);
  auto& d = c->data_;

  c->sorted_schemas_ = d.schemas;
  std::sort(c->sorted_schemas_.begin(), c->sorted_schemas_.end());
  c->sorted_schemas_.erase(std::unique(c->sorted_schemas_.begin(), c->sorted_schemas_.end()),
                           c->sorted_schemas_.end());
  c->by_name_.reserve(d.relations.size());
  c->by_oid_.reserve(d.relations.size());
  for (std::size_t i = 0; i < d.relations.size(); ++i) {
    const auto& r = d.relations[i];
    c->by_name_.emplace(name_key(r.schema, r.name), i);
    c->by_oid_.emplace(r.oid, i);
  }
  c->function_by_oid_.reserve(d.functions.size());
  for (std::size_t i = 0; i < d.functions.size(); ++i) {
    const CatalogFunction& f = d.functions[i];
    c->function_by_oid_.emplace(f.oid, i);
    (is_system_schema(f.schema) ? c->system_function_names_ : c->user_function_names_).insert(f.name);
  }

  std::sort(d.columns.begin(), d.columns.end(), [](const CatalogColumn& a, const CatalogColumn& b) {
    return a.relation != b.relation ? a.relation < b.relation : a.attnum < b.attnum;
  });
  for (std::size_t i = 0; i < d.columns.size();) {
    std::size_t j = i;
    while (j < d.columns.size() && d.columns[j].relation == d.columns[i].relation) ++j;
    c->columns_by_relation_.emplace(d.columns[i].relation, std::make_pair(i, j));
    i = j;
  }
  for (const auto& dep : d.view_dependencies) {
    if (dep.view == dep.base) continue;  // a view's rule depends on the view itself
    auto& bases = c->view_bases_[dep.view];
    if (std::find(bases.begin(), bases.end(), dep.base) == bases.end()) bases.push_back(dep.base);
  }
  return c;
}

bool Catalog::has_schema(std::string_view schema) const {
  return std::binary_search(sorted_schemas_.begin(), sorted_schemas_.end(), schema);
}

const CatalogRelation* Catalog::find(std::string_view schema, std::string_view name) const {
  auto it = by_name_.find(name_key(schema, name));
  return it == by_name_.end() ? nullptr : &data_.relations[it->second];
}

const CatalogRelation* Catalog::relation(Oid oid) const {
  auto it = by_oid_.find(oid);
  return it == by_oid_.end() ? nullptr : &data_.relations[it->second];
}

const CatalogFunction* Catalog::function(Oid oid) const {
  auto it = function_by_oid_.find(oid);
  return it == function_by_oid_.end() ? nullptr : &data_.functions[it->second];
}

bool Catalog::only_system_function_named(std::string_view name) const {
  const std::string key(name);
  return system_function_names_.count(key) != 0 && user_function_names_.count(key) == 0;
}

bool Catalog::user_function_named(std::string_view name) const {
  return user_function_names_.count(std::string(name)) != 0;
}

std::span<const CatalogColumn> Catalog::columns(Oid relation) const {
  auto it = columns_by_relation_.find(relation);
  if (it == columns_by_relation_.end()) return {};
  return std::span<const CatalogColumn>(data_.columns).subspan(it->second.first,
                                                               it->second.second - it->second.first);
}

std::vector<const CatalogRelation*> Catalog::base_relations(Oid view) const {
  // Breadth-first over the dependency graph with a visited list: views of
  // views of views terminate, and a cycle (rules on two tables that write
  // each other; or just bad data) cannot loop.
  std::vector<const CatalogRelation*> out;
  std::vector<Oid> queue{view};
  std::vector<Oid> seen{view};
  for (std::size_t i = 0; i < queue.size(); ++i) {
    auto it = view_bases_.find(queue[i]);
    if (it == view_bases_.end()) continue;
    for (Oid base : it->second) {
      if (std::find(seen.begin(), seen.end(), base) != seen.end()) continue;
      seen.push_back(base);
      const CatalogRelation* r = relation(base);
      if (!r) continue;
      out.push_back(r);
      queue.push_back(base);
    }
  }
  return out;
}

std::vector<RelationCandidate> resolve(const Catalog* catalog, std::string_view schema,
                                       std::string_view name,
                                       std::span<const std::string> search_path) {
  std::vector<RelationCandidate> out;
  auto add = [&](std::string_view s, const CatalogRelation* r) {
    out.push_back(RelationCandidate{std::string(s), std::string(name), r});
  };
  if (!schema.empty()) {
    add(schema, catalog ? catalog->find(schema, name) : nullptr);
    return out;
  }

  const bool catalog_listed =
      std::find(search_path.begin(), search_path.end(), "pg_catalog") != search_path.end();
  // pg_catalog: returns true when the walk stops there.
  auto visit_pg_catalog = [&]() {
    if (catalog) {
      if (const auto* r = catalog->find("pg_catalog", name)) {
        add("pg_catalog", r);
        return true;
      }
      return false;
    }
    if (name.starts_with("pg_")) add("pg_catalog", nullptr);
    return false;
  };

  if (!catalog_listed && visit_pg_catalog()) return out;
  for (const auto& s : search_path) {
    if (s == "pg_catalog") {
      if (visit_pg_catalog()) return out;
      continue;
    }
    if (s == "*") {  // any schema: nothing more specific can be said
      add("*", nullptr);
      continue;
    }
    const CatalogRelation* r = catalog ? catalog->find(s, name) : nullptr;
    if (std::find_if(out.begin(), out.end(), [&](const RelationCandidate& c) { return c.schema == s; }) ==
        out.end())
      add(s, r);
    if (r) return out;
  }
  return out;
}

}  // namespace pgw::policy
