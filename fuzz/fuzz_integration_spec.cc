// Fuzzes integration request bodies: JSON parsing, validation, and the round trip through the
// stored form (a spec that validated once must validate again after SpecToJson).
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/json.h"
#include "integrations/integration.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = relay::ParseJson(text);
  if (!parsed.ok() || !parsed->is_object()) return 0;
  auto spec = relay::integrations::ParseIntegrationSpec(parsed->as_object());
  if (!spec.ok()) return 0;
  auto again = relay::integrations::ParseIntegrationSpec(relay::integrations::SpecToJson(*spec));
  if (!again.ok()) __builtin_trap();
  // A merge patch of the body onto itself must keep it valid JSON to serialize.
  boost::json::value target = *parsed;
  relay::ApplyMergePatch(target, *parsed);
  (void)relay::ToJsonString(target);
  return 0;
}
