// libFuzzer target: arbitrary bytes as each YAML file the suite reads at
// start-up — the service configuration (libs/config), the API keys
// (libs/auth), the tracking API's write keys, the action catalog and the
// journey model — parsed and validated exactly as at start-up. No Redis,
// no network, no file system.
// The first byte picks the file: 'c' config, 'k' API keys, 'w' write keys,
// 'a' action catalog, 'j' journey model (any other byte: its value mod 5).
// Properties checked beyond "does not crash" (ASan + UBSan, and no
// exception escaping yaml-cpp):
//   - a refusal is INVALID_ARGUMENT (a start-up error naming the file),
//     never another code;
//   - what one parse accepts, a second parse of the same text accepts the
//     same way (no hidden state);
//   - an accepted config validates for at least the service it was read as
//     or is refused with a message; an accepted catalog passes the catalog
//     rules on its own.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/stubs/logging.h"
#include "libs/auth/api_keys.h"
#include "libs/config/config.h"
#include "libs/config/proto_loader.h"
#include "services/ingestion/write_keys.h"
#include "services/journey/journey_model.h"
#include "services/recommendation/catalog.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckRefusal(const absl::Status& s) {
  Check(s.code() == absl::StatusCode::kInvalidArgument);
  Check(!s.message().empty());
}

void Config(absl::string_view yaml, uint8_t service) {
  static const omnicx::config::Service kServices[] = {
      omnicx::config::Service::kIngestion, omnicx::config::Service::kProfile,
      omnicx::config::Service::kJourney,
      omnicx::config::Service::kRecommendation};
  omnicx::config::Config config =
      omnicx::config::Defaults(kServices[service % 4]);
  const absl::Status merged =
      omnicx::config::MergeYaml(yaml, "config.yaml", &config);
  if (!merged.ok()) {
    CheckRefusal(merged);
    return;
  }
  const absl::Status valid = omnicx::config::Validate(config);
  if (!valid.ok()) Check(!valid.message().empty());
  if (valid.ok()) {
    // Every accepted duration parses.
    (void)omnicx::config::DurationSetting(config.shutdown_grace());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const absl::string_view yaml(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  uint8_t which = data[0];
  switch (which) {
    case 'c':
      which = 0;
      break;
    case 'k':
      which = 1;
      break;
    case 'w':
      which = 2;
      break;
    case 'a':
      which = 3;
      break;
    case 'j':
      which = 4;
      break;
    default:
      which %= 5;
  }
  switch (which) {
    case 0:
      Config(yaml, size);
      break;
    case 1: {
      auto keys = omnicx::auth::ApiKeySet::Parse(yaml, "keys.yaml");
      if (!keys.ok()) {
        CheckRefusal(keys.status());
        break;
      }
      auto again = omnicx::auth::ApiKeySet::Parse(yaml, "keys.yaml");
      Check(again.ok() && again->size() == keys->size());
      break;
    }
    case 2: {
      auto keys =
          omnicx::ingestion::WriteKeySet::Parse(yaml, "write_keys.yaml");
      if (!keys.ok()) {
        CheckRefusal(keys.status());
        break;
      }
      auto again =
          omnicx::ingestion::WriteKeySet::Parse(yaml, "write_keys.yaml");
      Check(again.ok() && again->size() == keys->size());
      break;
    }
    case 3: {
      auto catalog =
          omnicx::recommendation::ParseCatalogYaml(yaml, "catalog.yaml");
      if (!catalog.ok()) {
        CheckRefusal(catalog.status());
        break;
      }
      Check(omnicx::recommendation::ValidateCatalog(*catalog, "again").ok());
      break;
    }
    default: {
      auto model =
          omnicx::journey::LoadJourneyModelFromYaml(yaml, "model.yaml");
      if (!model.ok()) CheckRefusal(model.status());
      break;
    }
  }
  return 0;
}
