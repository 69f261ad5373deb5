// The one reader of an integration's stored properties: parsed by the rules requests obey, and
// cached by (id, version), since every consent event fans out over the same few integrations.
#pragma once

#include <memory>

#include "common/status.h"
#include "integrations/integration.h"
#include "store/rows.h"

namespace relay::integrations {

// The row's properties; kInternal when what is stored breaks the rules. Thread-safe. A new
// version (any change) is a new key; the cache is dropped whole when it grows large.
Result<std::shared_ptr<const IntegrationProperties>> StoredProperties(
    const store::IntegrationRow& row);

}  // namespace relay::integrations
