#include "libs/streams/dead_letters.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"

namespace omnicx::streams {
namespace {

// The fields StreamConsumer::ClaimIdle puts before the original ones, and
// the reason and detail of the ingestion's HTTP dead letters (events the
// tracking API refused alone; nothing consumes them, so they are listed and
// dropped, never replayed).
bool IsMetaField(absl::string_view name) {
  return name == "stream" || name == "id" || name == "group" ||
         name == "deliveries" || name == "error" || name == "reason" ||
         name == "detail";
}

absl::Status CheckId(absl::string_view id) {
  if (IsStreamEntryId(id)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "dead-letter id must be a stream entry id like 1733370000000-0");
}

}  // namespace

DeadLetterEntry ParseDeadLetterEntry(const redis::Reply& entry,
                                     bool with_fields) {
  DeadLetterEntry out;
  if (entry.elements().size() < 2) return out;
  out.id = entry.elements()[0].str();
  const auto& fields = entry.elements()[1].elements();
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i].str();
    const std::string& value = fields[i + 1].str();
    if (name == "stream") {
      out.source_stream = value;
    } else if (name == "id") {
      out.source_id = value;
    } else if (name == "group") {
      out.group = value;
    } else if (name == "deliveries") {
      out.deliveries = std::strtoll(value.c_str(), nullptr, 10);
    } else if (name == "error" || name == "reason") {
      out.error =
          out.error.empty() ? value : absl::StrCat(value, ": ", out.error);
    } else if (name == "detail") {
      out.error =
          out.error.empty() ? value : absl::StrCat(out.error, ": ", value);
    }
    if (IsMetaField(name)) continue;
    out.payload_bytes += static_cast<int64_t>(name.size() + value.size());
    if (with_fields) out.fields.emplace_back(name, value);
  }
  return out;
}

bool IsStreamEntryId(absl::string_view id) {
  const size_t dash = id.find('-');
  if (dash == absl::string_view::npos || dash == 0 || dash + 1 >= id.size() ||
      id.size() > 41) {
    return false;
  }
  for (size_t i = 0; i < id.size(); ++i) {
    if (i != dash && !absl::ascii_isdigit(static_cast<unsigned char>(id[i]))) {
      return false;
    }
  }
  return true;
}

DeadLetterQueue::DeadLetterQueue(redis::Client& redis, std::string key,
                                 std::vector<StreamConsumer*> consumers)
    : redis_(redis), key_(std::move(key)), consumers_(std::move(consumers)) {}

absl::StatusOr<std::vector<DeadLetterEntry>> DeadLetterQueue::List(
    absl::string_view after_id, int limit) const {
  if (!after_id.empty()) OMNICX_RETURN_IF_ERROR(CheckId(after_id));
  if (limit < 1 || limit > 1000) {
    return absl::InvalidArgumentError("limit must be 1-1000");
  }
  const std::string start =
      after_id.empty() ? "-" : absl::StrCat("(", after_id);
  OMNICX_ASSIGN_OR_RETURN(redis::Reply reply,
                          redis_.Command({"XRANGE", key_, start, "+", "COUNT",
                                          absl::StrCat(limit)}));
  std::vector<DeadLetterEntry> out;
  for (const redis::Reply& e : reply.elements()) {
    out.push_back(ParseDeadLetterEntry(e, /*with_fields=*/false));
  }
  return out;
}

absl::StatusOr<int64_t> DeadLetterQueue::Depth() const {
  OMNICX_ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"XLEN", key_}));
  return reply.integer();
}

absl::StatusOr<DeadLetterEntry> DeadLetterQueue::Get(
    absl::string_view id) const {
  OMNICX_RETURN_IF_ERROR(CheckId(id));
  const std::string sid(id);
  OMNICX_ASSIGN_OR_RETURN(redis::Reply reply,
                          redis_.Command({"XRANGE", key_, sid, sid}));
  if (reply.elements().empty()) {
    return absl::NotFoundError(absl::StrCat("no dead letter ", id));
  }
  return ParseDeadLetterEntry(reply.elements()[0], /*with_fields=*/true);
}

absl::Status DeadLetterQueue::Replay(absl::string_view id) {
  OMNICX_ASSIGN_OR_RETURN(DeadLetterEntry dead, Get(id));
  StreamConsumer* consumer = nullptr;
  for (StreamConsumer* c : consumers_) {
    if (c->Reads(dead.source_stream)) consumer = c;
  }
  if (consumer == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("no consumer of this service reads ", dead.source_stream));
  }
  StreamEntry entry;
  entry.stream = dead.source_stream;
  entry.id = dead.source_id;
  entry.deliveries = dead.deliveries + 1;
  for (auto& [name, value] : dead.fields) {
    if (name == "e") entry.payload = value;
    entry.fields.emplace_back(std::move(name), std::move(value));
  }
  if (absl::Status applied = consumer->Replay(entry); !applied.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("replay failed again: ", applied.message()));
  }
  OMNICX_LOG(kInfo) << "dead letter " << id << " (" << dead.source_stream << "/"
                    << dead.source_id << ") replayed";
  return redis_.Command({"XDEL", key_, std::string(id)}).status();
}

absl::Status DeadLetterQueue::Drop(absl::string_view id) {
  OMNICX_RETURN_IF_ERROR(CheckId(id));
  OMNICX_ASSIGN_OR_RETURN(redis::Reply reply,
                          redis_.Command({"XDEL", key_, std::string(id)}));
  if (reply.integer() == 0) {
    return absl::NotFoundError(absl::StrCat("no dead letter ", id));
  }
  OMNICX_LOG(kInfo) << "dead letter " << id << " dropped";
  return absl::OkStatus();
}

}  // namespace omnicx::streams
