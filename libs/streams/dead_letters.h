// The dead-letter stream of one consumer group, for operators: list, show,
// replay and drop the entries StreamConsumer gave up on (see consumer.h for
// how they get there and which fields they carry).
//
//   DeadLetterQueue dlq(redis, keys.DeadLetter("journey"), {&c1, &c2});
//   auto page = dlq.List(/*after_id=*/"", /*limit=*/100);
//   absl::Status s = dlq.Replay(page->at(0).id);  // applied once, removed
//
// Replay hands the original entry to the local consumer that reads its
// source stream (every replica runs consumers for every shard) and removes
// it from the dead-letter stream only when that handler succeeds. A crash
// between the two leaves it listed; replaying it again is harmless because
// handlers are idempotent (applied-event fingerprints).
#ifndef OMNICX_LIBS_STREAMS_DEAD_LETTERS_H_
#define OMNICX_LIBS_STREAMS_DEAD_LETTERS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/redis/client.h"
#include "libs/streams/consumer.h"

namespace omnicx::streams {

struct DeadLetterEntry {
  std::string id;  // in the dead-letter stream
  std::string source_stream;
  std::string source_id;
  std::string group;
  int64_t deliveries = 0;
  std::string error;
  // The original entry's fields ("e" = the event); empty from List.
  std::vector<std::pair<std::string, std::string>> fields;
  int64_t payload_bytes = 0;
};

class DeadLetterQueue {
 public:
  // `consumers` are this process's consumers whose dead letters go to
  // `key`; they must outlive the queue.
  DeadLetterQueue(redis::Client& redis, std::string key,
                  std::vector<StreamConsumer*> consumers);

  // Up to `limit` (1-1000) entries after `after_id` ("" = the oldest),
  // oldest first, without their fields.
  absl::StatusOr<std::vector<DeadLetterEntry>> List(absl::string_view after_id,
                                                    int limit) const;
  // Entries in the stream.
  absl::StatusOr<int64_t> Depth() const;
  // NOT_FOUND when there is no such entry.
  absl::StatusOr<DeadLetterEntry> Get(absl::string_view id) const;
  // NOT_FOUND; FAILED_PRECONDITION with the handler's error when it fails
  // again or no local consumer reads the source stream (the entry stays).
  absl::Status Replay(absl::string_view id);
  // NOT_FOUND when there is no such entry.
  absl::Status Drop(absl::string_view id);

 private:
  redis::Client& redis_;
  const std::string key_;
  const std::vector<StreamConsumer*> consumers_;
};

// One XRANGE entry of a dead-letter stream, [id, [field, value, ...]], to
// an entry (its original fields kept when `with_fields`); a malformed entry
// gives what could be read (pure, fuzzed in tests/fuzz).
DeadLetterEntry ParseDeadLetterEntry(const redis::Reply& entry,
                                     bool with_fields);

// Whether `id` has the form of a stream entry id ("<ms>-<seq>").
bool IsStreamEntryId(absl::string_view id);

}  // namespace omnicx::streams

#endif  // OMNICX_LIBS_STREAMS_DEAD_LETTERS_H_
