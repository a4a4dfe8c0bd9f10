#include "services/profile/profile_decode.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/profile/profile_state.h"

namespace omnicx::profile {

absl::Status DecodeProfileHash(const redis::Reply& hash,
                               absl::string_view customer_id,
                               omnicx::v1::Profile* profile) {
  const auto& fields = hash.elements();
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    if (fields[i].str() != "s") continue;
    ProfileState state;
    if (!state.ParseFromString(fields[i + 1].str())) {
      return absl::DataLossError(
          absl::StrCat("profile state of ", customer_id, " is corrupt"));
    }
    FillProfileCounters(state, profile);
  }
  return absl::OkStatus();
}

void DecodeTraits(const redis::Reply& hash, omnicx::v1::Profile* profile) {
  const auto& traits = hash.elements();
  for (size_t i = 0; i + 1 < traits.size(); i += 2) {
    if (absl::EndsWith(traits[i].str(), ":ms")) continue;
    google::protobuf::Value value;
    if (value.ParseFromString(traits[i + 1].str())) {
      (*profile->mutable_traits()->mutable_fields())[traits[i].str()] = value;
    }
  }
}

void DecodeConsents(const redis::Reply& hash, omnicx::v1::Profile* profile) {
  std::map<std::string, omnicx::v1::Consent> consents;  // sorted by purpose
  const auto& cs = hash.elements();
  for (size_t i = 0; i + 1 < cs.size(); i += 2) {
    if (cs[i].str().find(':') != std::string::npos) continue;
    omnicx::v1::Consent c;
    if (c.ParseFromString(cs[i + 1].str())) consents[cs[i].str()] = c;
  }
  for (auto& [purpose, c] : consents) *profile->add_consents() = std::move(c);
}

void DecodeMergedIds(const redis::Reply& set, omnicx::v1::Profile* profile) {
  std::vector<std::string> merged;
  for (const auto& m : set.elements()) merged.push_back(m.str());
  std::sort(merged.begin(), merged.end());
  for (const std::string& m : merged) profile->add_merged_ids(m);
}

}  // namespace omnicx::profile
