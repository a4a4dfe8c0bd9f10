// ProfileStore: merging two customers (profile_store.h).
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/status/status_macros.h"
#include "services/profile/profile_store.h"
#include "services/profile/profile_store_internal.h"

namespace omnicx::profile {
namespace {

using omnicx::v1::Identity;

}  // namespace

absl::StatusOr<MergeResult> ProfileStore::Merge(absl::string_view a,
                                                absl::string_view b,
                                                absl::Time now,
                                                absl::string_view source) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    OMNICX_ASSIGN_OR_RETURN(std::string ca, Canonical(a));
    OMNICX_ASSIGN_OR_RETURN(std::string cb, Canonical(b));
    if (ca == cb) return MergeResult{ca, ""};
    OMNICX_ASSIGN_OR_RETURN(
        redis::PipelineReplies r,
        redis_.Pipeline({{"HGET", keys_.Profile(ca), "created_ms"},
                         {"HGET", keys_.Profile(cb), "created_ms"},
                         {"SMEMBERS", keys_.Identities(ca)},
                         {"SMEMBERS", keys_.Identities(cb)},
                         {"HMGET", keys_.Profile(ca), "v", "s"},
                         {"HMGET", keys_.Profile(cb), "v", "s"}}));
    for (const auto& one : r) OMNICX_RETURN_IF_ERROR(one.status());
    int64_t created_a = 0, created_b = 0;
    (void)absl::SimpleAtoi(r[0]->str(), &created_a);
    (void)absl::SimpleAtoi(r[1]->str(), &created_b);
    const bool a_survives =
        created_a < created_b || (created_a == created_b && ca < cb);
    const std::string survivor = a_survives ? ca : cb;
    const std::string merged = a_survives ? cb : ca;
    const auto& merged_ids = (a_survives ? r[3] : r[2])->elements();
    const size_t survivor_identities =
        (a_survives ? r[2] : r[3])->elements().size();
    // The survivor's counters take the merged customer's in (merge equals
    // replay), committed only if neither version moved meanwhile.
    OMNICX_ASSIGN_OR_RETURN(CachedProfile survivor_state,
                            ParseState(survivor, *(a_survives ? r[4] : r[5])));
    OMNICX_ASSIGN_OR_RETURN(CachedProfile merged_state,
                            ParseState(merged, *(a_survives ? r[5] : r[4])));
    MergeProfileState(merged_state.state, &survivor_state.state);
    cache_.Drop(survivor);
    cache_.Drop(merged);

    // The shared-device guard holds for merges too.
    std::map<std::string, int> per_type;
    absl::flat_hash_set<std::string> seen;
    for (const auto* side : {&r[2], &r[3]}) {
      for (const auto& m : (*side)->elements()) {
        if (!seen.insert(m.str()).second) continue;
        per_type[m.str().substr(0, m.str().find(':'))]++;
      }
    }
    for (const auto& [type, count] : per_type) {
      auto cap = options_.max_per_type.find(type);
      if (cap != options_.max_per_type.end() && count > cap->second) {
        return absl::FailedPreconditionError(absl::StrCat(
            "merging would give one profile ", count, " identities of type ",
            type, " (shared-device guard: at most ", cap->second, ")"));
      }
    }

    std::vector<std::string> keys;
    for (const std::string& cid : {survivor, merged}) {
      for (const std::string& k :
           {keys_.Profile(cid), keys_.Identities(cid), keys_.Timeline(cid),
            keys_.Traits(cid), keys_.Consents(cid), keys_.ConsentLog(cid),
            keys_.Context(cid), keys_.MergedIds(cid), keys_.Links(cid),
            keys_.MergedInto(cid)}) {
        keys.push_back(k);
      }
    }
    keys.push_back(keys_.MergeLog());
    keys.push_back(keys_.Claims(survivor));
    keys.push_back(keys_.Claims(merged));
    keys.push_back(keys_.ErasedCustomer(survivor));
    keys.push_back(keys_.ErasedCustomer(merged));
    for (const auto& m : merged_ids) {
      const std::string& ident = m.str();
      const size_t colon = ident.find(':');
      Identity id;
      id.set_type(ident.substr(0, colon));
      id.set_value(ident.substr(colon + 1));
      keys.push_back(keys_.IdentityIndex(Digest(id)));
    }
    OMNICX_ASSIGN_OR_RETURN(
        redis::Reply out,
        redis_.Eval(
            merge_script_, keys,
            {survivor, merged, absl::StrCat(absl::ToUnixMillis(now)),
             absl::StrCat(options_.timeline_cap), std::string(source),
             absl::StrCat(survivor_identities), absl::StrCat(merged_ids.size()),
             absl::StrCat(options_.max_unverified_identities),
             absl::StrCat(survivor_state.version),
             absl::StrCat(merged_state.version),
             survivor_state.state.SerializeAsString()}));
    const std::string verdict =
        out.elements().empty() ? "" : out.elements()[0].str();
    if (verdict == "OK") {
      ForgetOwner(merged);
      return MergeResult{survivor, merged};
    }
    if (verdict == "GONE")
      return absl::NotFoundError("customer no longer exists");
    // MOVED: a concurrent merge got there first; follow it and try again.
    // RETRY: an identity was linked, or either profile written, meanwhile;
    // read again.
  }
  return absl::AbortedError("merge kept racing with other writers; retry");
}

}  // namespace omnicx::profile
