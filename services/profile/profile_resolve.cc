// ProfileStore: identity resolution (profile_store.h).
#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/status/status_macros.h"
#include "services/profile/profile_store.h"
#include "services/profile/profile_store_internal.h"

namespace omnicx::profile {
namespace {

using omnicx::v1::CustomerRef;
using omnicx::v1::Identity;
using store_internal::ErasedError;
using store_internal::IdentityString;

}  // namespace

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

std::optional<Resolution> ProfileStore::CachedResolution(
    const ResolvePlan& plan, const CustomerRef& ref, size_t claims,
    absl::Time now) {
  if (claims > 0) return std::nullopt;  // claims need the tombstone reads
  std::optional<std::string> customer;
  auto known = [&](const std::string& key) {
    std::optional<Owner> owner = owners_.Get(key);
    if (!owner.has_value() || now - owner->at > kOwnerMemory ||
        (customer.has_value() && owner->customer_id != *customer)) {
      return false;
    }
    customer = std::move(owner->customer_id);
    return true;
  };
  if (!plan.anchored && !known(keys_.Profile(ref.customer_id()))) {
    return std::nullopt;
  }
  for (const std::string& key : plan.owner_keys) {
    if (!known(key)) return std::nullopt;
  }
  if (!customer.has_value()) return std::nullopt;
  Resolution out;
  out.customer_id = std::move(*customer);
  return out;
}

void ProfileStore::ForgetOwner(const std::string& customer_id) {
  owners_.DropWhere(
      [&](const Owner& owner) { return owner.customer_id == customer_id; });
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
    const size_t claims = inputs[i].claims ? inputs[i].claims->size() : 0;
    if (std::optional<Resolution> known =
            CachedResolution(*plan, *inputs[i].ref, claims, now)) {
      out[i] = std::move(*known);
      continue;
    }
    first_read[i] = reads.size();
    reads.insert(reads.end(), plan->reads.begin(), plan->reads.end());
    plans[i] = std::move(*plan);
  }
  if (reads.empty()) return out;  // every event known
  absl::StatusOr<redis::PipelineReplies> read = redis_.Pipeline(reads);
  if (!read.ok()) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (plans[i].has_value()) out[i] = read.status();
    }
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
    if (all_owned) {
      if (plan.claims == 0) {
        for (const std::string& key : plan.owner_keys) {
          owners_.Put(key, Owner{out[i]->customer_id, now});
        }
        if (!plan.anchored) {
          owners_.Put(keys_.Profile(out[i]->customer_id),
                      Owner{out[i]->customer_id, now});
        }
      }
      continue;
    }
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

}  // namespace omnicx::profile
