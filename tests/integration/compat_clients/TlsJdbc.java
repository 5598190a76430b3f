// pgJDBC over TLS, for test_tls_client.py: connects with the URL given
// (ssl=true&sslmode=verify-full&sslrootcert=...), runs one query and prints
// its first column, one value a line; on failure prints the SQLSTATE and
// message and exits 1.
//
//   java -cp DIR:/usr/share/java/postgresql.jar TlsJdbc URL USER QUERY

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

public final class TlsJdbc {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.setProperty("user", args[1]);
    try (Connection c = DriverManager.getConnection(args[0], props);
         Statement s = c.createStatement();
         ResultSet rs = s.executeQuery(args[2])) {
      while (rs.next()) System.out.println(rs.getString(1));
    } catch (SQLException e) {
      System.out.println("ERROR " + e.getSQLState() + " " + e.getMessage());
      System.exit(1);
    }
  }
}
