#include "services/profile/profile_store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/events/sharding.h"
#include "libs/keys/random_id.h"
#include "libs/status/status_macros.h"
#include "libs/time/proto_time.h"
#include "services/profile/lua/apply_events_lua.h"
#include "services/profile/lua/cache_context_lua.h"
#include "services/profile/lua/drop_if_lua.h"
#include "services/profile/lua/link_confirm_lua.h"
#include "services/profile/lua/link_identities_lua.h"
#include "services/profile/lua/merge_finalize_lua.h"
#include "services/profile/lua/merge_fold_lua.h"
#include "services/profile/lua/merge_freeze_lua.h"
#include "services/profile/lua/set_consent_lua.h"
#include "services/profile/lua/set_owner_lua.h"
#include "services/profile/lua/set_traits_lua.h"
#include "services/profile/profile_store_internal.h"

namespace omnicx::profile {
namespace {

using omnicx::v1::CustomerRef;
using omnicx::v1::Identity;
using omnicx::v1::Interaction;
using store_internal::ErasedError;
using store_internal::IdentityString;

std::string RandomCustomerId() { return keys::RandomId("c_"); }

}  // namespace

ProfileStore::ProfileStore(redis::Client& redis, const keys::KeyBuilder& keys,
                           ProfileStoreOptions options)
    : redis_(redis),
      keys_(keys),
      options_(std::move(options)),
      directory_(redis, keys, options_.identity_secret),
      link_script_(lua::kLinkIdentitiesLua),
      link_confirm_script_(lua::kLinkConfirmLua),
      set_owner_script_(lua::kSetOwnerLua),
      drop_if_script_(lua::kDropIfLua),
      apply_script_(lua::kApplyEventsLua),
      consent_script_(lua::kSetConsentLua),
      traits_script_(lua::kSetTraitsLua),
      merge_freeze_script_(lua::kMergeFreezeLua),
      merge_fold_script_(lua::kMergeFoldLua),
      merge_finalize_script_(lua::kMergeFinalizeLua),
      cache_context_script_(lua::kCacheContextLua),
      cache_(options_.state_cache_entries),
      owners_(options_.owner_cache_entries) {
  if (!options_.new_customer_id) options_.new_customer_id = RandomCustomerId;
}

std::string ProfileStore::Digest(const Identity& identity) const {
  return directory_.Digest(identity);
}

std::string ProfileStore::IndexKeyOf(absl::string_view identity) const {
  const size_t colon = identity.find(':');
  Identity id;
  id.set_type(std::string(identity.substr(0, colon)));
  id.set_value(colon == absl::string_view::npos
                   ? std::string()
                   : std::string(identity.substr(colon + 1)));
  return keys_.IdentityIndex(Digest(id));
}

absl::StatusOr<std::string> ProfileStore::Canonical(
    absl::string_view customer_id) {
  return directory_.Canonical(customer_id);
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
        const std::string at =
            absl::StrCat(time::ToUnixMillis(event.occurred_at()));
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
           keys_.ErasedCustomer(cid), keys_.Claims(cid), keys_.MergingInto(cid),
           keys_.MergingFrom(cid)},
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
          ForgetOwner(cid);
          for (size_t i : idx) out[i] = ErasedError();
        } else if (verdict == "MOVED" || verdict == "MERGING") {
          // A merge away with steps left is finished first, so the event
          // resolved again lands on a survivor that holds M's state.
          ForgetOwner(cid);
          const absl::Status finished =
              verdict == "MERGING" ? FinishMerges(cid) : absl::OkStatus();
          for (size_t i : idx) {
            out[i] = finished.ok()
                         ? absl::AbortedError(
                               "customer was merged meanwhile; resolve again")
                         : finished;
          }
        } else if (verdict == "PENDING") {
          // A merge into them has steps left: finish it, then read again.
          const absl::Status finished = FinishMerges(cid);
          if (finished.ok()) {
            again[cid] = idx;
          } else {
            for (size_t i : idx) out[i] = finished;
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
    if (verdict[0].str() == "MERGING") {
      // Finish the merge away, then follow its redirect.
      OMNICX_RETURN_IF_ERROR(FinishMerges(cid));
      continue;
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
        return std::vector<std::string>{
            keys_.Traits(cid), keys_.Profile(cid), keys_.MergedInto(cid),
            keys_.ErasedCustomer(cid), keys_.MergingInto(cid)};
      },
      args);
}

absl::StatusOr<std::string> ProfileStore::SetConsent(
    absl::string_view customer_id, const omnicx::v1::Consent& consent) {
  return WriteCustomer(
      consent_script_, customer_id,
      [this](const std::string& cid) {
        return std::vector<std::string>{
            keys_.Consents(cid),       keys_.ConsentLog(cid),
            keys_.Profile(cid),        keys_.MergedInto(cid),
            keys_.ErasedCustomer(cid), keys_.MergingInto(cid)};
      },
      {consent.purpose(),
       absl::StrCat(time::ToUnixMillis(consent.updated_at())),
       consent.SerializeAsString(), consent.granted() ? "1" : "0"});
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

}  // namespace omnicx::profile
