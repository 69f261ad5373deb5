// RunCatching: the one place a store turns a throw from a write's code into that write's
// failure, so that no exception leaves a transaction open or crosses the store's boundary.
#pragma once

#include <exception>
#include <functional>
#include <string>

#include "common/status.h"

namespace relay::store {

// `body`'s status, or kInternal naming what was thrown.
inline Status RunCatching(const std::function<Status()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return Internal(std::string("a write failed unexpectedly: ") + e.what());
  } catch (...) {
    return Internal("a write failed unexpectedly");
  }
}

}  // namespace relay::store
