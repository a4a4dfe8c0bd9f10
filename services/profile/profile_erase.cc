// ProfileStore: GDPR erasure (profile_store.h).
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "libs/identity/normalize.h"
#include "libs/status/error_details.h"
#include "libs/status/status_macros.h"
#include "services/profile/profile_store.h"
#include "services/profile/profile_store_internal.h"

namespace omnicx::profile {
namespace {

using omnicx::v1::CustomerRef;
using omnicx::v1::Identity;
using omnicx::v1::Interaction;

// How soon to retry an erasure left pending (a service that must forget
// the customer was unreachable).
constexpr absl::Duration kEraseRetryDelay = absl::Seconds(1);

}  // namespace

absl::StatusOr<EraseResult> ProfileStore::Erase(
    absl::string_view customer_id,
    const std::function<absl::Status(const std::vector<std::string>& ids)>&
        fenced) {
  // A merge of or into them with steps left is finished first, so that
  // their identity set and merged ids are whole.
  std::string cid(customer_id);
  OMNICX_RETURN_IF_ERROR(FinishMerges(cid));
  if (absl::StatusOr<std::string> live = Canonical(cid); live.ok()) {
    cid = *live;
  }
  customer_id = cid;
  // Read from the sets, not the profile: a retry after a crash in the last
  // steps finds the profile gone but the sets still there.
  OMNICX_ASSIGN_OR_RETURN(
      redis::PipelineReplies held,
      redis_.Pipeline({{"EXISTS", keys_.Profile(cid)},
                       {"SMEMBERS", keys_.Identities(cid)},
                       {"SMEMBERS", keys_.MergedIds(cid)}}));
  for (const auto& one : held) OMNICX_RETURN_IF_ERROR(one.status());
  if (held[0]->integer() == 0 && held[1]->elements().empty() &&
      held[2]->elements().empty()) {
    return absl::NotFoundError("no such customer");
  }
  omnicx::v1::Profile profile;
  for (const redis::Reply& m : held[1]->elements()) {
    const std::string& ident = m.str();
    const size_t colon = ident.find(':');
    Identity* id = profile.add_identities();
    id->set_type(ident.substr(0, colon));
    if (colon != std::string::npos) id->set_value(ident.substr(colon + 1));
  }
  for (const redis::Reply& m : held[2]->elements()) {
    profile.add_merged_ids(m.str());
  }
  EraseResult result;

  // The fence first: a tombstone per id, so no write recreates what follows
  // deletes.
  std::vector<std::string> fenced_ids = {std::string(customer_id)};
  fenced_ids.insert(fenced_ids.end(), profile.merged_ids().begin(),
                    profile.merged_ids().end());
  for (const std::string& id : fenced_ids) ForgetOwner(id);
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
  // identities and merged ids, the redirects of the merged ids, the merge
  // records) is kept until the last steps; so is the cached context.
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

  // The journey's due set entries name the customer (and the ids merged
  // into them) outside their keys.
  for (const std::string& id : ids) {
    OMNICX_RETURN_IF_ERROR(
        redis_
            .Command({"ZREM",
                      keys_.StageDue(omnicx::keys::KeyBuilder::Partition(id)),
                      id})
            .status());
  }

  // Last, each command on one key (the index entries have slots of their
  // own): (1) a tombstone per identity, so late events cannot resurrect
  // the customer; (2) the profile, cached context and redirects of the
  // merged ids; (3) the index entries naming them or an id merged into
  // them; (4) the identity set and merged ids. A crash before (4) leaves
  // the sets, and a retry by the customer id or any of their identities
  // (WasErased) runs the erasure again from them.
  OMNICX_RETURN_IF_ERROR(Fault("erase:streams"));
  std::vector<redis::Command> owners;
  for (const std::string& key : keys) owners.push_back({"GET", key});
  std::vector<std::string> owner(keys.size());
  if (!owners.empty()) {
    OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies r, redis_.Pipeline(owners));
    for (size_t i = 0; i < keys.size(); ++i) {
      OMNICX_RETURN_IF_ERROR(r[i].status());
      if (!r[i]->is_nil()) owner[i] = r[i]->str();
    }
  }
  // An identity the index gives to another customer (their set held it
  // after a link that lost its claim) is theirs: no tombstone.
  std::vector<redis::Command> steps;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!owner[i].empty() && !ids.contains(owner[i])) continue;
    steps.push_back(
        {"SET", tombstones[i], "1", "EX",
         absl::StrCat(absl::ToInt64Seconds(options_.tombstone_ttl))});
  }
  for (const std::string& k : kept_keys) {
    if (k == keys_.Identities(customer_id) ||
        k == keys_.MergedIds(customer_id)) {
      continue;
    }
    steps.push_back({"DEL", k});
  }
  const size_t deletes_from = steps.size() - (kept_keys.size() - 2);
  if (!steps.empty()) {
    OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies r, redis_.Pipeline(steps));
    for (size_t i = 0; i < r.size(); ++i) {
      OMNICX_RETURN_IF_ERROR(r[i].status());
      if (i >= deletes_from) result.keys_deleted += r[i]->integer();
    }
  }
  OMNICX_RETURN_IF_ERROR(Fault("erase:profile"));
  std::vector<redis::Command> unlink;
  std::vector<std::string> expected;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (owner[i].empty() || !ids.contains(owner[i])) continue;
    unlink.push_back(
        redis::EvalShaCommand(set_owner_script_, {keys[i]}, {owner[i], ""}));
    expected.push_back(owner[i]);
  }
  if (!unlink.empty()) {
    OMNICX_ASSIGN_OR_RETURN(
        redis::PipelineReplies r,
        redis_.PipelineScripts(unlink, {&set_owner_script_}));
    for (size_t i = 0; i < r.size(); ++i) {
      OMNICX_RETURN_IF_ERROR(r[i].status());
      if (r[i]->str() == expected[i]) ++result.keys_deleted;
    }
  }
  OMNICX_RETURN_IF_ERROR(Fault("erase:index"));
  OMNICX_ASSIGN_OR_RETURN(
      redis::PipelineReplies last,
      redis_.Pipeline({{"DEL", keys_.Identities(customer_id)},
                       {"DEL", keys_.MergedIds(customer_id)}}));
  for (const auto& one : last) {
    OMNICX_RETURN_IF_ERROR(one.status());
    result.keys_deleted += one->integer();
  }
  return result;
}

absl::StatusOr<bool> ProfileStore::WasErased(const CustomerRef& ref) {
  std::string key;
  // A customer whose erasure stopped in its last steps (their profile is
  // gone, their sets are not): the erasure runs again and completes.
  auto resume = [&](const std::string& cid) -> absl::StatusOr<bool> {
    OMNICX_ASSIGN_OR_RETURN(
        redis::PipelineReplies r,
        redis_.Pipeline(
            {{"EXISTS", keys_.ErasedCustomer(cid)},
             {"EXISTS", keys_.Identities(cid), keys_.MergedIds(cid)}}));
    for (const auto& one : r) OMNICX_RETURN_IF_ERROR(one.status());
    if (r[0]->integer() == 0) return false;
    if (r[1]->integer() > 0) OMNICX_RETURN_IF_ERROR(Erase(cid).status());
    return true;
  };
  if (ref.ref_case() == CustomerRef::kCustomerId) {
    return resume(ref.customer_id());
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
    OMNICX_ASSIGN_OR_RETURN(
        redis::Reply owner,
        redis_.Command({"GET", keys_.IdentityIndex(Digest(id))}));
    if (!owner.is_nil()) {
      OMNICX_ASSIGN_OR_RETURN(bool resumed, resume(owner.str()));
      if (resumed) return true;
    }
  }
  OMNICX_ASSIGN_OR_RETURN(redis::Reply r, redis_.Command({"EXISTS", key}));
  return r.integer() == 1;
}

}  // namespace omnicx::profile
