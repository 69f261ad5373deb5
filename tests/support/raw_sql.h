// SQL straight on a store's database, behind the store's back: for tests that check what is
// really stored (secrets erased, rows counted).
#pragma once

#include <string>
#include <vector>

namespace relay::testing {

// Runs `sql` on `database`: a postgres:// URL, or the path of a SQLite file. Returns the rows,
// each column as text ("" for NULL); an error fails the test.
std::vector<std::vector<std::string>> RawSql(const std::string& database, const std::string& sql);

}  // namespace relay::testing
