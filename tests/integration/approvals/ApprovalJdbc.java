// pgJDBC (Debian's libpostgresql-jdbc-java) running a statement that
// pgwarden holds for approval: the driver simply waits (extended protocol:
// Parse/Bind/Execute/Sync), then prints what it got once people decided.
// test_approvals.py compiles and runs this.
//
//   java -cp DIR:/usr/share/java/postgresql.jar ApprovalJdbc HOST PORT DATABASE SQL
//
// stdout: "ok <TAB> update count" or "error <TAB> sqlstate <TAB> message".

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

public final class ApprovalJdbc {
  public static void main(String[] args) throws Exception {
    String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/" + args[2];
    Properties props = new Properties();
    props.setProperty("user", "alice");
    props.setProperty("sslmode", "disable");
    try (Connection c = DriverManager.getConnection(url, props); Statement s = c.createStatement()) {
      System.out.println("connected");
      System.out.flush();
      try {
        int n = s.executeUpdate(args[3]);
        System.out.println("ok\t" + n);
      } catch (SQLException e) {
        System.out.println("error\t" + e.getSQLState() + "\t" + e.getMessage().replace('\n', ' '));
      }
    }
  }
}
