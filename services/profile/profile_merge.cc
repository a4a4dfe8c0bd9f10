// ProfileStore: merging two customers (profile_store.h) as a sequence of
// single-slot steps, each idempotent, resumable from the merge record left
// in the merged customer M's slot (KeyBuilder::MergingInto):
//
//   1. freeze  (M's slot, merge_freeze.lua): the record {to: S, token};
//      from now on every profile write to M finishes the merge first.
//   2. fold    (S's slot, merge_fold.lua): M's state into S, guarded by
//      S's merged ids (a retry folds nothing twice); M joins S's
//      merging_in set, so an apply on S finishes what is left.
//   3. repoint (each identity's slot, set_owner.lua): every index entry
//      still naming M names S.
//   4. finalise (M's slot, merge_finalize.lua): M's data deleted, the
//      redirect M -> S set.
//   5. log     (the merge log, one XADD): survivor, merged, at.
//   6. clear   (M's slot, then S's): the record and S's merging_in entry.
//
// A merge whose fold cannot happen (S erased, merged away or being merged,
// the shared-device guard) is called off: the fold refusal is recorded in
// S's slot where needed (no late retry folds it), then M's record goes.
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/keys/random_id.h"
#include "libs/status/status_macros.h"
#include "services/profile/profile_store.h"
#include "services/profile/profile_store_internal.h"

namespace omnicx::profile {
namespace {

std::vector<std::string> Strings(const redis::Reply& reply) {
  std::vector<std::string> out;
  for (const redis::Reply& r : reply.elements()) out.push_back(r.str());
  return out;
}

// A section of merge_fold.lua's arguments: its item count, then its items
// (`width` arguments per item).
void AddSection(const std::vector<std::string>& items, size_t width,
                std::vector<std::string>* args) {
  args->push_back(absl::StrCat(items.size() / width));
  args->insert(args->end(), items.begin(), items.end());
}

}  // namespace

absl::StatusOr<std::string> ProfileStore::Freeze(
    const std::string& merged, const std::string& to, const std::string& token,
    absl::Time now, absl::string_view source, FrozenMerge* frozen,
    std::string* target) {
  OMNICX_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_.Eval(
          merge_freeze_script_,
          {keys_.MergingInto(merged), keys_.Profile(merged),
           keys_.MergedInto(merged), keys_.ErasedCustomer(merged),
           keys_.MergingFrom(merged), keys_.Identities(merged),
           keys_.Timeline(merged), keys_.Traits(merged), keys_.Consents(merged),
           keys_.ConsentLog(merged), keys_.MergedIds(merged),
           keys_.Links(merged), keys_.Claims(merged)},
          {to, token, absl::StrCat(absl::ToUnixMillis(now)),
           std::string(source)}));
  const auto& e = r.elements();
  if (e.empty()) return absl::InternalError("merge freeze: empty reply");
  const std::string verdict = e[0].str();
  if ((verdict == "MOVED" || verdict == "MERGING") && e.size() > 1) {
    *target = e[1].str();
  }
  if (verdict != "FROZEN") return verdict;
  if (e.size() < 16) return absl::InternalError("merge freeze: short reply");
  FrozenMerge& f = *frozen;
  f.merged = merged;
  f.to = e[1].str();
  f.token = e[2].str();
  f.at = e[3].str();
  f.source = e[4].str();
  f.survivor = e[5].str();
  const auto& profile = e[6].elements();
  if (profile.size() == 3) {
    OMNICX_ASSIGN_OR_RETURN(f.state, ParseState(merged, e[6]));
    if (!profile[2].is_nil()) f.created_ms = profile[2].str();
  }
  f.ids = Strings(e[7]);
  f.timeline = Strings(e[8]);
  f.traits = Strings(e[9]);
  f.consents = Strings(e[10]);
  f.consent_log = Strings(e[11]);
  f.merged_ids = Strings(e[12]);
  f.links = Strings(e[13]);
  f.claims = Strings(e[14]);
  f.logged = e[15].str();
  return verdict;
}

absl::Status ProfileStore::Unfreeze(const FrozenMerge& f) {
  return redis_
      .Eval(drop_if_script_, {keys_.MergingInto(f.merged)}, {"token", f.token})
      .status();
}

absl::StatusOr<std::string> ProfileStore::CompleteMerge(const FrozenMerge& f) {
  const std::string& merged = f.merged;
  std::string survivor = f.survivor.empty() ? f.to : f.survivor;
  cache_.Drop(merged);
  cache_.Drop(f.to);
  ForgetOwner(merged);
  if (f.survivor.empty()) {
    // Step 2: fold M into S, unless a retry finds it done.
    bool folded = false;
    for (int attempt = 0; attempt < 16 && !folded; ++attempt) {
      OMNICX_ASSIGN_OR_RETURN(
          redis::Reply read,
          redis_.Command({"HMGET", keys_.Profile(f.to), "v", "s"}));
      OMNICX_ASSIGN_OR_RETURN(CachedProfile s, ParseState(f.to, read));
      MergeProfileState(f.state.state, &s.state);
      std::vector<std::string> args = {
          merged,
          f.token,
          f.at,
          f.source,
          absl::StrCat(options_.timeline_cap),
          absl::StrCat(options_.max_unverified_identities),
          absl::StrCat(s.version),
          s.state.SerializeAsString(),
          f.created_ms};
      std::vector<std::string> caps;
      for (const auto& [type, cap] : options_.max_per_type) {
        caps.push_back(type);
        caps.push_back(absl::StrCat(cap));
      }
      AddSection(caps, 2, &args);
      AddSection(f.ids, 1, &args);
      // ZRANGE WITHSCORES gives member, score: the script takes them so.
      AddSection(f.timeline, 2, &args);
      AddSection(f.traits, 2, &args);
      AddSection(f.consents, 2, &args);
      AddSection(f.consent_log, 1, &args);
      AddSection(f.merged_ids, 1, &args);
      AddSection(f.links, 1, &args);
      AddSection(f.claims, 2, &args);
      const std::string& to = f.to;
      OMNICX_ASSIGN_OR_RETURN(
          redis::Reply r,
          redis_.Eval(
              merge_fold_script_,
              {keys_.Profile(to), keys_.Identities(to), keys_.Timeline(to),
               keys_.Traits(to), keys_.Consents(to), keys_.ConsentLog(to),
               keys_.MergedIds(to), keys_.Links(to), keys_.MergedInto(to),
               keys_.ErasedCustomer(to), keys_.Claims(to),
               keys_.MergingInto(to), keys_.MergingFrom(to),
               keys_.MergesCancelled(to)},
              args));
      const std::string verdict =
          r.elements().empty() ? "" : r.elements()[0].str();
      if (verdict == "OK" || verdict == "FOLDED") {
        folded = true;
      } else if (verdict == "RETRY") {
        continue;
      } else if (verdict == "GONE") {
        OMNICX_RETURN_IF_ERROR(Unfreeze(f));
        return absl::NotFoundError("customer no longer exists");
      } else if (verdict == "REFUSED") {
        OMNICX_RETURN_IF_ERROR(Unfreeze(f));
        return absl::FailedPreconditionError(
            absl::StrCat("merging would give one profile ",
                         r.elements()[2].str(), " identities of type ",
                         r.elements()[1].str(), " (shared-device guard)"));
      } else {
        // CANCELLED, MERGING, MOVED: S is (being) merged away, so M was
        // never folded into it; call this attempt off and run it again.
        OMNICX_RETURN_IF_ERROR(Unfreeze(f));
        return absl::AbortedError("merge target moved; merge again");
      }
    }
    if (!folded) {
      return absl::AbortedError("merge kept racing with other writers; retry");
    }
    OMNICX_RETURN_IF_ERROR(Fault("fold"));

    // Step 3: every index entry still naming M names S (one key each).
    std::vector<redis::Command> repoint;
    for (const std::string& ident : f.ids) {
      repoint.push_back(redis::EvalShaCommand(
          set_owner_script_, {IndexKeyOf(ident)}, {merged, survivor}));
    }
    if (!repoint.empty()) {
      OMNICX_ASSIGN_OR_RETURN(
          redis::PipelineReplies r,
          redis_.PipelineScripts(repoint, {&set_owner_script_}));
      for (const auto& one : r) OMNICX_RETURN_IF_ERROR(one.status());
    }
    OMNICX_RETURN_IF_ERROR(Fault("repoint"));

    // Step 4: M's data goes, its id redirects to S.
    std::vector<std::string> keys = {keys_.MergingInto(merged),
                                     keys_.MergedInto(merged),
                                     keys_.ErasedCustomer(merged)};
    for (const std::string& k :
         {keys_.Profile(merged), keys_.Identities(merged),
          keys_.Timeline(merged), keys_.Traits(merged), keys_.Consents(merged),
          keys_.ConsentLog(merged), keys_.Context(merged),
          keys_.MergedIds(merged), keys_.Links(merged), keys_.Claims(merged)}) {
      keys.push_back(k);
    }
    OMNICX_ASSIGN_OR_RETURN(
        redis::Reply fin,
        redis_.Eval(merge_finalize_script_, keys, {f.token, survivor}));
    const std::string verdict =
        fin.elements().empty() ? "" : fin.elements()[0].str();
    if (verdict == "STALE") return survivor;  // another caller finished it
    if (verdict == "GONE") {
      return absl::NotFoundError("customer no longer exists");
    }
    OMNICX_RETURN_IF_ERROR(Fault("finalize"));
  }

  // Step 5: the merge log entry for the journey and recommendation
  // services (they fold each merge once, so a retry's second entry is
  // harmless). An erasure that began meanwhile may have scanned the log
  // already: the entry is taken back then.
  // The record keeps the entry's id, so a retry after this step writes
  // none again.
  if (f.logged.empty()) {
    OMNICX_ASSIGN_OR_RETURN(
        redis::Reply id,
        redis_.Command({"XADD", keys_.MergeLog(), "*", "survivor", survivor,
                        "merged", merged, "at", f.at}));
    OMNICX_ASSIGN_OR_RETURN(
        redis::PipelineReplies erased,
        redis_.Pipeline({{"EXISTS", keys_.ErasedCustomer(survivor)},
                         {"EXISTS", keys_.ErasedCustomer(merged)}}));
    for (const auto& one : erased) OMNICX_RETURN_IF_ERROR(one.status());
    if (erased[0]->integer() == 1 || erased[1]->integer() == 1) {
      OMNICX_RETURN_IF_ERROR(
          redis_.Command({"XDEL", keys_.MergeLog(), id.str()}).status());
    }
    OMNICX_RETURN_IF_ERROR(redis_
                               .Eval(drop_if_script_,
                                     {keys_.MergingInto(merged)},
                                     {"token", f.token, "logged", id.str()})
                               .status());
  }
  OMNICX_RETURN_IF_ERROR(Fault("log"));

  // Step 6: the record, then S's entry for it.
  OMNICX_RETURN_IF_ERROR(Unfreeze(f));
  OMNICX_RETURN_IF_ERROR(
      redis_.Command({"SREM", keys_.MergingFrom(f.to), merged}).status());
  return survivor;
}

absl::Status ProfileStore::FinishMerges(const std::string& customer_id) {
  OMNICX_ASSIGN_OR_RETURN(
      redis::PipelineReplies r,
      redis_.Pipeline({{"EXISTS", keys_.MergingInto(customer_id)},
                       {"SMEMBERS", keys_.MergingFrom(customer_id)}}));
  for (const auto& one : r) OMNICX_RETURN_IF_ERROR(one.status());
  std::vector<std::string> pending = Strings(*r[1]);
  if (r[0]->integer() == 1) pending.push_back(customer_id);
  for (const std::string& merged : pending) {
    FrozenMerge f;
    std::string target;
    OMNICX_ASSIGN_OR_RETURN(
        std::string verdict,
        Freeze(merged, "", "", absl::Now(), "", &f, &target));
    if (verdict != "FROZEN") {
      // No record: its merge was cleared but for S's entry.
      if (merged != customer_id) {
        OMNICX_RETURN_IF_ERROR(
            redis_.Command({"SREM", keys_.MergingFrom(customer_id), merged})
                .status());
      }
      continue;
    }
    absl::StatusOr<std::string> done = CompleteMerge(f);
    // Called off or gone: finished either way.
    if (!done.ok() && !absl::IsAborted(done.status()) &&
        !absl::IsNotFound(done.status()) &&
        !absl::IsFailedPrecondition(done.status())) {
      return done.status();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<MergeResult> ProfileStore::Merge(absl::string_view a,
                                                absl::string_view b,
                                                absl::Time now,
                                                absl::string_view source) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    OMNICX_RETURN_IF_ERROR(FinishMerges(std::string(a)));
    OMNICX_RETURN_IF_ERROR(FinishMerges(std::string(b)));
    OMNICX_ASSIGN_OR_RETURN(std::string ca, Canonical(a));
    OMNICX_ASSIGN_OR_RETURN(std::string cb, Canonical(b));
    if (ca == cb) return MergeResult{ca, ""};
    OMNICX_ASSIGN_OR_RETURN(
        redis::PipelineReplies r,
        redis_.Pipeline({{"HGET", keys_.Profile(ca), "created_ms"},
                         {"HGET", keys_.Profile(cb), "created_ms"},
                         {"SMEMBERS", keys_.Identities(ca)},
                         {"SMEMBERS", keys_.Identities(cb)}}));
    for (const auto& one : r) OMNICX_RETURN_IF_ERROR(one.status());
    int64_t created_a = 0, created_b = 0;
    (void)absl::SimpleAtoi(r[0]->str(), &created_a);
    (void)absl::SimpleAtoi(r[1]->str(), &created_b);
    const bool a_survives =
        created_a < created_b || (created_a == created_b && ca < cb);
    const std::string survivor = a_survives ? ca : cb;
    const std::string merged = a_survives ? cb : ca;

    // The shared-device guard holds for merges too (checked again by the
    // fold, against S's identities as they are then).
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

    FrozenMerge f;
    std::string target;
    OMNICX_ASSIGN_OR_RETURN(std::string verdict,
                            Freeze(merged, survivor, keys::RandomId("m_"), now,
                                   source, &f, &target));
    if (verdict == "GONE") {
      return absl::NotFoundError("customer no longer exists");
    }
    // MOVED, MERGING, PENDING: finish what is in the way, then again.
    if (verdict != "FROZEN") continue;
    OMNICX_RETURN_IF_ERROR(Fault("freeze"));
    absl::StatusOr<std::string> done = CompleteMerge(f);
    if (done.ok()) return MergeResult{*done, merged};
    if (!absl::IsAborted(done.status())) return done.status();
  }
  return absl::AbortedError("merge kept racing with other writers; retry");
}

}  // namespace omnicx::profile
