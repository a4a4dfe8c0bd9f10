// An in-process cache of per-customer state values that a service commits
// to Redis with a version check (compare-and-set). A cached value is only a
// guess that skips the read: the commit still checks the version, and on a
// conflict the caller drops the entry and reads again, so any entry — stale,
// evicted or missing — is safe.
//
//   StateCache<Snapshot> cache(50000);
//   std::optional<Snapshot> s = cache.Take(cid);  // else read from Redis
//   ... commit with s->version; on success:
//   cache.Put(cid, std::move(next));               // on conflict: nothing
//
// When full, Put evicts an arbitrary entry (no recency is kept).
#ifndef OMNICX_LIBS_REDIS_STATE_CACHE_H_
#define OMNICX_LIBS_REDIS_STATE_CACHE_H_

#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace omnicx::redis {

template <typename T>
class StateCache {
 public:
  // capacity 0 caches nothing.
  explicit StateCache(int capacity) : capacity_(capacity) {}

  // Removes and returns the entry (no copy): the caller puts its next
  // value back after committing it. Meanwhile another caller finds none
  // and reads from Redis.
  std::optional<T> Take(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    std::optional<T> out(std::move(it->second));
    entries_.erase(it);
    return out;
  }

  void Put(const std::string& key, T value) {
    if (capacity_ <= 0) return;
    absl::MutexLock lock(&mu_);
    if (entries_.size() >= static_cast<size_t>(capacity_) &&
        !entries_.contains(key)) {
      entries_.erase(entries_.begin());
    }
    entries_[key] = std::move(value);
  }

  // A copy of the entry, left in place (for small values shared by many
  // callers).
  std::optional<T> Get(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }

  // Drops every entry whose value matches (a scan: for rare events).
  template <typename Pred>
  void DropWhere(Pred pred) {
    absl::MutexLock lock(&mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (pred(it->second)) {
        entries_.erase(it++);
      } else {
        ++it;
      }
    }
  }

  void Drop(const std::string& key) {
    absl::MutexLock lock(&mu_);
    entries_.erase(key);
  }

 private:
  const int capacity_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, T> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace omnicx::redis

#endif  // OMNICX_LIBS_REDIS_STATE_CACHE_H_
