#include "libs/streams/consumer.h"

#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"

namespace omnicx::streams {

std::vector<StreamEntry> ParseStreamRead(const redis::Reply& reply) {
  std::vector<StreamEntry> out;
  for (const redis::Reply& stream : reply.elements()) {
    if (stream.elements().size() < 2) continue;
    const std::string& name = stream.elements()[0].str();
    for (const redis::Reply& entry : stream.elements()[1].elements()) {
      if (entry.elements().size() < 2) continue;
      StreamEntry e;
      e.stream = name;
      e.id = entry.elements()[0].str();
      const auto& fields = entry.elements()[1].elements();
      for (size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str() == "e") e.payload = fields[i + 1].str();
        e.fields.emplace_back(fields[i].str(), fields[i + 1].str());
      }
      out.push_back(std::move(e));
    }
  }
  return out;
}

std::string DefaultConsumerName() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return host[0] ? std::string(host) : absl::StrCat("pid-", getpid());
}

StreamConsumer::StreamConsumer(redis::Client& redis, ConsumerOptions options,
                               Handler handler)
    : StreamConsumer(
          redis, std::move(options), Batched{},
          [handler = std::move(handler)](const std::vector<StreamEntry>& es) {
            std::vector<absl::Status> out;
            out.reserve(es.size());
            for (const StreamEntry& e : es) out.push_back(handler(e));
            return out;
          }) {}

StreamConsumer::StreamConsumer(redis::Client& redis, ConsumerOptions options,
                               Batched, BatchHandler handler)
    : redis_(redis),
      options_(std::move(options)),
      handler_(std::move(handler)) {}

StreamConsumer::~StreamConsumer() { Stop(); }

absl::Status StreamConsumer::EnsureGroups() {
  std::vector<redis::Command> commands;
  for (const std::string& s : options_.streams) {
    commands.push_back(
        {"XGROUP", "CREATE", s, options_.group, "0", "MKSTREAM"});
  }
  OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies replies,
                          redis_.Pipeline(commands));
  for (const auto& r : replies) {
    if (!r.ok() &&
        r.status().message().find("BUSYGROUP") == absl::string_view::npos) {
      return r.status();
    }
  }
  return absl::OkStatus();
}

void StreamConsumer::Start() {
  thread_ = std::thread([this] { Run(); });
}

void StreamConsumer::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<int> StreamConsumer::HandleAll(
    const std::vector<StreamEntry>& entries) {
  // One XACK per stream, naming every entry of it that was handled.
  std::map<std::string, redis::Command> acks;
  int handled = 0;
  if (entries.empty()) return 0;
  std::vector<absl::Status> results = HandleReplicated(entries);
  for (size_t i = 0; i < entries.size(); ++i) {
    const StreamEntry& e = entries[i];
    const absl::Status& s = results[i];
    if (s.ok()) {
      redis::Command& ack = acks[e.stream];
      if (ack.empty()) ack = {"XACK", e.stream, options_.group};
      ack.push_back(e.id);
      stats_.applied++;
      ++handled;
    } else {
      // Left pending: redelivered by ClaimIdle, dead-lettered after
      // max_deliveries. A failure that may pass (Redis unreachable or
      // slow, a race) is also retried by this consumer shortly (Run), so
      // a dropped connection does not hold the entry for claim_idle.
      if (absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) ||
          absl::IsAborted(s) || absl::IsResourceExhausted(s)) {
        retry_own_pending_ = true;
      }
      stats_.failed++;
      OMNICX_LOG(kWarn) << "group=" << options_.group << " entry " << e.stream
                        << "/" << e.id << " not applied: " << s;
    }
  }
  if (!acks.empty()) {
    std::vector<redis::Command> commands;
    for (auto& [stream, ack] : acks) commands.push_back(std::move(ack));
    OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies r,
                            redis_.Pipeline(commands));
    for (const auto& one : r) OMNICX_RETURN_IF_ERROR(one.status());
  }
  return handled;
}

std::vector<absl::Status> StreamConsumer::HandleReplicated(
    const std::vector<StreamEntry>& entries) {
  std::vector<absl::Status> results;
  absl::Status replicated;
  {
    redis::ReplicaWaitScope wait(options_.replica_wait);
    results = handler_(entries);
    replicated = wait.status();
  }
  results.resize(entries.size(),
                 absl::InternalError("handler returned too few results"));
  if (!replicated.ok()) {
    // Applied, perhaps, but not known to survive a failover: handled again.
    for (absl::Status& s : results) {
      if (s.ok()) s = replicated;
    }
  }
  return results;
}

redis::Command StreamConsumer::ReadNew(const std::string& stream,
                                       absl::Duration block) const {
  redis::Command read = {"XREADGROUP",   "GROUP",
                         options_.group, options_.consumer,
                         "COUNT",        absl::StrCat(options_.batch)};
  if (block > absl::ZeroDuration()) {
    read.push_back("BLOCK");
    // BLOCK 0 would wait forever.
    read.push_back(
        absl::StrCat(std::max<int64_t>(1, absl::ToInt64Milliseconds(block))));
  }
  read.push_back("STREAMS");
  read.push_back(stream);
  read.push_back(">");
  return read;
}

absl::StatusOr<int> StreamConsumer::BlockingRead(const std::string& stream,
                                                 absl::Duration block) {
  redis::Client& reads =
      options_.blocking_reads != nullptr ? *options_.blocking_reads : redis_;
  OMNICX_ASSIGN_OR_RETURN(
      redis::Reply reply,
      reads.Command(ReadNew(stream, block), block + absl::Seconds(1)));
  if (reply.is_nil()) return 0;
  return HandleAll(ParseStreamRead(reply));
}

absl::StatusOr<int> StreamConsumer::PollOnce(absl::Duration block) {
  const std::vector<std::string>& streams = options_.streams;
  if (streams.empty()) return 0;
  // One stream: wait on it for the whole block.
  if (streams.size() == 1) return BlockingRead(streams[0], block);
  // Several: each is its own slot (a Cluster refuses one XREADGROUP naming
  // them all), so one non-blocking read per stream, in one pipeline (the
  // client splits it per node)...
  std::vector<redis::Command> reads;
  reads.reserve(streams.size());
  for (const std::string& s : streams) {
    reads.push_back(ReadNew(s, absl::ZeroDuration()));
  }
  OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies replies,
                          redis_.Pipeline(reads));
  std::vector<StreamEntry> entries;
  absl::Status failed;
  for (const absl::StatusOr<redis::Reply>& r : replies) {
    if (!r.ok()) {
      // NOGROUP (the stream was flushed): the others are still handled;
      // the error makes Run re-create the groups.
      failed.Update(r.status());
      continue;
    }
    if (r->is_nil()) continue;
    std::vector<StreamEntry> read = ParseStreamRead(*r);
    std::move(read.begin(), read.end(), std::back_inserter(entries));
  }
  if (!entries.empty() || !failed.ok() || block <= absl::ZeroDuration()) {
    OMNICX_ASSIGN_OR_RETURN(int handled, HandleAll(entries));
    if (!failed.ok()) return failed;
    return handled;
  }
  // ...and, when all were empty, a blocking read on one of them for at most
  // block_slice, rotating, so an entry on the stream waited on is taken at
  // once and one on another within block_slice.
  const std::string& next = streams[next_blocking_++ % streams.size()];
  return BlockingRead(next, std::min(block, options_.block_slice));
}

absl::StatusOr<int> StreamConsumer::RecoverPending() {
  int total = 0;
  for (const std::string& s : options_.streams) {
    OMNICX_ASSIGN_OR_RETURN(
        redis::Reply reply,
        redis_.Command({"XREADGROUP", "GROUP", options_.group,
                        options_.consumer, "COUNT", "1000", "STREAMS", s,
                        "0"}));
    if (reply.is_nil()) continue;
    OMNICX_ASSIGN_OR_RETURN(int n, HandleAll(ParseStreamRead(reply)));
    total += n;
  }
  return total;
}

bool StreamConsumer::Reads(absl::string_view stream) const {
  return std::find(options_.streams.begin(), options_.streams.end(), stream) !=
         options_.streams.end();
}

absl::Status StreamConsumer::Replay(const StreamEntry& entry) {
  std::vector<absl::Status> one = HandleReplicated({entry});
  if (one[0].ok()) stats_.applied++;
  return one[0];
}

absl::StatusOr<int> StreamConsumer::ClaimIdle() {
  int total = 0;
  const std::string idle_ms =
      absl::StrCat(absl::ToInt64Milliseconds(options_.claim_idle));
  for (const std::string& s : options_.streams) {
    // Delivery counts of the idle entries, to spot poison ones.
    OMNICX_ASSIGN_OR_RETURN(
        redis::Reply pending,
        redis_.Command({"XPENDING", s, options_.group, "IDLE", idle_ms, "-",
                        "+", "1000"}));
    absl::flat_hash_map<std::string, int64_t> deliveries;
    for (const redis::Reply& p : pending.elements()) {
      if (p.elements().size() >= 4) {
        deliveries[p.elements()[0].str()] = p.elements()[3].integer();
      }
    }
    if (deliveries.empty()) continue;
    OMNICX_ASSIGN_OR_RETURN(
        redis::Reply claimed,
        redis_.Command({"XAUTOCLAIM", s, options_.group, options_.consumer,
                        idle_ms, "0-0", "COUNT", "1000"}));
    if (claimed.elements().size() < 2) continue;
    redis::Reply wrapped = redis::Reply::Array({redis::Reply::Array(
        {redis::Reply::String(s), claimed.elements()[1]})});
    std::vector<redis::Command> writes;
    for (StreamEntry& e : ParseStreamRead(wrapped)) {
      stats_.claimed++;
      // XAUTOCLAIM counted this delivery too.
      e.deliveries = deliveries.count(e.id) ? deliveries[e.id] + 1 : 1;
      absl::Status result = HandleReplicated({e})[0];
      if (result.ok()) {
        stats_.applied++;
        ++total;
        writes.push_back({"XACK", e.stream, options_.group, e.id});
      } else if (e.deliveries >= options_.max_deliveries) {
        redis::Command dead = {"XADD",
                               options_.dead_letter,
                               "*",
                               "stream",
                               e.stream,
                               "id",
                               e.id,
                               "group",
                               options_.group,
                               "deliveries",
                               absl::StrCat(e.deliveries),
                               "error",
                               std::string(result.message())};
        // The original fields ("e" for events) follow, so a replay has them.
        for (const auto& [name, value] : e.fields) {
          if (name == "stream" || name == "id" || name == "group" ||
              name == "deliveries" || name == "error") {
            continue;
          }
          dead.push_back(name);
          dead.push_back(value);
        }
        if (e.fields.empty()) {
          dead.push_back("e");
          dead.push_back(e.payload);
        }
        // Acknowledged only once the dead-letter copy is stored: in one
        // pipeline, Redis could refuse the XADD (out of memory, say) and
        // still take the XACK, and the entry would be gone from both.
        // Otherwise it stays pending and the next claim tries again.
        absl::StatusOr<redis::Reply> stored;
        {
          redis::ReplicaWaitScope wait(options_.replica_wait);
          stored = redis_.Command(dead);
          if (stored.ok() && !wait.status().ok()) stored = wait.status();
        }
        if (!stored.ok()) {
          stats_.failed++;
          OMNICX_LOG(kError) << "group=" << options_.group << " entry "
                             << e.stream << "/" << e.id
                             << " could not be dead-lettered (it stays "
                                "pending): "
                             << stored.status();
          continue;
        }
        OMNICX_RETURN_IF_ERROR(
            redis_.Command({"XACK", e.stream, options_.group, e.id}).status());
        stats_.dead_lettered++;
        OMNICX_LOG(kError) << "group=" << options_.group << " entry "
                           << e.stream << "/" << e.id << " dead-lettered after "
                           << e.deliveries << " deliveries: " << result;
      } else {
        stats_.failed++;
      }
    }
    if (!writes.empty()) {
      OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies r,
                              redis_.Pipeline(writes));
      for (const auto& one : r) OMNICX_RETURN_IF_ERROR(one.status());
    }
  }
  return total;
}

void StreamConsumer::Run() {
  bool ready = false;
  absl::Time next_claim = absl::Now();
  while (!stop_.HasBeenNotified()) {
    if (!ready) {
      ready = EnsureGroups().ok() && RecoverPending().ok();
      if (!ready) {
        stop_.WaitForNotificationWithTimeout(absl::Seconds(1));
        continue;
      }
    }
    if (absl::Now() >= next_claim) {
      next_claim = absl::Now() + options_.claim_interval;
      absl::StatusOr<int> claimed = ClaimIdle();
      if (!claimed.ok()) OMNICX_LOG(kWarn) << "claim: " << claimed.status();
    }
    absl::StatusOr<int> n = PollOnce(options_.block);
    if (!n.ok()) {
      // Redis down or the group gone (flushed): back off, then re-create.
      ready = false;
      stop_.WaitForNotificationWithTimeout(absl::Milliseconds(500));
    } else if (retry_own_pending_) {
      // Entries of this read failed for a reason that may pass: back off,
      // then read them again (RecoverPending) before anything new.
      retry_own_pending_ = false;
      stop_.WaitForNotificationWithTimeout(options_.retry_backoff);
      ready = false;
    }
  }
}

std::vector<int> ShardsOfConsumer(int consumer, int consumers, int shards) {
  std::vector<int> out;
  if (consumers <= 0 || shards <= 0) return out;
  if (consumers > shards) return {consumer % shards};
  for (int s = consumer; s < shards; s += consumers) out.push_back(s);
  return out;
}

}  // namespace omnicx::streams
