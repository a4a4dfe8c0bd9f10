#include "libs/server/dead_letter_service.h"

#include <cmath>
#include <memory>

#include "absl/strings/numbers.h"
#include "libs/server/reactor.h"
#include "libs/time/proto_time.h"

namespace omnicx::server {
namespace {

constexpr char kList[] = "/omnicx.v1.DeadLetterService/ListDeadLetters";
constexpr char kGet[] = "/omnicx.v1.DeadLetterService/GetDeadLetter";
constexpr char kReplay[] = "/omnicx.v1.DeadLetterService/ReplayDeadLetter";
constexpr char kDrop[] = "/omnicx.v1.DeadLetterService/DropDeadLetter";

void ToProto(const streams::DeadLetterEntry& e, omnicx::v1::DeadLetter* out) {
  out->set_id(e.id);
  int64_t ms = 0;
  if (absl::SimpleAtoi(e.id.substr(0, e.id.find('-')), &ms)) {
    *out->mutable_dead_lettered_at() = time::TimestampFromUnixMillis(ms);
  }
  out->set_source_stream(e.source_stream);
  out->set_source_id(e.source_id);
  out->set_group(e.group);
  out->set_deliveries(e.deliveries);
  out->set_error(e.error);
  out->set_payload_bytes(e.payload_bytes);
  for (const auto& [name, value] : e.fields) {
    (*out->mutable_fields())[name] = value;
  }
}

}  // namespace

grpc::ServerUnaryReactor* DeadLetterServiceImpl::ListDeadLetters(
    grpc::CallbackServerContext* context,
    const omnicx::v1::ListDeadLettersRequest* request,
    omnicx::v1::ListDeadLettersResponse* response) {
  absl::StatusOr<auth::Principal> who = auth_.Authorize(*context, kList);
  if (!who.ok()) return FinishWith(context, who.status());
  const int limit = request->limit() == 0 ? 100 : request->limit();
  absl::StatusOr<std::vector<streams::DeadLetterEntry>> page =
      queue_.List(request->after_id(), limit);
  if (!page.ok()) return FinishWith(context, page.status());
  absl::StatusOr<int64_t> depth = queue_.Depth();
  if (!depth.ok()) return FinishWith(context, depth.status());
  for (const streams::DeadLetterEntry& e : *page) {
    ToProto(e, response->add_entries());
  }
  response->set_depth(*depth);
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* DeadLetterServiceImpl::GetDeadLetter(
    grpc::CallbackServerContext* context,
    const omnicx::v1::DeadLetterRef* request,
    omnicx::v1::DeadLetter* response) {
  absl::StatusOr<auth::Principal> who = auth_.Authorize(*context, kGet);
  if (!who.ok()) return FinishWith(context, who.status());
  absl::StatusOr<streams::DeadLetterEntry> entry = queue_.Get(request->id());
  if (!entry.ok()) return FinishWith(context, entry.status());
  ToProto(*entry, response);
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* DeadLetterServiceImpl::ReplayDeadLetter(
    grpc::CallbackServerContext* context,
    const omnicx::v1::DeadLetterRef* request,
    omnicx::v1::ReplayDeadLetterResponse* /*response*/) {
  absl::StatusOr<auth::Principal> who = auth_.Authorize(*context, kReplay);
  if (!who.ok()) return FinishWith(context, who.status());
  return FinishWith(context, queue_.Replay(request->id()));
}

grpc::ServerUnaryReactor* DeadLetterServiceImpl::DropDeadLetter(
    grpc::CallbackServerContext* context,
    const omnicx::v1::DeadLetterRef* request,
    omnicx::v1::DropDeadLetterResponse* /*response*/) {
  absl::StatusOr<auth::Principal> who = auth_.Authorize(*context, kDrop);
  if (!who.ok()) return FinishWith(context, who.status());
  return FinishWith(context, queue_.Drop(request->id()));
}

void AddDeadLetterService(ServiceContext& context, const std::string& group,
                          std::vector<streams::StreamConsumer*> consumers,
                          ServiceBundle& bundle) {
  auto queue = std::make_shared<streams::DeadLetterQueue>(
      context.redis, context.keys.DeadLetter(group), std::move(consumers));
  context.metrics.Callback(
      {"omnicx_dead_letters",
       "Entries in this service's dead-letter stream (./omnicx dlq list).",
       metrics::Type::kGauge, [queue] {
         absl::StatusOr<int64_t> depth = queue->Depth();
         return depth.ok() ? static_cast<double>(*depth) : std::nan("");
       }});
  bundle.services.push_back(
      std::make_unique<DeadLetterServiceImpl>(*queue, context.auth));
  bundle.service_names.push_back(
      omnicx::v1::DeadLetterService::service_full_name());
  bundle.keep_alive.push_back(queue);
}

}  // namespace omnicx::server
