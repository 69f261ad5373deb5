// Fuzzes consent event bodies: validation, the merge into a user's status (twice, as a second
// event would), and flatten of the resulting envelope.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/json.h"
#include "consent/consent_event.h"
#include "consent/outbox.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = relay::ParseJson(text);
  if (!parsed.ok() || !parsed->is_object()) return 0;
  auto in = relay::consent::ParseEventInput(parsed->as_object());
  if (!in.ok()) return 0;
  boost::json::object status;
  (void)relay::consent::MergeConsents(status, in->consents);
  (void)relay::consent::MergeConsents(status, in->consents);
  relay::consent::OutgoingMessage m{
      "user.updated", in->regulation,
      boost::json::object{{"old_entity", in->consents}, {"new_entity", status}}};
  auto flat = relay::consent::FlattenEnvelope(relay::consent::Envelope(m));
  if (!flat.at("parameters").as_object().contains("entity")) __builtin_trap();
  return 0;
}
