// The administration commands: API keys and organizations' features. Each prints JSON lines on
// stdout and returns the process's exit code.
#pragma once

#include <string>
#include <vector>

#include "app/store_options.h"

namespace relay::app {

int KeysCreate(const StoreOptions& store_options, const std::vector<std::string>& orgs,
               const std::string& name);
int KeysList(const StoreOptions& store_options);
int KeysRevoke(const StoreOptions& store_options, const std::string& key);
int OrgsSetFeatures(const StoreOptions& store_options, const std::string& org,
                    const std::vector<std::string>& features, bool enabled);
int OrgsList(const StoreOptions& store_options);

}  // namespace relay::app
