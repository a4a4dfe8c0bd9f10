#include "services/profile/event_applier.h"

#include "absl/strings/str_cat.h"
#include "libs/events/stream_records.h"
#include "libs/logging/log.h"
#include "omnicx/v1/common.pb.h"

namespace omnicx::profile {

EventApplier::EventApplier(ProfileStore& store, metrics::Registry& registry,
                           std::function<absl::Time()> clock)
    : store_(store),
      clock_(std::move(clock)),
      events_(registry.Counter("omnicx_profile_events_total",
                               "Events from the log by outcome (applied, "
                               "duplicate, erased, failed).",
                               {"result"})),
      merges_(registry.Counter(
          "omnicx_profile_merges_total",
          "Profile merges caused by events (merged), and merges the "
          "shared-device guard refused (refused).",
          {"result"})),
      guard_refusals_(registry.Counter(
          "omnicx_profile_identity_refusals_total",
          "Identity links refused by the shared-device guard, by type.",
          {"type"})) {}

absl::Status EventApplier::Handle(const streams::StreamEntry& entry) {
  return HandleBatch({entry})[0];
}

std::vector<absl::Status> EventApplier::HandleBatch(
    const std::vector<streams::StreamEntry>& entries) {
  const size_t n = entries.size();
  std::vector<absl::Status> out(n);
  const absl::Time now = clock_();
  int64_t failed = 0, erased = 0, applied = 0, duplicates = 0;
  auto fail = [&](size_t i, absl::Status status) {
    out[i] = std::move(status);
    ++failed;
  };

  // 1. Decode and resolve every event (two round trips for the read).
  std::vector<omnicx::v1::Interaction> events(n);
  std::vector<ProfileStore::ResolveInput> inputs;
  std::vector<size_t> input_entry;
  for (size_t i = 0; i < n; ++i) {
    std::optional<omnicx::v1::Interaction> event =
        omnicx::events::DecodeEventPayload(entries[i].payload,
                                           /*resolved=*/false);
    if (!event.has_value()) {
      fail(i,
           absl::DataLossError("stream entry is not an omnicx.v1.Interaction"));
      continue;
    }
    events[i] = std::move(*event);
    inputs.push_back({&events[i].customer(), &events[i].identities(),
                      absl::StrCat("event:", events[i].event_id()),
                      &events[i].claimed_identities()});
    input_entry.push_back(i);
  }
  std::vector<absl::StatusOr<Resolution>> resolved =
      store_.ResolveBatch(inputs, now);

  // 2. Merges (rare; one at a time), then every apply in one pipeline.
  std::vector<ProfileStore::CustomerEvent> to_apply;
  std::vector<size_t> apply_entry;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const size_t i = input_entry[k];
    absl::StatusOr<Resolution>& who = resolved[k];
    if (who.ok() && !who->conflicts.empty()) {
      who =
          store_.MergeConflicts(std::move(*who), events[i].customer(),
                                events[i].identities(), now, inputs[k].source);
    }
    if (absl::IsFailedPrecondition(who.status())) {
      ++erased;  // never resurrect an erased customer; acknowledged
      continue;
    }
    if (!who.ok()) {
      fail(i, who.status());
      continue;
    }
    for (const std::string& type : who->refused) {
      guard_refusals_.WithLabels({type}).Increment();
    }
    merges_.WithLabels({"merged"})
        .Increment(static_cast<double>(who->merged.size()));
    merges_.WithLabels({"refused"})
        .Increment(static_cast<double>(who->merge_refused.size()));
    to_apply.emplace_back(who->customer_id, &events[i]);
    apply_entry.push_back(i);
  }
  std::vector<absl::StatusOr<bool>> done = store_.ApplyBatch(to_apply, now);

  // 3. Publish what was applied (redeliveries too: the journey service
  // deduplicates, so a crash between applying and publishing loses nothing).
  std::vector<ProfileStore::CustomerEvent> to_publish;
  std::vector<size_t> publish_entry;
  std::vector<bool> was_applied;
  for (size_t k = 0; k < to_apply.size(); ++k) {
    const size_t i = apply_entry[k];
    std::string customer_id = to_apply[k].first;
    absl::StatusOr<bool>& result = done[k];
    if (absl::IsAborted(result.status())) {
      // Merged away between resolving and applying: apply to the survivor.
      absl::StatusOr<std::string> survivor = store_.Canonical(customer_id);
      if (!survivor.ok()) {
        fail(i, survivor.status());
        continue;
      }
      customer_id = *survivor;
      result = store_.Apply(customer_id, events[i], now);
    }
    if (absl::IsFailedPrecondition(result.status())) {
      ++erased;  // erased between resolving and applying; acknowledged
      continue;
    }
    if (!result.ok()) {
      fail(i, result.status());
      continue;
    }
    to_publish.emplace_back(std::move(customer_id), &events[i]);
    publish_entry.push_back(i);
    was_applied.push_back(*result);
  }
  std::vector<absl::Status> published = store_.PublishResolvedBatch(to_publish);
  for (size_t k = 0; k < to_publish.size(); ++k) {
    const size_t i = publish_entry[k];
    if (!published[k].ok()) {
      fail(i, published[k]);
      continue;
    }
    ++(was_applied[k] ? applied : duplicates);
    OMNICX_LOG(kDebug) << "event " << events[i].event_id() << " customer "
                       << to_publish[k].first
                       << (was_applied[k] ? " applied" : " already applied");
  }
  events_.WithLabels({"applied"}).Increment(static_cast<double>(applied));
  events_.WithLabels({"duplicate"}).Increment(static_cast<double>(duplicates));
  events_.WithLabels({"erased"}).Increment(static_cast<double>(erased));
  events_.WithLabels({"failed"}).Increment(static_cast<double>(failed));
  return out;
}

}  // namespace omnicx::profile
