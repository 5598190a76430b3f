// pgJDBC's DatabaseMetaData, for test_compat_jdbc.py: run once directly and
// once through pgwarden, it prints one JSON document of what it saw.
//
//   java -cp DIR:/usr/share/java/postgresql.jar MetadataJdbc HOST PORT USER DATABASE
//
// The password, if any, comes from the environment's PGPASSWORD (through
// pgwarden there is none). Each call's result is {"columns": [...], "rows":
// [[...], ...]} with every value as getString gives it.

import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

public final class MetadataJdbc {
  private interface Call {
    ResultSet run(DatabaseMetaData md) throws SQLException;
  }

  private static String quote(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"': b.append("\\\""); break;
        case '\\': b.append("\\\\"); break;
        case '\n': b.append("\\n"); break;
        case '\r': b.append("\\r"); break;
        case '\t': b.append("\\t"); break;
        default:
          if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
      }
    }
    return b.append('"').toString();
  }

  private static String table(ResultSet rs) throws SQLException {
    try (rs) {
      ResultSetMetaData meta = rs.getMetaData();
      StringBuilder b = new StringBuilder("{\"columns\": [");
      for (int i = 1; i <= meta.getColumnCount(); i++) {
        b.append(i > 1 ? ", " : "").append(quote(meta.getColumnLabel(i)));
      }
      b.append("], \"rows\": [");
      boolean firstRow = true;
      while (rs.next()) {
        b.append(firstRow ? "[" : ", [");
        firstRow = false;
        for (int i = 1; i <= meta.getColumnCount(); i++) {
          b.append(i > 1 ? ", " : "").append(quote(rs.getString(i)));
        }
        b.append(']');
      }
      return b.append("]}").toString();
    }
  }

  public static void main(String[] args) throws Exception {
    String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/" + args[3];
    Properties props = new Properties();
    props.setProperty("user", args[2]);
    String password = System.getenv("PGPASSWORD");
    if (password != null) props.setProperty("password", password);
    props.setProperty("sslmode", "disable");

    Map<String, Call> calls = new LinkedHashMap<>();
    calls.put("getTables", md -> md.getTables(null, "public", "%", new String[] {"TABLE", "VIEW"}));
    calls.put("getTables all types", md -> md.getTables(null, null, "customer%", null));
    for (String t : new String[] {"customers", "orders"}) {
      calls.put("getColumns " + t, md -> md.getColumns(null, "public", t, "%"));
      calls.put("getPrimaryKeys " + t, md -> md.getPrimaryKeys(null, "public", t));
      calls.put("getImportedKeys " + t, md -> md.getImportedKeys(null, "public", t));
      calls.put("getExportedKeys " + t, md -> md.getExportedKeys(null, "public", t));
      calls.put("getIndexInfo " + t, md -> md.getIndexInfo(null, "public", t, false, true));
    }
    calls.put("getSchemas", md -> md.getSchemas());

    StringBuilder out = new StringBuilder("{");
    try (Connection conn = DriverManager.getConnection(url, props)) {
      DatabaseMetaData md = conn.getMetaData();
      out.append("\"product\": ").append(quote(md.getDatabaseProductVersion()));
      out.append(", \"user\": ").append(quote(md.getUserName()));
      for (Map.Entry<String, Call> e : calls.entrySet()) {
        out.append(", ").append(quote(e.getKey())).append(": ").append(table(e.getValue().run(md)));
      }
    }
    System.out.println(out.append('}'));
  }
}
