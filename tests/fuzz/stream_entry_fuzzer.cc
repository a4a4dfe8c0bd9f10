// libFuzzer target: arbitrary bytes as what the consumers read from Redis
// streams, decoded and applied by the same pure code the services run —
// without Redis or the network:
//   - a stream read reply (XREADGROUP / XAUTOCLAIM shape, or any reply
//     tree) to entries (libs/streams ParseStreamRead), and a dead-letter
//     stream entry (ParseDeadLetterEntry);
//   - each entry's event payload (the profile's event shards, the
//     journey's resolved-event shards: libs/events DecodeEventPayload),
//     applied to a journey state with the default model as the journey
//     consumer does, and the outbox record it would write folded back;
//   - merge-log records (DecodeMergeRecord: journey, recommendation);
//   - outbox records ("d": AddDelta) and churn examples ("x": Learn).
// Properties checked beyond "does not crash" (ASan + UBSan):
//   - an entry's payload is its last "e" field, its fields are in order;
//   - a dead letter's payload size counts only the original fields;
//   - a decoded resolved event has a resolved customer; a merge record has
//     two distinct customers;
//   - health stays within 1-99 and churn risk within 0.01-0.99 whatever
//     the event; a learned model predicts a probability.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "google/protobuf/stubs/logging.h"
#include "libs/events/stream_records.h"
#include "libs/redis/reply.h"
#include "libs/streams/consumer.h"
#include "libs/streams/dead_letters.h"
#include "services/journey/aggregate_delta.h"
#include "services/journey/churn_learning.h"
#include "services/journey/journey_model.h"
#include "services/journey/journey_state.h"

namespace {

namespace journey = omnicx::journey;
using omnicx::redis::Reply;

void Check(bool ok) {
  if (!ok) std::abort();
}

// Reads the input front to back; past the end every read is empty/zero.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::string Bytes(size_t n) {
    n = std::min(n, size_ - pos_);
    std::string out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
  }
  // A length-prefixed string (lengths up to 65535, so a whole payload fits).
  std::string String() {
    size_t n = Byte();
    if (n == 255) n = (size_t{Byte()} << 8) | Byte();
    return Bytes(n);
  }
  bool done() const { return pos_ >= size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Any reply tree (depth at most 6).
Reply AnyReply(Input& in, int depth) {
  switch (in.Byte() % 6) {
    case 0:
      return Reply::Nil();
    case 1: {
      int64_t v = 0;
      const std::string b = in.Bytes(8);
      std::memcpy(&v, b.data(), b.size());
      return Reply::Integer(v);
    }
    case 2:
      return Reply::String(in.String());
    case 3:
      return Reply::Status(in.String());
    case 4: {
      std::vector<Reply> elements;
      const int n = depth >= 6 ? 0 : in.Byte() % 8;
      for (int i = 0; i < n && !in.done(); ++i) {
        elements.push_back(AnyReply(in, depth + 1));
      }
      return Reply::Array(std::move(elements));
    }
    default:
      return Reply::Error(in.String());
  }
}

// A field name the consumers look for, or any.
std::string FieldName(Input& in) {
  static const char* const kNames[] = {
      "e",  "survivor",   "merged", "at",     "d",      "x",    "stream",
      "id", "deliveries", "error",  "reason", "detail", "group"};
  const uint8_t b = in.Byte();
  if (b < 13 * 16) return kNames[b % 13];
  return in.String();
}

// [id, [field, value, ...]].
Reply EntryReply(Input& in) {
  std::vector<Reply> fields;
  const int n = in.Byte() % 9;
  for (int i = 0; i < n && !in.done(); ++i) {
    fields.push_back(Reply::String(FieldName(in)));
    fields.push_back(Reply::String(in.String()));
  }
  return Reply::Array(
      {Reply::String(in.String()), Reply::Array(std::move(fields))});
}

// [[stream, [entry, ...]], ...].
Reply ReadReply(Input& in) {
  std::vector<Reply> streams;
  const int n = 1 + in.Byte() % 3;
  for (int s = 0; s < n && !in.done(); ++s) {
    std::vector<Reply> entries;
    const int m = 1 + in.Byte() % 4;
    for (int i = 0; i < m && !in.done(); ++i) entries.push_back(EntryReply(in));
    streams.push_back(Reply::Array(
        {Reply::String(in.String()), Reply::Array(std::move(entries))}));
  }
  return Reply::Array(std::move(streams));
}

const journey::CompiledModel& Model() {
  static const journey::CompiledModel* model = [] {
    auto m = journey::LoadJourneyModelFromYaml("", "defaults");
    Check(m.ok());
    return new journey::CompiledModel(*std::move(m));
  }();
  return *model;
}

void CheckFeatures(const journey::JourneyState& state, int64_t at_ms) {
  const journey::Features f = journey::ComputeFeatures(Model(), state, at_ms);
  Check(f.health >= 1 && f.health <= 99);
  Check(f.churn_risk >= journey::kMinChurnRisk &&
        f.churn_risk <= journey::kMaxChurnRisk);
}

// As the journey consumer applies a resolved event (journey_store.cc).
void ApplyResolved(const omnicx::v1::Interaction& event) {
  journey::JourneyState state;
  state.set_customer_id(event.resolved_customer_id());
  const journey::PainSnapshot before = journey::SnapshotPain(state);
  journey::ApplyEvent(Model(), event, &state);
  journey::RefreshDerived(Model(), &state);
  const int64_t now_ms = journey::StageAsOf(state);
  journey::SweepStage(Model(), &state, now_ms);
  CheckFeatures(state, now_ms);
  (void)journey::Summarize(Model(), state, now_ms);
  const journey::AggregateFields delta =
      journey::PainDelta(before, journey::SnapshotPain(state));
  journey::FoldedDeltas sum;
  Check(journey::AddDelta(journey::EncodeDelta(delta, {}), &sum).ok());
  Check(sum.pain == delta);
}

void HandleEntry(const omnicx::streams::StreamEntry& entry) {
  std::string last_e;
  for (const auto& [name, value] : entry.fields) {
    if (name == "e") last_e = value;
  }
  Check(entry.payload == last_e);

  if (auto event = omnicx::events::DecodeEventPayload(entry.payload, false)) {
    (void)event->ByteSizeLong();
  }
  if (auto event = omnicx::events::DecodeEventPayload(entry.payload, true)) {
    Check(!event->resolved_customer_id().empty());
    ApplyResolved(*event);
  }
  if (auto merge = omnicx::events::DecodeMergeRecord(entry.fields)) {
    Check(!merge->survivor.empty() && !merge->merged.empty());
    Check(merge->survivor != merge->merged);
  }
  for (const auto& [name, value] : entry.fields) {
    if (name == "d") {
      journey::FoldedDeltas sum;
      (void)journey::AddDelta(value, &sum);
    }
    if (name == "x") {
      journey::ChurnExample example;
      if (!example.ParseFromString(value)) continue;
      journey::LearnedChurnModel learned;
      journey::Learn(Model(), example, &learned);
      const double p = journey::PredictExample(learned, example);
      Check(p >= 0 && p <= 1);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  (void)Model();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  const uint8_t mode = in.Byte();
  const Reply reply = (mode & 1) ? AnyReply(in, 0) : ReadReply(in);
  for (const omnicx::streams::StreamEntry& entry :
       omnicx::streams::ParseStreamRead(reply)) {
    HandleEntry(entry);
  }
  // The same replies as dead-letter entries.
  for (const Reply& stream : reply.elements()) {
    if (stream.elements().size() < 2) continue;
    for (const Reply& e : stream.elements()[1].elements()) {
      for (bool with_fields : {false, true}) {
        const omnicx::streams::DeadLetterEntry dead =
            omnicx::streams::ParseDeadLetterEntry(e, with_fields);
        Check(dead.payload_bytes >= 0);
        int64_t bytes = 0;
        for (const auto& [name, value] : dead.fields) {
          Check(name != "stream" && name != "deliveries" && name != "error");
          bytes += static_cast<int64_t>(name.size() + value.size());
        }
        if (with_fields) Check(bytes == dead.payload_bytes);
      }
    }
  }
  return 0;
}
