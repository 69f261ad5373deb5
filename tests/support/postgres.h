// The test PostgreSQL cluster (scripts/pg-test-cluster, started by a ctest fixture): its URL, and
// a fresh database on it for each test.
#pragma once

#include <string>

namespace relay::testing {

// RELAY_TEST_POSTGRES, or the first line of the file RELAY_TEST_POSTGRES_FILE names; "" when the
// tests run against the embedded store.
std::string PostgresBaseUrl();
// True when PostgresBaseUrl() names a cluster.
bool UsingPostgres();
// A new, empty database on the cluster at `base_url`; its URL. Fails the test when it cannot.
std::string CreateDatabase(const std::string& base_url);

}  // namespace relay::testing
