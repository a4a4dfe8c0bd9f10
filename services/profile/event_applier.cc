#include "services/profile/event_applier.h"

#include "absl/strings/str_cat.h"
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
  omnicx::v1::Interaction event;
  if (!event.ParseFromString(entry.payload)) {
    events_.WithLabels({"failed"}).Increment();
    return absl::DataLossError("stream entry is not an omnicx.v1.Interaction");
  }
  const absl::Time now = clock_();
  absl::StatusOr<Resolution> who =
      store_.ResolveAndMerge(event.customer(), event.identities(), now,
                             absl::StrCat("event:", event.event_id()));
  if (absl::IsFailedPrecondition(who.status())) {
    events_.WithLabels({"erased"}).Increment();
    return absl::OkStatus();  // never resurrect an erased customer
  }
  if (!who.ok()) {
    events_.WithLabels({"failed"}).Increment();
    return who.status();
  }
  for (const std::string& type : who->refused) {
    guard_refusals_.WithLabels({type}).Increment();
  }
  merges_.WithLabels({"merged"})
      .Increment(static_cast<double>(who->merged.size()));
  merges_.WithLabels({"refused"})
      .Increment(static_cast<double>(who->merge_refused.size()));
  std::string customer_id = who->customer_id;
  absl::StatusOr<bool> applied = store_.Apply(customer_id, event, now);
  if (absl::IsAborted(applied.status())) {
    // Merged away between resolving and applying: apply to the survivor.
    absl::StatusOr<std::string> survivor = store_.Canonical(customer_id);
    if (!survivor.ok()) return survivor.status();
    customer_id = *survivor;
    applied = store_.Apply(customer_id, event, now);
  }
  if (!applied.ok()) {
    events_.WithLabels({"failed"}).Increment();
    return applied.status();
  }
  // Published on redelivery too (the journey service deduplicates), so a
  // crash between applying and publishing loses nothing.
  absl::Status published = store_.PublishResolved(customer_id, event);
  if (!published.ok()) {
    events_.WithLabels({"failed"}).Increment();
    return published;
  }
  events_.WithLabels({*applied ? "applied" : "duplicate"}).Increment();
  OMNICX_LOG(kDebug) << "event " << event.event_id() << " customer "
                     << customer_id
                     << (*applied ? " applied" : " already applied");
  return absl::OkStatus();
}

}  // namespace omnicx::profile
