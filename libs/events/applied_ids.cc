#include "libs/events/applied_ids.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "libs/keys/digest.h"

namespace omnicx::events {
namespace {

// Keeps the entries applied at or after cutoff_s, then the newest
// kMaxAppliedIds of them; order preserved.
void Prune(int64_t cutoff_s, AppliedIds* ids) {
  const int n = ids->fingerprints_size();
  int keep = 0;
  for (int i = 0; i < n; ++i) {
    if (i < ids->applied_s_size() && ids->applied_s(i) >= cutoff_s) ++keep;
  }
  int drop_oldest = std::max(0, keep - kMaxAppliedIds);
  int out = 0;
  for (int i = 0; i < n; ++i) {
    if (i >= ids->applied_s_size() || ids->applied_s(i) < cutoff_s) continue;
    if (drop_oldest > 0) {
      --drop_oldest;
      continue;
    }
    ids->set_fingerprints(out, ids->fingerprints(i));
    ids->set_applied_s(out, ids->applied_s(i));
    ++out;
  }
  ids->mutable_fingerprints()->Truncate(out);
  ids->mutable_applied_s()->Truncate(out);
}

}  // namespace

uint64_t EventFingerprint(absl::string_view event_id) {
  return keys::StableHash64(event_id);
}

bool WasApplied(const AppliedIds& ids, uint64_t fingerprint) {
  return std::find(ids.fingerprints().begin(), ids.fingerprints().end(),
                   fingerprint) != ids.fingerprints().end();
}

void RecordApplied(uint64_t fingerprint, absl::Time now, absl::Duration window,
                   AppliedIds* ids) {
  const int64_t now_s = absl::ToUnixSeconds(now);
  ids->add_fingerprints(fingerprint);
  ids->add_applied_s(now_s);
  // Pruning rewrites the record; do it only when something is due.
  const int64_t cutoff_s = absl::ToUnixSeconds(now - window);
  if (ids->fingerprints_size() > kMaxAppliedIds ||
      (ids->applied_s_size() > 0 && ids->applied_s(0) < cutoff_s)) {
    Prune(cutoff_s, ids);
  }
}

void MergeAppliedIds(const AppliedIds& from, AppliedIds* into) {
  absl::flat_hash_set<uint64_t> have(into->fingerprints().begin(),
                                     into->fingerprints().end());
  std::vector<std::pair<int64_t, uint64_t>> all;
  all.reserve(into->fingerprints_size() + from.fingerprints_size());
  for (int i = 0; i < into->fingerprints_size(); ++i) {
    all.emplace_back(i < into->applied_s_size() ? into->applied_s(i) : 0,
                     into->fingerprints(i));
  }
  for (int i = 0; i < from.fingerprints_size(); ++i) {
    if (!have.insert(from.fingerprints(i)).second) continue;
    all.emplace_back(i < from.applied_s_size() ? from.applied_s(i) : 0,
                     from.fingerprints(i));
  }
  // Oldest first, so the cap forgets the oldest.
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.first < b.first;
  });
  if (all.size() > static_cast<size_t>(kMaxAppliedIds)) {
    all.erase(all.begin(), all.end() - kMaxAppliedIds);
  }
  into->clear_fingerprints();
  into->clear_applied_s();
  for (const auto& [at, fp] : all) {
    into->add_fingerprints(fp);
    into->add_applied_s(at);
  }
}

}  // namespace omnicx::events
