#include "services/profile/profile_store.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "libs/events/sharding.h"
#include "libs/identity/normalize.h"
#include "libs/keys/random_id.h"
#include "libs/status/error_details.h"
#include "libs/status/status_macros.h"
#include "services/profile/lua/apply_events_lua.h"
#include "services/profile/lua/cache_context_lua.h"
#include "services/profile/lua/link_identities_lua.h"
#include "services/profile/lua/merge_customers_lua.h"
#include "services/profile/lua/set_consent_lua.h"
#include "services/profile/lua/set_traits_lua.h"
#include "services/profile/lua/unlink_erased_lua.h"

namespace omnicx::profile {
namespace {

using omnicx::v1::CustomerRef;
using omnicx::v1::Identity;
using omnicx::v1::Interaction;

// How soon to retry an erasure left pending (a service that must forget
// the customer was unreachable).
constexpr absl::Duration kEraseRetryDelay = absl::Seconds(1);

// A write refused because the customer was erased meanwhile (the consumer
// acknowledges the event and counts it as erased).
absl::Status ErasedError() {
  return absl::FailedPreconditionError(
      "the customer was erased; the event is not applied");
}

std::string RandomCustomerId() { return keys::RandomId("c_"); }

int64_t ToMillis(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000 + ts.nanos() / 1000000;
}

google::protobuf::Timestamp FromMillis(int64_t ms) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(ms / 1000);
  ts.set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
  return ts;
}

std::string IdentityString(const Identity& identity) {
  return absl::StrCat(identity.type(), ":", identity.value());
}

}  // namespace

ProfileStore::ProfileStore(redis::Client& redis, const keys::KeyBuilder& keys,
                           ProfileStoreOptions options)
    : redis_(redis),
      keys_(keys),
      options_(std::move(options)),
      directory_(redis, keys, options_.identity_secret),
      link_script_(lua::kLinkIdentitiesLua),
      apply_script_(lua::kApplyEventsLua),
      consent_script_(lua::kSetConsentLua),
      traits_script_(lua::kSetTraitsLua),
      unlink_script_(lua::kUnlinkErasedLua),
      merge_script_(lua::kMergeCustomersLua),
      cache_context_script_(lua::kCacheContextLua),
      cache_(options_.state_cache_entries) {
  if (!options_.new_customer_id) options_.new_customer_id = RandomCustomerId;
}

std::string ProfileStore::Digest(const Identity& identity) const {
  return directory_.Digest(identity);
}

absl::StatusOr<ProfileStore::ResolvePlan> ProfileStore::PlanResolve(
    const CustomerRef& ref,
    const google::protobuf::RepeatedPtrField<Identity>& identities,
    const google::protobuf::RepeatedPtrField<Identity>* claims) const {
  ResolvePlan plan;
  // The identities to link, the reference's own first (the anchor).
  if (ref.has_identity()) plan.all.push_back(ref.identity());
  if (ref.ref_case() == CustomerRef::kAnonymousId) {
    Identity anon;
    anon.set_type("anonymous_id");
    anon.set_value(ref.anonymous_id());
    plan.all.push_back(anon);
  }
  for (const Identity& i : identities) plan.all.push_back(i);
  plan.anchored = ref.ref_case() != CustomerRef::kCustomerId;
  if (!plan.anchored && ref.customer_id().empty()) {
    return absl::InvalidArgumentError("event has no customer reference");
  }
  for (const Identity& i : plan.all) {
    const std::string digest = Digest(i);
    plan.owner_keys.push_back(keys_.IdentityIndex(digest));
    plan.reads.push_back({"GET", plan.owner_keys.back()});
    plan.reads.push_back({"EXISTS", keys_.ErasedIdentity(digest)});
  }
  if (claims != nullptr) {
    for (const Identity& c : *claims) {
      plan.reads.push_back({"EXISTS", keys_.ErasedIdentity(Digest(c))});
    }
    plan.claims = claims->size();
  }
  if (!plan.anchored) {
    plan.reads.push_back({"EXISTS", keys_.Profile(ref.customer_id())});
    plan.reads.push_back({"EXISTS", keys_.ErasedCustomer(ref.customer_id())});
  }
  return plan;
}

absl::StatusOr<Resolution> ProfileStore::ChooseCustomer(
    const ResolvePlan& plan, const CustomerRef& ref,
    const redis::PipelineReplies& replies, size_t read,
    const std::map<std::string, std::string>* assigned) const {
  for (size_t k = read; k < read + plan.reads.size(); ++k) {
    OMNICX_RETURN_IF_ERROR(replies[k].status());
  }
  auto reply = [&](size_t k) -> const redis::Reply& {
    return *replies[read + k];
  };
  // Any erased identity drops the event, not only the anchor's: a late
  // event from a new device that names an erased email must not link it
  // to a new customer (docs/guarantees.md).
  for (size_t i = 0; i < plan.all.size(); ++i) {
    if (reply(2 * i + 1).integer() == 1) {
      return absl::FailedPreconditionError(
          "an identity of the event was erased; the event is not applied");
    }
  }
  // Nor may a claim store an erased identity again, even unverified.
  for (size_t c = 0; c < plan.claims; ++c) {
    if (reply(2 * plan.all.size() + c).integer() == 1) {
      return absl::FailedPreconditionError(
          "an identity the event claims was erased; the event is not applied");
    }
  }
  Resolution out;
  if (!plan.anchored) {
    if (reply(plan.reads.size() - 1).integer() == 1) {
      return ErasedError();
    }
    out.customer_id = ref.customer_id();
    out.created = reply(plan.reads.size() - 2).integer() == 0;
    return out;
  }
  for (size_t i = 0; i < plan.all.size() && out.customer_id.empty(); ++i) {
    if (!reply(2 * i).is_nil()) {
      out.customer_id = reply(2 * i).str();
    } else if (assigned != nullptr) {
      auto it = assigned->find(plan.owner_keys[i]);
      if (it != assigned->end()) out.customer_id = it->second;
    }
  }
  if (out.customer_id.empty()) {
    out.customer_id = options_.new_customer_id();
    out.created = true;
  }
  return out;
}

redis::Command ProfileStore::LinkCommand(const ResolvePlan& plan,
                                         const Resolution& out, absl::Time now,
                                         absl::string_view source,
                                         bool check_anchor) const {
  std::vector<std::string> keys = {
      keys_.Identities(out.customer_id), keys_.Profile(out.customer_id),
      keys_.MergedInto(out.customer_id), keys_.Links(out.customer_id)};
  keys.insert(keys.end(), plan.owner_keys.begin(), plan.owner_keys.end());
  keys.push_back(keys_.ErasedCustomer(out.customer_id));
  std::vector<std::string> args = {
      out.customer_id, absl::StrCat(absl::ToUnixMillis(now)),
      check_anchor ? "1" : "0", std::string(source)};
  for (const Identity& i : plan.all) {
    args.push_back(IdentityString(i));
    auto cap = options_.max_per_type.find(i.type());
    args.push_back(
        absl::StrCat(cap == options_.max_per_type.end() ? 0 : cap->second));
  }
  return redis::EvalShaCommand(link_script_, keys, args);
}

absl::StatusOr<bool> ProfileStore::ReadLinkReply(const ResolvePlan& plan,
                                                 const redis::Reply& reply,
                                                 Resolution& out,
                                                 std::string& moved_to) {
  const auto& results = reply.elements();
  if (!results.empty() && results[0].str() == "ERASED") {
    return ErasedError();
  }
  if (!results.empty() && results[0].str() == "RETRY") {
    moved_to.clear();
    return false;
  }
  if (!results.empty() && results[0].str() == "MOVED") {
    moved_to = results[1].str();  // merged away: resolve to the survivor
    return false;
  }
  for (size_t i = 0; i < results.size() && i < plan.all.size(); ++i) {
    const std::string& r = results[i].str();
    if (r == "refused") out.refused.push_back(plan.all[i].type());
    if (absl::StartsWith(r, "conflict:")) {
      const std::string other = r.substr(9);
      if (std::find(out.conflicts.begin(), out.conflicts.end(), other) ==
          out.conflicts.end()) {
        out.conflicts.push_back(other);
      }
    }
  }
  return true;
}

absl::StatusOr<Resolution> ProfileStore::Resolve(
    const CustomerRef& ref,
    const google::protobuf::RepeatedPtrField<Identity>& identities,
    absl::Time now, absl::string_view source,
    const google::protobuf::RepeatedPtrField<Identity>* claims) {
  OMNICX_ASSIGN_OR_RETURN(ResolvePlan plan,
                          PlanResolve(ref, identities, claims));
  std::string forced;  // set when the chosen customer was merged away
  for (int attempt = 0; attempt < 8; ++attempt) {
    OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies read,
                            redis_.Pipeline(plan.reads));
    OMNICX_ASSIGN_OR_RETURN(Resolution out,
                            ChooseCustomer(plan, ref, read, 0, nullptr));
    if (!forced.empty()) {
      out.customer_id = forced;
      out.created = false;
    }
    redis::Command link =
        LinkCommand(plan, out, now, source, plan.anchored && forced.empty());
    OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies linked,
                            redis_.PipelineScripts({link}, {&link_script_}));
    OMNICX_RETURN_IF_ERROR(linked[0].status());
    OMNICX_ASSIGN_OR_RETURN(bool done,
                            ReadLinkReply(plan, *linked[0], out, forced));
    if (done) return out;
  }
  return absl::AbortedError("identity resolution kept racing; retry");
}

std::vector<absl::StatusOr<Resolution>> ProfileStore::ResolveBatch(
    const std::vector<ResolveInput>& inputs, absl::Time now) {
  std::vector<absl::StatusOr<Resolution>> out(
      inputs.size(), absl::InternalError("not resolved"));
  std::vector<std::optional<ResolvePlan>> plans(inputs.size());
  std::vector<size_t> first_read(inputs.size());
  std::vector<redis::Command> reads;
  for (size_t i = 0; i < inputs.size(); ++i) {
    absl::StatusOr<ResolvePlan> plan =
        PlanResolve(*inputs[i].ref, *inputs[i].identities, inputs[i].claims);
    if (!plan.ok()) {
      out[i] = plan.status();
      continue;
    }
    first_read[i] = reads.size();
    reads.insert(reads.end(), plan->reads.begin(), plan->reads.end());
    plans[i] = std::move(*plan);
  }
  absl::StatusOr<redis::PipelineReplies> read = redis_.Pipeline(reads);
  if (!read.ok()) {
    for (auto& o : out) o = read.status();
    return out;
  }

  // Customers created in this batch, by anchor identity, so that later
  // events of the batch naming that identity join the same customer.
  std::map<std::string, std::string> assigned;
  std::vector<redis::Command> links;
  std::vector<size_t> linked_input;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!plans[i].has_value()) continue;
    const ResolvePlan& plan = *plans[i];
    out[i] =
        ChooseCustomer(plan, *inputs[i].ref, *read, first_read[i], &assigned);
    if (!out[i].ok()) continue;
    // A new customer's anchor is always linked (it is the first identity
    // of an empty profile), so later events naming it can join.
    if (out[i]->created && plan.anchored && !plan.all.empty()) {
      assigned.emplace(plan.owner_keys[0], out[i]->customer_id);
    }
    // A returning customer whose every identity the index already gives to
    // them (most events): nothing to link. A merge meanwhile is still caught,
    // by the apply script's redirect check.
    bool all_owned = !out[i]->created;
    for (size_t k = 0; all_owned && k < plan.all.size(); ++k) {
      const redis::Reply& owner = *(*read)[first_read[i] + 2 * k];
      all_owned = !owner.is_nil() && owner.str() == out[i]->customer_id;
    }
    if (all_owned) continue;
    links.push_back(
        LinkCommand(plan, *out[i], now, inputs[i].source, plan.anchored));
    linked_input.push_back(i);
  }
  absl::StatusOr<redis::PipelineReplies> linked =
      redis_.PipelineScripts(links, {&link_script_});
  for (size_t k = 0; k < linked_input.size(); ++k) {
    const size_t i = linked_input[k];
    if (!linked.ok()) {
      out[i] = linked.status();
      continue;
    }
    if (!(*linked)[k].ok()) {
      out[i] = (*linked)[k].status();
      continue;
    }
    std::string moved_to;
    absl::StatusOr<bool> done =
        ReadLinkReply(*plans[i], *(*linked)[k], *out[i], moved_to);
    if (!done.ok()) {
      out[i] = done.status();
    } else if (!*done) {
      // Raced with another writer: resolve this one alone.
      out[i] = Resolve(*inputs[i].ref, *inputs[i].identities, now,
                       inputs[i].source, inputs[i].claims);
    }
  }
  return out;
}

absl::StatusOr<Resolution> ProfileStore::ResolveAndMerge(
    const CustomerRef& ref,
    const google::protobuf::RepeatedPtrField<Identity>& identities,
    absl::Time now, absl::string_view source) {
  OMNICX_ASSIGN_OR_RETURN(Resolution out,
                          Resolve(ref, identities, now, source));
  return MergeConflicts(std::move(out), ref, identities, now, source);
}

absl::StatusOr<Resolution> ProfileStore::MergeConflicts(
    Resolution out, const CustomerRef& ref,
    const google::protobuf::RepeatedPtrField<Identity>& identities,
    absl::Time now, absl::string_view source) {
  for (const std::string& other : out.conflicts) {
    absl::StatusOr<MergeResult> m = Merge(out.customer_id, other, now, source);
    if (absl::IsFailedPrecondition(m.status())) {
      out.merge_refused.push_back(other);
      continue;
    }
    if (absl::IsNotFound(m.status())) continue;  // erased meanwhile
    if (!m.ok()) return m.status();
    if (!m->merged_id.empty()) out.merged.push_back(m->merged_id);
    out.customer_id = m->survivor_id;
  }
  if (!out.merged.empty()) {
    // Identities refused only because their owner existed are now the
    // survivor's; link whatever is still unowned.
    OMNICX_ASSIGN_OR_RETURN(Resolution again,
                            Resolve(ref, identities, now, source));
    out.customer_id = again.customer_id;
    out.refused = again.refused;
  }
  return out;
}

absl::StatusOr<std::string> ProfileStore::Canonical(
    absl::string_view customer_id) {
  return directory_.Canonical(customer_id);
}

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
    if (verdict == "OK") return MergeResult{survivor, merged};
    if (verdict == "GONE")
      return absl::NotFoundError("customer no longer exists");
    // MOVED: a concurrent merge got there first; follow it and try again.
    // RETRY: an identity was linked, or either profile written, meanwhile;
    // read again.
  }
  return absl::AbortedError("merge kept racing with other writers; retry");
}

redis::Command ProfileStore::PublishCommand(absl::string_view customer_id,
                                            const Interaction& event) const {
  Interaction resolved = event;
  resolved.set_resolved_customer_id(std::string(customer_id));
  CustomerRef ref;
  ref.set_customer_id(std::string(customer_id));
  const int shard = events::ShardFor(ref, options_.stream_shards);
  return {"XADD", keys_.ResolvedShard(shard), "*", "e",
          resolved.SerializeAsString()};
}

std::vector<absl::Status> ProfileStore::PublishResolvedBatch(
    const std::vector<CustomerEvent>& items) {
  std::vector<absl::Status> out(items.size());
  if (items.empty()) return out;
  std::vector<redis::Command> commands;
  for (const auto& [customer_id, event] : items) {
    commands.push_back(PublishCommand(customer_id, *event));
  }
  absl::StatusOr<redis::PipelineReplies> replies = redis_.Pipeline(commands);
  for (size_t i = 0; i < items.size(); ++i) {
    out[i] = replies.ok() ? (*replies)[i].status() : replies.status();
  }
  return out;
}

absl::StatusOr<ProfileStore::CachedProfile> ProfileStore::ParseState(
    absl::string_view customer_id, const redis::Reply& reply) {
  CachedProfile out;
  const auto& fields = reply.elements();
  if (fields.size() < 2) return out;
  if ((!fields[0].is_nil() &&
       !absl::SimpleAtoi(fields[0].str(), &out.version)) ||
      (!fields[1].is_nil() && !out.state.ParseFromString(fields[1].str()))) {
    return absl::DataLossError(
        absl::StrCat("profile state of ", customer_id, " is corrupt"));
  }
  return out;
}

std::vector<absl::StatusOr<bool>> ProfileStore::ApplyBatch(
    const std::vector<CustomerEvent>& items, absl::Time now) {
  std::vector<absl::StatusOr<bool>> out(
      items.size(), absl::AbortedError("profile kept changing; retry"));
  // customer id -> indexes of its events, in arrival order.
  std::map<std::string, std::vector<size_t>> pending;
  for (size_t i = 0; i < items.size(); ++i) {
    pending[items[i].first].push_back(i);
  }
  for (int attempt = 0; attempt < 16 && !pending.empty(); ++attempt) {
    // Every customer's counters: from the cache, else one pipeline.
    std::map<std::string, CachedProfile> read;
    std::vector<redis::Command> reads;
    std::vector<std::string> to_read;
    for (const auto& [cid, idx] : pending) {
      if (std::optional<CachedProfile> cached = cache_.Take(cid)) {
        read[cid] = std::move(*cached);
      } else {
        reads.push_back({"HMGET", keys_.Profile(cid), "v", "s"});
        to_read.push_back(cid);
      }
    }
    if (!reads.empty()) {
      absl::StatusOr<redis::PipelineReplies> r = redis_.Pipeline(reads);
      for (size_t k = 0; k < to_read.size(); ++k) {
        absl::StatusOr<CachedProfile> parsed =
            !r.ok()         ? absl::StatusOr<CachedProfile>(r.status())
            : !(*r)[k].ok() ? absl::StatusOr<CachedProfile>((*r)[k].status())
                            : ParseState(to_read[k], *(*r)[k]);
        if (!parsed.ok()) {
          for (size_t i : pending[to_read[k]]) out[i] = parsed.status();
          pending.erase(to_read[k]);
          continue;
        }
        read[to_read[k]] = std::move(*parsed);
      }
    }
    // Each customer's new counters, timeline entries and claims; one
    // pipeline commits them all.
    std::vector<redis::Command> commands;
    std::vector<std::string> committing;
    std::map<std::string, std::vector<bool>> applied_by;
    for (const auto& [cid, idx] : pending) {
      CachedProfile& current = read[cid];
      const bool first = current.state.event_count() == 0;
      std::vector<bool>& applied = applied_by[cid];
      std::vector<std::string> timeline, claims;
      for (size_t i : idx) {
        const Interaction& event = *items[i].second;
        applied.push_back(ApplyToProfile(event, now, options_.applied_window,
                                         &current.state));
        if (!applied.back()) continue;
        // The owner is the key: readers set resolved_customer_id back.
        Interaction stored = event;
        stored.clear_resolved_customer_id();
        const std::string at = absl::StrCat(ToMillis(event.occurred_at()));
        timeline.push_back(at);
        timeline.push_back(stored.SerializeAsString());
        for (const Identity& claim : event.claimed_identities()) {
          claims.push_back(at);
          claims.push_back(IdentityString(claim));
        }
      }
      if (timeline.empty()) {  // all applied before: nothing to write
        for (size_t i : idx) out[i] = false;
        cache_.Put(cid, std::move(current));
        continue;
      }
      std::vector<std::string> args = {
          absl::StrCat(current.version),
          current.state.SerializeAsString(),
          first ? absl::StrCat(absl::ToUnixMillis(now)) : "",
          current.state.event_count() > options_.timeline_cap
              ? absl::StrCat(options_.timeline_cap)
              : "",
          absl::StrCat(options_.max_unverified_identities),
          absl::StrCat(timeline.size() / 2)};
      args.insert(args.end(), timeline.begin(), timeline.end());
      args.insert(args.end(), claims.begin(), claims.end());
      commands.push_back(redis::EvalShaCommand(
          apply_script_,
          {keys_.Profile(cid), keys_.Timeline(cid), keys_.MergedInto(cid),
           keys_.ErasedCustomer(cid), keys_.Claims(cid)},
          args));
      committing.push_back(cid);
    }
    std::map<std::string, std::vector<size_t>> again;
    if (!commands.empty()) {
      absl::StatusOr<redis::PipelineReplies> r =
          redis_.PipelineScripts(commands, {&apply_script_});
      for (size_t k = 0; k < committing.size(); ++k) {
        const std::string& cid = committing[k];
        const std::vector<size_t>& idx = pending[cid];
        const absl::Status error = !r.ok() ? r.status() : (*r)[k].status();
        const auto& reply =
            error.ok() ? (*r)[k]->elements() : std::vector<redis::Reply>();
        const std::string verdict = reply.empty() ? "" : reply[0].str();
        if (verdict == "OK") {
          for (size_t j = 0; j < idx.size(); ++j) {
            out[idx[j]] = static_cast<bool>(applied_by[cid][j]);
          }
          read[cid].version += 1;
          cache_.Put(cid, std::move(read[cid]));
          continue;
        }
        cache_.Drop(cid);
        if (!error.ok()) {
          for (size_t i : idx) out[i] = error;
        } else if (verdict == "ERASED") {
          for (size_t i : idx) out[i] = ErasedError();
        } else if (verdict == "MOVED") {
          for (size_t i : idx) {
            out[i] = absl::AbortedError(
                "customer was merged meanwhile; resolve again");
          }
        } else {
          again[cid] = idx;  // RETRY: read again
        }
      }
    }
    pending = std::move(again);
  }
  return out;
}

absl::StatusOr<bool> ProfileStore::Apply(absl::string_view customer_id,
                                         const Interaction& event,
                                         absl::Time now) {
  return std::move(ApplyBatch({{std::string(customer_id), &event}}, now)[0]);
}

absl::StatusOr<std::string> ProfileStore::WriteCustomer(
    redis::Script& script, absl::string_view customer_id,
    const std::function<std::vector<std::string>(const std::string&)>& keys,
    const std::vector<std::string>& args) {
  std::string cid(customer_id);
  for (int hop = 0; hop < 16; ++hop) {
    OMNICX_ASSIGN_OR_RETURN(redis::Reply r,
                            redis_.Eval(script, keys(cid), args));
    const auto& verdict = r.elements();
    if (verdict.empty()) break;
    if (verdict[0].str() == "OK") return cid;
    if (verdict[0].str() == "GONE") {
      return absl::NotFoundError("no such customer");
    }
    if (verdict[0].str() != "MOVED" || verdict.size() < 2) break;
    cid = verdict[1].str();
  }
  return absl::InternalError("merge redirects form a chain too long to follow");
}

absl::StatusOr<std::string> ProfileStore::UpdateTraits(
    absl::string_view customer_id, const google::protobuf::Struct& traits,
    bool replace, absl::Time now) {
  std::vector<std::string> args = {replace ? "1" : "0"};
  const std::string ms = absl::StrCat(absl::ToUnixMillis(now));
  for (const auto& [name, value] : traits.fields()) {
    args.push_back(name);
    args.push_back(value.SerializeAsString());
    args.push_back(absl::StrCat(name, ":ms"));
    args.push_back(ms);
  }
  return WriteCustomer(
      traits_script_, customer_id,
      [this](const std::string& cid) {
        return std::vector<std::string>{keys_.Traits(cid), keys_.Profile(cid),
                                        keys_.MergedInto(cid),
                                        keys_.ErasedCustomer(cid)};
      },
      args);
}

absl::StatusOr<std::string> ProfileStore::SetConsent(
    absl::string_view customer_id, const omnicx::v1::Consent& consent) {
  return WriteCustomer(
      consent_script_, customer_id,
      [this](const std::string& cid) {
        return std::vector<std::string>{
            keys_.Consents(cid), keys_.ConsentLog(cid), keys_.Profile(cid),
            keys_.MergedInto(cid), keys_.ErasedCustomer(cid)};
      },
      {consent.purpose(), absl::StrCat(ToMillis(consent.updated_at())),
       consent.SerializeAsString(), consent.granted() ? "1" : "0"});
}

absl::StatusOr<std::vector<omnicx::v1::Consent>> ProfileStore::ConsentHistory(
    absl::string_view customer_id) {
  OMNICX_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_.Command({"LRANGE", keys_.ConsentLog(customer_id), "0", "-1"}));
  std::vector<omnicx::v1::Consent> out;
  for (const auto& e : r.elements()) {
    omnicx::v1::Consent c;
    if (c.ParseFromString(e.str())) out.push_back(std::move(c));
  }
  return out;
}

std::vector<redis::Command> ProfileStore::ContextReads(
    absl::string_view customer_id, absl::string_view signature) const {
  // cache_context.lua builds the version from the same fields.
  return {{"HMGET", keys_.Context(customer_id), "v", std::string(signature)},
          {"HGET", keys_.Profile(customer_id), "v"},
          {"HGET", keys_.Journey(customer_id), "v"}};
}

absl::StatusOr<ProfileStore::ContextRead> ProfileStore::ParseContextRead(
    const redis::PipelineReplies& replies, size_t first) {
  if (replies.size() < first + kContextReads) {
    return absl::InternalError("context reads are missing replies");
  }
  for (size_t i = first; i < first + kContextReads; ++i) {
    OMNICX_RETURN_IF_ERROR(replies[i].status());
  }
  const redis::Reply& cached = *replies[first];
  const redis::Reply& profile = *replies[first + 1];
  const redis::Reply& journey = *replies[first + 2];
  if (cached.elements().size() != 2) {
    return absl::InternalError("context reads have unexpected replies");
  }
  auto part = [](const redis::Reply& r) {
    return r.is_nil() ? std::string("0") : r.str();
  };
  ContextRead out;
  out.version = absl::StrCat(part(profile), ".", part(journey));
  const redis::Reply& cached_version = cached.elements()[0];
  const redis::Reply& context = cached.elements()[1];
  if (!cached_version.is_nil() && cached_version.str() == out.version &&
      !context.is_nil()) {
    out.cached = context.str();
  }
  return out;
}

absl::StatusOr<ProfileStore::ContextRead> ProfileStore::ReadContext(
    absl::string_view customer_id, absl::string_view signature) {
  OMNICX_ASSIGN_OR_RETURN(
      redis::PipelineReplies r,
      redis_.Pipeline(ContextReads(customer_id, signature)));
  return ParseContextRead(r, 0);
}

absl::StatusOr<bool> ProfileStore::CacheContext(absl::string_view customer_id,
                                                absl::string_view signature,
                                                absl::string_view version,
                                                const std::string& serialized,
                                                absl::Duration ttl) {
  if (ttl <= absl::ZeroDuration()) return false;
  OMNICX_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_.Eval(
          cache_context_script_,
          {keys_.Profile(customer_id), keys_.Context(customer_id),
           keys_.ErasedCustomer(customer_id), keys_.Journey(customer_id)},
          {std::string(signature), serialized,
           absl::StrCat(absl::ToInt64Milliseconds(ttl)),
           std::string(version)}));
  return r.integer() == 1;
}

absl::StatusOr<std::vector<Interaction>> ProfileStore::FullTimeline(
    absl::string_view customer_id) {
  OMNICX_ASSIGN_OR_RETURN(
      redis::Reply items,
      redis_.Command({"ZREVRANGE", keys_.Timeline(customer_id), "0", "-1"}));
  std::vector<Interaction> out;
  for (const auto& item : items.elements()) {
    Interaction e;
    if (!e.ParseFromString(item.str())) continue;
    e.set_resolved_customer_id(std::string(customer_id));
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<EraseResult> ProfileStore::Erase(
    absl::string_view customer_id,
    const std::function<absl::Status(const std::vector<std::string>& ids)>&
        fenced) {
  OMNICX_ASSIGN_OR_RETURN(omnicx::v1::Profile profile, GetProfile(customer_id));
  EraseResult result;

  // The fence first: a tombstone per id, so no write recreates what follows
  // deletes.
  std::vector<std::string> fenced_ids = {std::string(customer_id)};
  fenced_ids.insert(fenced_ids.end(), profile.merged_ids().begin(),
                    profile.merged_ids().end());
  std::vector<redis::Command> fence;
  for (const std::string& id : fenced_ids) {
    fence.push_back(
        {"SET", keys_.ErasedCustomer(id), "1", "EX",
         absl::StrCat(absl::ToInt64Seconds(options_.tombstone_ttl))});
  }
  OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies set, redis_.Pipeline(fence));
  for (const auto& one : set) OMNICX_RETURN_IF_ERROR(one.status());
  if (fenced) {
    // Nothing is deleted yet, so the customer is found again by the same
    // reference and a retry completes the erasure.
    const absl::Status forgotten = fenced(fenced_ids);
    if (!forgotten.ok()) {
      return status::WithRetryDelay(
          absl::UnavailableError(absl::StrCat(
              "erasure pending: the customer is fenced but not erased yet (",
              forgotten.message(), "); retry EraseCustomer to complete it")),
          kEraseRetryDelay);
    }
  }

  // Their identities, by digest: what names them in events.
  absl::flat_hash_set<std::string> digests;
  std::vector<std::string> keys;
  std::vector<std::string> tombstones;
  for (const Identity& id : profile.identities()) {
    const std::string digest = Digest(id);
    digests.insert(digest);
    keys.push_back(keys_.IdentityIndex(digest));
    tombstones.push_back(keys_.ErasedIdentity(digest));
  }
  // The customer's own id and the ids merged into them: keys and records
  // under any of them reference this person.
  const absl::flat_hash_set<std::string> ids(fenced_ids.begin(),
                                             fenced_ids.end());
  auto names_customer = [&](const Interaction& e) {
    if (!e.customer().customer_id().empty() &&
        ids.contains(e.customer().customer_id())) {
      return true;
    }
    if (ids.contains(e.resolved_customer_id())) return true;
    std::vector<Identity> refs(e.identities().begin(), e.identities().end());
    // A claim of one of their identities holds it in clear too.
    refs.insert(refs.end(), e.claimed_identities().begin(),
                e.claimed_identities().end());
    if (e.customer().has_identity()) refs.push_back(e.customer().identity());
    if (e.customer().ref_case() == CustomerRef::kAnonymousId) {
      Identity anon;
      anon.set_type("anonymous_id");
      anon.set_value(e.customer().anonymous_id());
      refs.push_back(anon);
    }
    for (const Identity& id : refs) {
      if (digests.contains(Digest(id))) return true;
    }
    return false;
  };
  // A stream entry names them when its event does, or (merge log) when
  // either side of the merge is one of their ids.
  auto entry_names_customer = [&](const redis::Reply& fields) {
    const auto& f = fields.elements();
    for (size_t i = 0; i + 1 < f.size(); i += 2) {
      const std::string& name = f[i].str();
      if ((name == "survivor" || name == "merged") &&
          ids.contains(f[i + 1].str())) {
        return true;
      }
      Interaction e;
      if (name == "e" && e.ParseFromString(f[i + 1].str()) &&
          names_customer(e)) {
        return true;
      }
    }
    return false;
  };

  // Stream entries that name them: every event shard, the resolved-event
  // shards, the merge log and the dead letters.
  std::vector<std::string> streams;
  for (int shard = 0; shard < options_.stream_shards; ++shard) {
    streams.push_back(keys_.EventShard(shard));
    streams.push_back(keys_.ResolvedShard(shard));
  }
  streams.push_back(keys_.MergeLog());
  streams.push_back(keys_.DeadLetter("profile"));
  streams.push_back(keys_.DeadLetter("journey"));
  streams.push_back(keys_.DeadLetter("recommendation"));
  for (const std::string& stream : streams) {
    std::string from = "-";
    for (;;) {
      OMNICX_ASSIGN_OR_RETURN(
          redis::Reply page,
          redis_.Command({"XRANGE", stream, from, "+", "COUNT", "1000"}));
      if (page.elements().empty()) break;
      redis::Command xdel = {"XDEL", stream};
      for (const redis::Reply& entry : page.elements()) {
        if (entry_names_customer(entry.elements()[1])) {
          xdel.push_back(entry.elements()[0].str());
        }
      }
      if (xdel.size() > 2) {
        OMNICX_ASSIGN_OR_RETURN(redis::Reply n, redis_.Command(xdel));
        result.stream_entries_deleted += n.integer();
      }
      if (page.elements().size() < 1000) break;
      from = "(" + page.elements().back().elements()[0].str();
    }
  }

  // What finds the customer again on a retry (the profile, their
  // identities and merged ids, the redirects of the merged ids) is kept
  // until the last step; so is the cached context, which the last step
  // deletes with them.
  const std::vector<std::string> kept_keys = [&] {
    std::vector<std::string> kept = {
        keys_.Profile(customer_id), keys_.Identities(customer_id),
        keys_.MergedIds(customer_id), keys_.Context(customer_id)};
    for (const std::string& m : profile.merged_ids()) {
      kept.push_back(keys_.MergedInto(m));
    }
    return kept;
  }();
  const absl::flat_hash_set<std::string> kept(kept_keys.begin(),
                                              kept_keys.end());

  // Every other key of the customer and of the ids merged into them,
  // whichever service wrote it.
  for (const std::string& id : ids) {
    std::string cursor = "0";
    do {
      OMNICX_ASSIGN_OR_RETURN(
          redis::Reply scan,
          redis_.Command({"SCAN", cursor, "MATCH", keys_.CustomerKeyPattern(id),
                          "COUNT", "1000"}));
      cursor = scan.elements()[0].str();
      redis::Command del = {"UNLINK"};
      for (const auto& k : scan.elements()[1].elements()) {
        if (!kept.contains(k.str())) del.push_back(k.str());
      }
      if (del.size() > 1) {
        OMNICX_ASSIGN_OR_RETURN(redis::Reply n, redis_.Command(del));
        result.keys_deleted += n.integer();
      }
    } while (cursor != "0");
  }

  // Last, in one script: the identity index entries (with tombstones so
  // late events cannot resurrect the customer) and the kept keys.
  std::vector<std::string> all = keys;
  all.insert(all.end(), tombstones.begin(), tombstones.end());
  all.insert(all.end(), kept_keys.begin(), kept_keys.end());
  OMNICX_ASSIGN_OR_RETURN(
      redis::Reply n,
      redis_.Eval(unlink_script_, all,
                  {std::string(customer_id),
                   absl::StrCat(absl::ToInt64Seconds(options_.tombstone_ttl)),
                   absl::StrCat(keys.size())}));
  result.keys_deleted += n.integer();
  return result;
}

absl::StatusOr<bool> ProfileStore::WasErased(const CustomerRef& ref) {
  std::string key;
  if (ref.ref_case() == CustomerRef::kCustomerId) {
    key = keys_.ErasedCustomer(ref.customer_id());
  } else {
    Identity id;
    if (ref.ref_case() == CustomerRef::kAnonymousId) {
      id.set_type("anonymous_id");
      id.set_value(ref.anonymous_id());
    } else if (ref.ref_case() == CustomerRef::kIdentity) {
      id = ref.identity();
    } else {
      return false;
    }
    absl::StatusOr<std::string> value =
        identity::NormalizeIdentity(id.type(), id.value());
    if (!value.ok()) return false;
    id.set_value(*value);
    key = keys_.ErasedIdentity(Digest(id));
  }
  OMNICX_ASSIGN_OR_RETURN(redis::Reply r, redis_.Command({"EXISTS", key}));
  return r.integer() == 1;
}

std::vector<redis::Command> ProfileStore::ProfileReads(
    absl::string_view customer_id) const {
  return {{"HGETALL", keys_.Profile(customer_id)},
          {"SMEMBERS", keys_.Identities(customer_id)},
          {"HGETALL", keys_.Traits(customer_id)},
          {"HGETALL", keys_.Consents(customer_id)},
          {"SMEMBERS", keys_.MergedIds(customer_id)},
          {"LRANGE", keys_.Links(customer_id), "0", "-1"},
          {"ZREVRANGE", keys_.Claims(customer_id), "0", "-1"}};
}

absl::StatusOr<omnicx::v1::Profile> ProfileStore::GetProfile(
    absl::string_view customer_id) {
  OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies r,
                          redis_.Pipeline(ProfileReads(customer_id)));
  return ParseProfile(customer_id, r, 0);
}

absl::StatusOr<omnicx::v1::Profile> ProfileStore::ParseProfile(
    absl::string_view customer_id, const redis::PipelineReplies& replies,
    size_t first) const {
  if (replies.size() < first + kProfileReads) {
    return absl::InternalError("profile reads are missing replies");
  }
  std::vector<const redis::Reply*> r;
  for (size_t i = first; i < first + kProfileReads; ++i) {
    OMNICX_RETURN_IF_ERROR(replies[i].status());
    r.push_back(&*replies[i]);
  }
  if (r[0]->elements().empty()) {
    return absl::NotFoundError("no such customer");
  }
  omnicx::v1::Profile profile;
  profile.set_customer_id(std::string(customer_id));
  const auto& fields = r[0]->elements();
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    if (fields[i].str() != "s") continue;
    ProfileState state;
    if (!state.ParseFromString(fields[i + 1].str())) {
      return absl::DataLossError(
          absl::StrCat("profile state of ", customer_id, " is corrupt"));
    }
    FillProfileCounters(state, &profile);
  }
  const auto& traits = r[2]->elements();
  for (size_t i = 0; i + 1 < traits.size(); i += 2) {
    if (absl::EndsWith(traits[i].str(), ":ms")) continue;
    google::protobuf::Value value;
    if (value.ParseFromString(traits[i + 1].str())) {
      (*profile.mutable_traits()->mutable_fields())[traits[i].str()] = value;
    }
  }
  std::map<std::string, omnicx::v1::Consent> consents;  // sorted by purpose
  const auto& cs = r[3]->elements();
  for (size_t i = 0; i + 1 < cs.size(); i += 2) {
    if (cs[i].str().find(':') != std::string::npos) continue;
    omnicx::v1::Consent c;
    if (c.ParseFromString(cs[i + 1].str())) consents[cs[i].str()] = c;
  }
  for (auto& [purpose, c] : consents) *profile.add_consents() = std::move(c);
  std::vector<std::string> merged;
  for (const auto& m : r[4]->elements()) merged.push_back(m.str());
  std::sort(merged.begin(), merged.end());
  for (const std::string& m : merged) profile.add_merged_ids(m);
  // Link records: "link" 0x1F type:value 0x1F source 0x1F ms (merges are
  // recorded too; they carry no identity).
  for (const auto& l : r[5]->elements()) {
    std::vector<std::string> f = absl::StrSplit(l.str(), '\x1f');
    if (f.size() != 4 || f[0] != "link") continue;
    omnicx::v1::IdentityLink* link = profile.add_links();
    const size_t colon = f[1].find(':');
    link->mutable_identity()->set_type(f[1].substr(0, colon));
    link->mutable_identity()->set_value(f[1].substr(colon + 1));
    link->set_source(f[2]);
    int64_t ms = 0;
    if (absl::SimpleAtoi(f[3], &ms))
      *link->mutable_linked_at() = FromMillis(ms);
  }
  std::vector<std::string> ids;
  for (const auto& m : r[1]->elements()) ids.push_back(m.str());
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) {
    const size_t colon = id.find(':');
    Identity* out = profile.add_identities();
    out->set_type(id.substr(0, colon));
    out->set_value(id.substr(colon + 1));
  }
  for (const auto& m : r[6]->elements()) {  // newest claim first
    const std::string& claim = m.str();
    const size_t colon = claim.find(':');
    if (colon == std::string::npos) continue;
    Identity* out = profile.add_unverified_identities();
    out->set_type(claim.substr(0, colon));
    out->set_value(claim.substr(colon + 1));
  }
  return profile;
}

absl::StatusOr<ProfileStore::TimelineRead> ProfileStore::PlanTimeline(
    absl::string_view customer_id, int page_size, absl::string_view page_token,
    const std::vector<omnicx::v1::Channel>& channels,
    std::optional<absl::Time> start, std::optional<absl::Time> end) const {
  TimelineRead read;
  read.customer_id = std::string(customer_id);
  read.page_size = page_size;
  read.channels = channels;
  // The token is "<score>:<event id>" of the last item returned, so paging
  // is stable while new events arrive.
  std::string max = end.has_value()
                        ? absl::StrCat("(", absl::ToUnixMillis(*end))
                        : std::string("+inf");
  if (!page_token.empty()) {
    std::string decoded;
    int64_t score = 0;
    if (!absl::WebSafeBase64Unescape(page_token, &decoded)) {
      return absl::InvalidArgumentError("page_token is not valid");
    }
    const size_t colon = decoded.find(':');
    if (colon == std::string::npos ||
        !absl::SimpleAtoi(decoded.substr(0, colon), &score)) {
      return absl::InvalidArgumentError("page_token is not valid");
    }
    max = absl::StrCat(score);
    read.after_id = decoded.substr(colon + 1);
  }
  const std::string min = start.has_value()
                              ? absl::StrCat(absl::ToUnixMillis(*start))
                              : std::string("-inf");
  read.command = {"ZREVRANGEBYSCORE", keys_.Timeline(customer_id), max, min,
                  "WITHSCORES"};
  // A first page without a channel filter is the newest page_size entries
  // (one more tells whether a next page exists); otherwise entries are
  // skipped or filtered here, so the whole range is read.
  if (read.after_id.empty() && channels.empty()) {
    read.command.insert(read.command.end(),
                        {"LIMIT", "0", absl::StrCat(page_size + 1)});
  }
  return read;
}

TimelinePage ProfileStore::ParseTimeline(const TimelineRead& read,
                                         const redis::Reply& items) {
  TimelinePage page;
  bool skipping = !read.after_id.empty();
  std::string last_token;
  const auto& e = items.elements();
  for (size_t i = 0; i + 1 < e.size(); i += 2) {
    Interaction event;
    if (!event.ParseFromString(e[i].str())) continue;
    event.set_resolved_customer_id(read.customer_id);
    if (skipping) {
      if (event.event_id() == read.after_id) skipping = false;
      continue;
    }
    if (!read.channels.empty() &&
        std::find(read.channels.begin(), read.channels.end(),
                  event.channel()) == read.channels.end()) {
      continue;
    }
    if (static_cast<int>(page.interactions.size()) == read.page_size) {
      page.next_page_token = absl::WebSafeBase64Escape(last_token);
      break;
    }
    last_token = absl::StrCat(e[i + 1].str(), ":", event.event_id());
    page.interactions.push_back(std::move(event));
  }
  return page;
}

absl::StatusOr<TimelinePage> ProfileStore::GetTimeline(
    absl::string_view customer_id, int page_size, absl::string_view page_token,
    const std::vector<omnicx::v1::Channel>& channels,
    std::optional<absl::Time> start, std::optional<absl::Time> end) {
  OMNICX_ASSIGN_OR_RETURN(
      TimelineRead read,
      PlanTimeline(customer_id, page_size, page_token, channels, start, end));
  OMNICX_ASSIGN_OR_RETURN(redis::Reply items, redis_.Command(read.command));
  return ParseTimeline(read, items);
}

}  // namespace omnicx::profile
