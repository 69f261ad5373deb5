// `consent-relay demo`: the first look in one command. A temporary data directory, the server on
// it, a local receiver that verifies each webhook's signature and prints it, an organization with
// an API key and an integration pointing at the receiver, and a stream of synthetic consent
// changes through the API. Prints the console's URL and the key to sign in with; Ctrl-C stops it
// all and removes the directory.
#pragma once

#include <string>

namespace relay::app {

struct DemoOptions {
  std::string listen = "127.0.0.1:8080";
  int interval_ms = 2000;  // between two synthetic consent changes
};

int Demo(const std::string& program, const DemoOptions& options);

}  // namespace relay::app
