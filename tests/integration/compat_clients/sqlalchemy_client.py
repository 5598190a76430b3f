"""SQLAlchemy 1.4 (Debian's python3-sqlalchemy, over python3-psycopg2) as an
application uses it, for test_compat_sqlalchemy.py: run once directly and
once through pgwarden, it prints one JSON document of what it saw.

    python3 sqlalchemy_client.py HOST PORT USER DATABASE

The password, if any, comes from PGPASSWORD (libpq): through pgwarden
there is none.
"""

import json
import sys

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, declarative_base, relationship

Base = declarative_base()


class Customer(Base):
    __tablename__ = "customers"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.Text, nullable=False)
    email = sa.Column(sa.Text, nullable=False)
    ssn = sa.Column(sa.Text, nullable=False)
    card_number = sa.Column(sa.Text, nullable=False)
    phone = sa.Column(sa.Text, nullable=False)
    notes = sa.Column(sa.Text)
    profile = sa.Column(JSONB)


class Order(Base):
    __tablename__ = "orders"
    id = sa.Column(sa.Integer, primary_key=True)
    customer_id = sa.Column(sa.Integer, sa.ForeignKey("customers.id"), nullable=False)
    amount = sa.Column(sa.Numeric(12, 2), nullable=False)
    created_at = sa.Column(sa.DateTime(timezone=True), nullable=False)
    customer = relationship(Customer)


CUSTOMER_COLUMNS = ["id", "name", "email", "ssn", "card_number", "phone", "notes", "profile"]


def customer_row(c):
    return [getattr(c, name) for name in CUSTOMER_COLUMNS]


def reflection(engine):
    """What the inspector and MetaData.reflect make of the schema."""
    insp = sa.inspect(engine)
    out = {"schemas": insp.get_schema_names(), "tables": insp.get_table_names(),
           "views": insp.get_view_names(), "sequences": insp.get_sequence_names(), "inspect": {}}
    for table in out["tables"] + out["views"]:
        out["inspect"][table] = {
            "columns": [{k: str(v) if k == "type" else v for k, v in c.items()} for c in insp.get_columns(table)],
            "pk": insp.get_pk_constraint(table),
            "fks": insp.get_foreign_keys(table),
            "indexes": insp.get_indexes(table),
            "unique": insp.get_unique_constraints(table),
            "checks": insp.get_check_constraints(table),
            "comment": insp.get_table_comment(table),
        }
    md = sa.MetaData()
    md.reflect(bind=engine, views=True)
    out["metadata"] = {
        name: {
            "columns": [[c.name, repr(c.type), c.nullable, c.primary_key, c.autoincrement,
                         str(c.server_default.arg) if c.server_default is not None else None,
                         c.comment] for c in t.columns],
            "pk": [t.primary_key.name, [c.name for c in t.primary_key.columns]],
            "fks": sorted([fk.constraint.name, fk.parent.name, fk.target_fullname] for fk in t.foreign_keys),
            "indexes": sorted([i.name, i.unique, [c.name for c in i.columns]] for i in t.indexes),
            "comment": t.comment,
        }
        for name, t in sorted(md.tables.items())
    }
    # A table reflected from the database is usable: a Core select on it.
    customers = md.tables["customers"]
    with engine.connect() as conn:
        out["core_select"] = [list(r) for r in conn.execute(
            sa.select(customers.c.id, customers.c.email).where(customers.c.id <= 3).order_by(customers.c.id))]
    return out


def orm(engine):
    out = {}
    with Session(engine) as s:
        a_names = s.query(Customer).filter(Customer.name.like("A%"))
        out["filter_order_by"] = [customer_row(c) for c in a_names.order_by(Customer.name, Customer.id)]
        out["count"] = a_names.count()  # SELECT count(*) FROM (SELECT customers.* ...) AS anon_1
        out["select_desc"] = [customer_row(c) for c in s.execute(
            sa.select(Customer).where(Customer.id.between(100, 140)).order_by(Customer.id.desc())).scalars()]
        out["func_count"] = s.scalar(sa.select(sa.func.count()).select_from(Order).where(Order.amount > 1000))
        out["group_by"] = [list(r) for r in s.execute(
            sa.select(Order.customer_id, sa.func.count(Order.id), sa.func.sum(Order.amount))
            .where(Order.customer_id <= 25).group_by(Order.customer_id).order_by(Order.customer_id))]
        out["join"] = [list(r) for r in s.query(Order.id, Customer.name, Customer.email, Customer.ssn)
                       .join(Order.customer).filter(Order.id <= 30).order_by(Order.id)]
        # A filter on a masked column: allowed without `strict`; the rows come masked.
        out["filter_on_masked"] = [customer_row(c) for c in s.query(Customer)
                                   .filter(Customer.email.like("a%@example.com")).order_by(Customer.id)]
        # Lazy loading through a relationship: a second SELECT by primary key.
        order = s.get(Order, 5)
        out["relationship"] = [order.id, order.customer_id] + customer_row(order.customer)
        # A page of a query (LIMIT/OFFSET as bind parameters).
        out["page"] = [customer_row(c) for c in s.query(Customer).order_by(Customer.id).offset(20).limit(10)]
    return out


def main():
    host, port, user, dbname = sys.argv[1:5]
    url = sa.engine.URL.create("postgresql+psycopg2", username=user, host=host, port=int(port), database=dbname)
    engine = sa.create_engine(url, future=True, connect_args={"connect_timeout": 10})
    out = {"reflection": reflection(engine), "orm": orm(engine)}
    engine.dispose()
    json.dump(out, sys.stdout, default=str, ensure_ascii=False)


if __name__ == "__main__":
    main()
