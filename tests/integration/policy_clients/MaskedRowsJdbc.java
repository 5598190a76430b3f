// Reads masked results with pgJDBC and prints them, one "row<TAB>value..."
// line per row, so the test can check what a Java application would see.
// prepareThreshold=1 makes the driver use a named server-side statement from
// the first execution on; its later executions send Bind/Execute without a
// Describe, which pgwarden must answer by describing the portal itself.
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.util.Properties;

public class MaskedRowsJdbc {
  public static void main(String[] args) throws Exception {
    String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/" + args[2];
    Properties props = new Properties();
    props.setProperty("user", "alice");
    props.setProperty("prepareThreshold", "1");
    props.setProperty("binaryTransfer", "true");
    try (Connection conn = DriverManager.getConnection(url, props)) {
      for (int i = 3; i < args.length; i++) {
        try (PreparedStatement ps = conn.prepareStatement(args[i])) {
          for (int round = 0; round < 3; round++) {
            try (ResultSet rs = ps.executeQuery()) {
              ResultSetMetaData md = rs.getMetaData();
              while (rs.next()) {
                StringBuilder line = new StringBuilder("row" + (i - 3));
                for (int c = 1; c <= md.getColumnCount(); c++) {
                  line.append('\t').append(rs.getString(c));
                }
                if (round == 2) System.out.println(line);
              }
            }
          }
        }
      }
    }
  }
}
