#include "support/raw_sql.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

namespace relay::testing {

std::vector<std::vector<std::string>> RawSql(const std::string& database, const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  if (database.rfind("postgres", 0) == 0) {
    PGconn* c = PQconnectdb(database.c_str());
    PGresult* r = PQexec(c, sql.c_str());
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r) << PQerrorMessage(c);
    }
    for (int i = 0; i < PQntuples(r); ++i) {
      rows.emplace_back();
      for (int j = 0; j < PQnfields(r); ++j) rows.back().emplace_back(PQgetvalue(r, i, j));
    }
    PQclear(r);
    PQfinish(c);
    return rows;
  }
  sqlite3* db = nullptr;
  if (sqlite3_open(database.c_str(), &db) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << database;
    sqlite3_close(db);
    return rows;
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
  }
  while (stmt && sqlite3_step(stmt) == SQLITE_ROW) {
    rows.emplace_back();
    for (int j = 0; j < sqlite3_column_count(stmt); ++j) {
      const unsigned char* text = sqlite3_column_text(stmt, j);
      rows.back().emplace_back(text ? reinterpret_cast<const char*>(text) : "");
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

}  // namespace relay::testing
