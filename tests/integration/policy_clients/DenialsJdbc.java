// pgJDBC (Debian's libpostgresql-jdbc-java) against pgwarden: statements the
// read-only agent may not run must fail as the driver's normal PSQLException
// with SQLState 42501, and the connection must go on working.
// test_policy_clients.py compiles and runs this.
//
//   java -cp DIR:/usr/share/java/postgresql.jar DenialsJdbc HOST PORT DATABASE
//
// One line per step on stdout: step <TAB> ok|error <TAB> sqlstate <TAB>
// exception class <TAB> message or first value.

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

public final class DenialsJdbc {
  private interface Body {
    String run() throws SQLException;
  }

  private static String clean(String s) {
    return s == null ? "" : s.replace('\t', ' ').replace('\n', ' ');
  }

  private static void step(String name, Body body) {
    try {
      System.out.println(name + "\tok\t\t\t" + clean(body.run()));
    } catch (SQLException e) {
      System.out.println(name + "\terror\t" + clean(e.getSQLState()) + "\t" + e.getClass().getName() + "\t"
                         + clean(e.getMessage()));
    }
  }

  private static String first(ResultSet rs) throws SQLException {
    try (rs) {
      return rs.next() ? rs.getString(1) : "";
    }
  }

  public static void main(String[] args) throws Exception {
    String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/" + args[2];
    Properties props = new Properties();
    props.setProperty("user", "agent");  // no password: pgwarden holds the upstream's credential
    props.setProperty("sslmode", "disable");
    try (Connection conn = DriverManager.getConnection(url, props)) {
      // Statement.execute: the extended protocol with an unnamed statement.
      step("statement_delete", () -> {
        try (Statement st = conn.createStatement()) {
          return String.valueOf(st.executeUpdate("DELETE FROM customers"));
        }
      });
      step("after_statement", () -> {
        try (Statement st = conn.createStatement()) {
          return first(st.executeQuery("SELECT 1"));
        }
      });
      // A server-prepared (named) statement from the first execution.
      step("prepared_delete", () -> {
        try (PreparedStatement ps = conn.prepareStatement("DELETE FROM orders WHERE id = ?")) {
          ps.unwrap(org.postgresql.PGStatement.class).setPrepareThreshold(1);
          ps.setInt(1, 1);
          return String.valueOf(ps.executeUpdate());
        }
      });
      step("prepared_hr_read", () -> {
        try (PreparedStatement ps = conn.prepareStatement("SELECT amount FROM hr.salaries WHERE employee = ?")) {
          ps.unwrap(org.postgresql.PGStatement.class).setPrepareThreshold(1);
          ps.setString(1, "x");
          return first(ps.executeQuery());
        }
      });
      step("prepared_select", () -> {
        try (PreparedStatement ps = conn.prepareStatement("SELECT count(*) FROM customers WHERE id <= ?")) {
          ps.unwrap(org.postgresql.PGStatement.class).setPrepareThreshold(1);
          String last = "";
          for (int i = 1; i <= 3; i++) {  // executed again: the named statement is reused
            ps.setInt(1, 10);
            last = first(ps.executeQuery());
          }
          return last;
        }
      });
      // Inside a transaction the denial aborts it, as a server error would.
      conn.setAutoCommit(false);
      step("in_tx_update", () -> {
        try (Statement st = conn.createStatement()) {
          return String.valueOf(st.executeUpdate("UPDATE customers SET name = 'x' WHERE id = 1"));
        }
      });
      step("in_tx_next", () -> {
        try (Statement st = conn.createStatement()) {
          return first(st.executeQuery("SELECT 1"));
        }
      });
      step("rollback", () -> {
        conn.rollback();
        return "";
      });
      conn.setAutoCommit(true);
      step("after_all", () -> {
        try (Statement st = conn.createStatement()) {
          return first(st.executeQuery("SELECT count(*) FROM customers"));
        }
      });
    }
  }
}
