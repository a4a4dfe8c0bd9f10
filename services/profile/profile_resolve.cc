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

std::vector<std::string> ProfileStore::OwnersRead(
    const ResolvePlan& plan, const redis::PipelineReplies& r, size_t read) {
  std::vector<std::string> owners;
  for (size_t i = 0; i < plan.all.size(); ++i) {
    const redis::Reply& owner = *r[read + 2 * i];
    owners.push_back(owner.is_nil() ? "" : owner.str());
  }
  return owners;
}

void ProfileStore::Link(std::vector<LinkJob>& jobs, absl::Time now) {
  if (jobs.empty()) return;
  const std::string ms = absl::StrCat(absl::ToUnixMillis(now));
  // Step 1, in each customer's slot: the identities into their set.
  std::vector<redis::Command> record;
  for (LinkJob& job : jobs) {
    const std::string& cid = job.out->customer_id;
    std::vector<std::string> args = {cid, ms};
    for (size_t i = 0; i < job.plan->all.size(); ++i) {
      const Identity& id = job.plan->all[i];
      args.push_back(IdentityString(id));
      auto cap = options_.max_per_type.find(id.type());
      args.push_back(
          absl::StrCat(cap == options_.max_per_type.end() ? 0 : cap->second));
      args.push_back(job.owners[i]);
    }
    record.push_back(redis::EvalShaCommand(
        link_script_,
        {keys_.Identities(cid), keys_.Profile(cid), keys_.MergedInto(cid),
         keys_.ErasedCustomer(cid), keys_.MergingInto(cid)},
        args));
  }
  absl::StatusOr<redis::PipelineReplies> recorded =
      redis_.PipelineScripts(record, {&link_script_});
  // Per job: the status of each identity after step 1.
  std::vector<std::vector<std::string>> statuses(jobs.size());
  for (size_t k = 0; k < jobs.size(); ++k) {
    LinkJob& job = jobs[k];
    if (!recorded.ok()) {
      job.status = recorded.status();
      continue;
    }
    if (!(*recorded)[k].ok()) {
      job.status = (*recorded)[k].status();
      continue;
    }
    statuses[k] = [&] {
      std::vector<std::string> out;
      for (const auto& e : (*recorded)[k]->elements()) out.push_back(e.str());
      return out;
    }();
    const std::string first = statuses[k].empty() ? "" : statuses[k][0];
    if (first == "ERASED") {
      job.status = ErasedError();
    } else if (first == "MERGING") {
      job.status = FinishMerges(job.out->customer_id);
      job.again = true;
    } else if (first == "MOVED") {
      job.again = true;
      job.moved_to = statuses[k].size() > 1 ? statuses[k][1] : "";
    }
  }
  const absl::Status recorded_fault = Fault("record");
  if (!recorded_fault.ok()) {
    for (LinkJob& job : jobs) {
      if (job.status.ok() && !job.again) job.status = recorded_fault;
    }
    return;
  }

  // Step 2: each index entry claimed by its own compare-and-set.
  std::vector<redis::Command> claims;
  std::vector<std::pair<size_t, size_t>> claimed_at;  // (job, identity)
  for (size_t k = 0; k < jobs.size(); ++k) {
    LinkJob& job = jobs[k];
    if (!job.status.ok() || job.again) continue;
    for (size_t i = 0; i < statuses[k].size() && i < job.plan->all.size();
         ++i) {
      if (statuses[k][i] != "claim") continue;
      claims.push_back(redis::EvalShaCommand(set_owner_script_,
                                             {job.plan->owner_keys[i]},
                                             {"", job.out->customer_id}));
      claimed_at.push_back({k, i});
    }
  }
  // Per job and identity: "linked" (claimed now), "had" (already theirs),
  // "lost" (another customer's).
  std::vector<std::map<size_t, std::string>> outcome(jobs.size());
  if (!claims.empty()) {
    absl::StatusOr<redis::PipelineReplies> r =
        redis_.PipelineScripts(claims, {&set_owner_script_});
    for (size_t c = 0; c < claimed_at.size(); ++c) {
      auto [k, i] = claimed_at[c];
      LinkJob& job = jobs[k];
      if (!r.ok() || !(*r)[c].ok()) {
        job.status = !r.ok() ? r.status() : (*r)[c].status();
        continue;
      }
      const std::string prev = (*r)[c]->str();
      if (prev.empty()) {
        outcome[k][i] = "linked";
      } else if (prev == job.out->customer_id) {
        outcome[k][i] = "had";
      } else {
        outcome[k][i] = "lost";
        statuses[k][i] = "conflict:" + prev;
      }
    }
  }
  const absl::Status claim_fault = Fault("claim");
  if (!claim_fault.ok()) {
    for (LinkJob& job : jobs) {
      if (job.status.ok() && !job.again) job.status = claim_fault;
    }
    return;
  }

  // A lost anchor (two first sightings raced): release this attempt's
  // claims and resolve again.
  std::vector<bool> abandon(jobs.size(), false);
  std::vector<redis::Command> releases;
  for (size_t k = 0; k < jobs.size(); ++k) {
    LinkJob& job = jobs[k];
    if (!job.status.ok() || job.again) continue;
    auto anchor = outcome[k].find(0);
    if (!job.check_anchor || anchor == outcome[k].end() ||
        anchor->second != "lost") {
      continue;
    }
    abandon[k] = true;
    for (auto& [i, o] : outcome[k]) {
      if (o == "linked") {
        releases.push_back(redis::EvalShaCommand(set_owner_script_,
                                                 {job.plan->owner_keys[i]},
                                                 {job.out->customer_id, ""}));
      }
      o = "lost";
    }
  }
  if (!releases.empty()) {
    absl::StatusOr<redis::PipelineReplies> r =
        redis_.PipelineScripts(releases, {&set_owner_script_});
    if (!r.ok()) {
      for (size_t k = 0; k < jobs.size(); ++k) {
        if (abandon[k]) jobs[k].status = r.status();
      }
    }
  }

  // Step 3, in each customer's slot: provenance of the claims, lost ones
  // out of the set.
  std::vector<redis::Command> confirm;
  std::vector<size_t> confirmed;
  for (size_t k = 0; k < jobs.size(); ++k) {
    LinkJob& job = jobs[k];
    if (!job.status.ok() || job.again) continue;
    const std::string& cid = job.out->customer_id;
    std::vector<std::string> args = {
        job.source, ms, abandon[k] && job.out->created ? "1" : "0"};
    for (const auto& [i, o] : outcome[k]) {
      if (o == "had") continue;
      args.push_back(IdentityString(job.plan->all[i]));
      args.push_back(o);
    }
    confirm.push_back(redis::EvalShaCommand(
        link_confirm_script_,
        {keys_.Identities(cid), keys_.Profile(cid), keys_.Links(cid),
         keys_.MergedInto(cid), keys_.ErasedCustomer(cid),
         keys_.MergingInto(cid)},
        args));
    confirmed.push_back(k);
  }
  absl::StatusOr<redis::PipelineReplies> r =
      confirm.empty()
          ? absl::StatusOr<redis::PipelineReplies>(redis::PipelineReplies())
          : redis_.PipelineScripts(confirm, {&link_confirm_script_});
  for (size_t c = 0; c < confirmed.size(); ++c) {
    const size_t k = confirmed[c];
    LinkJob& job = jobs[k];
    if (!r.ok() || !(*r)[c].ok()) {
      job.status = !r.ok() ? r.status() : (*r)[c].status();
      continue;
    }
    const auto& e = (*r)[c]->elements();
    const std::string verdict = e.empty() ? "" : e[0].str();
    if (verdict != "OK") {
      // Erased or merged away since step 1: the claims made for them are
      // released (erasure) or follow the survivor (merge), and the event
      // is resolved again.
      const std::string& cid = job.out->customer_id;
      std::string to;
      if (verdict == "ERASED") {
        job.status = ErasedError();
      } else {
        absl::Status finished = FinishMerges(cid);
        if (!finished.ok()) {
          job.status = finished;
          continue;
        }
        absl::StatusOr<std::string> live = Canonical(cid);
        if (live.ok()) to = *live;
        job.again = true;
        job.moved_to = to;
      }
      std::vector<redis::Command> fix;
      for (const auto& [i, o] : outcome[k]) {
        if (o != "linked") continue;
        fix.push_back(redis::EvalShaCommand(
            set_owner_script_, {job.plan->owner_keys[i]}, {cid, to}));
      }
      if (!fix.empty()) {
        absl::StatusOr<redis::PipelineReplies> fixed =
            redis_.PipelineScripts(fix, {&set_owner_script_});
        if (!fixed.ok()) job.status = fixed.status();
      }
      continue;
    }
    if (abandon[k]) {
      job.again = true;
      job.moved_to.clear();
      continue;
    }
    for (size_t i = 0; i < statuses[k].size() && i < job.plan->all.size();
         ++i) {
      const std::string& s = statuses[k][i];
      if (s == "refused") job.out->refused.push_back(job.plan->all[i].type());
      if (absl::StartsWith(s, "conflict:")) {
        const std::string other = s.substr(9);
        auto& conflicts = job.out->conflicts;
        if (std::find(conflicts.begin(), conflicts.end(), other) ==
            conflicts.end()) {
          conflicts.push_back(other);
        }
      }
    }
  }
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
    std::vector<LinkJob> job(1);
    job[0].plan = &plan;
    job[0].out = &out;
    job[0].owners = OwnersRead(plan, read, 0);
    job[0].source = std::string(source);
    job[0].check_anchor = plan.anchored && forced.empty();
    Link(job, now);
    OMNICX_RETURN_IF_ERROR(job[0].status);
    if (!job[0].again) return out;
    forced = job[0].moved_to;
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
  std::vector<LinkJob> links;
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
    LinkJob job;
    job.plan = &plan;
    job.out = &*out[i];
    job.owners = OwnersRead(plan, *read, first_read[i]);
    job.source = inputs[i].source;
    job.check_anchor = plan.anchored;
    links.push_back(std::move(job));
    linked_input.push_back(i);
  }
  Link(links, now);
  for (size_t k = 0; k < linked_input.size(); ++k) {
    const size_t i = linked_input[k];
    if (!links[k].status.ok()) {
      out[i] = links[k].status;
    } else if (links[k].again) {
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
