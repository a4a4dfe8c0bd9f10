// libFuzzer target: arbitrary bytes decoded as each of the recommendation
// service's requests (Recommend, DecideForContext, RecordOutcome,
// UpsertAction), then validated exactly as the service does before it
// reads or writes anything. No Redis, no network.
// Properties checked beyond "does not crash" (ASan + UBSan):
//   - validation is deterministic and every violation has a description;
//   - violation paths stay under the request's own fields ("request." for
//     the decision request inside DecideForContext, "action" for upserts);
//   - an accepted Recommend asks for 0-20 actions with a known channel;
//   - an accepted DecideForContext is for the profile it carries;
//   - an action UpsertAction accepts is also accepted by the catalog
//     rules (one set of rules for the YAML catalog and the RPC).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/match.h"
#include "google/protobuf/stubs/logging.h"
#include "omnicx/v1/recommendation.pb.h"
#include "services/recommendation/catalog.h"
#include "services/recommendation/request_validation.h"

namespace {

namespace rec = omnicx::recommendation;

void Check(bool ok) {
  if (!ok) std::abort();
}

template <typename Request, typename Validate>
bool Parse(const uint8_t* data, size_t size, Request* request,
           Validate validate,
           std::vector<omnicx::status::FieldViolation>* violations) {
  if (!request->ParseFromArray(data, static_cast<int>(size))) return false;
  *violations = validate(*request);
  Check(*violations == validate(*request));
  for (const auto& v : *violations) {
    Check(!v.field.empty());
    Check(!v.description.empty());
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Invalid UTF-8 in string fields is expected input; keep the log quiet.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<omnicx::status::FieldViolation> v;

  omnicx::v1::RecommendRequest recommend;
  if (Parse(data, size, &recommend, rec::ValidateRecommend, &v) && v.empty()) {
    Check(recommend.max_actions() >= 0 &&
          recommend.max_actions() <= rec::kMaxActionsPerDecision);
    Check(omnicx::v1::Channel_IsValid(recommend.channel()));
    Check(recommend.intent().size() <= 64);
    Check(recommend.has_customer());
  }

  omnicx::v1::DecideForContextRequest decide;
  if (Parse(data, size, &decide, rec::ValidateDecideForContext, &v)) {
    for (const auto& f : v) {
      Check(absl::StartsWith(f.field, "request.") ||
            absl::StartsWith(f.field, "profile."));
    }
    if (v.empty()) {
      Check(rec::ValidateRecommend(decide.request()).empty());
      Check(decide.request().customer().customer_id() ==
            decide.profile().customer_id());
      Check(decide.profile().consented_purposes_size() <= 64);
    }
  }

  omnicx::v1::RecordOutcomeRequest outcome;
  if (Parse(data, size, &outcome, rec::ValidateOutcome, &v) && v.empty()) {
    Check(!outcome.decision_id().empty() &&
          outcome.decision_id().size() <= 128);
    Check(outcome.has_customer());
  }

  omnicx::v1::UpsertActionRequest upsert;
  if (Parse(data, size, &upsert, rec::ValidateUpsert, &v)) {
    for (const auto& f : v) Check(absl::StartsWith(f.field, "action"));
    if (v.empty()) {
      omnicx::v1::ActionCatalog catalog;
      *catalog.add_actions() = upsert.action();
      Check(rec::ValidateCatalog(catalog, "fuzz").ok());
    }
  }
  return 0;
}
