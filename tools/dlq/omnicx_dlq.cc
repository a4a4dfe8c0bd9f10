// omnicx-dlq: an operator's view of one service's dead letters (the stream
// entries its consumers gave up on), over DeadLetterService.
//
//   omnicx-dlq --key_file=.state/keys/admin.key --address=127.0.0.1:50053 list
//   omnicx-dlq ... show 1733370000000-0     (with the entry's fields)
//   omnicx-dlq ... replay 1733370000000-0   (applies it once, then removes)
//   omnicx-dlq ... drop 1733370000000-0
//   [--tls_ca_file F [--tls_cert_file F --tls_key_file F]] [--limit=100]
//
// `--key_file` holds an admin API key. `./omnicx dlq` runs this for each
// consumer service (profile, journey, recommendation) or one (--service).
// Exit status: 0 done, 1 the call failed, 2 bad usage, 3 no such entry.
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "libs/time/proto_time.h"
#include "omnicx/v1/dead_letters.grpc.pb.h"
#include "tools/lib/tool_client.h"

namespace {

void PrintEntry(const omnicx::v1::DeadLetter& e) {
  std::printf("%s  %s  %s/%s  deliveries %lld  %lld bytes\n  error: %s\n",
              e.id().c_str(),
              absl::FormatTime("%Y-%m-%d %H:%M:%S",
                               omnicx::time::FromProto(e.dead_lettered_at()),
                               absl::UTCTimeZone())
                  .c_str(),
              e.source_stream().c_str(), e.source_id().c_str(),
              static_cast<long long>(e.deliveries()),
              static_cast<long long>(e.payload_bytes()), e.error().c_str());
}

// Printable bytes as they are, others as \xNN (fields hold serialised
// protobuf events).
std::string Escaped(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  omnicx::tools::ToolClient client("omnicx-dlq", "127.0.0.1:50053");
  int limit = 100;
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    if (client.ParseFlag(argc, argv, i)) continue;
    const std::string a = argv[i];
    if (absl::StartsWith(a, "--limit=")) {
      if (!absl::SimpleAtoi(a.substr(8), &limit)) return 2;
    } else if (!absl::StartsWith(a, "--")) {
      words.push_back(a);
    } else {
      words.clear();
      break;
    }
  }
  const std::string verb = words.empty() ? "" : words[0];
  const bool needs_id = verb == "show" || verb == "replay" || verb == "drop";
  if (!(verb == "list" && words.size() == 1) &&
      !(needs_id && words.size() == 2)) {
    std::cerr << "usage: omnicx-dlq " << omnicx::tools::ToolClient::kFlagsUsage
              << " [--limit=100] (list | show ID | replay ID | drop ID)\n";
    return 2;
  }
  if (!client.Connect().ok()) return 2;
  auto stub = omnicx::v1::DeadLetterService::NewStub(client.channel());
  grpc::ClientContext context;
  client.Prepare(context, absl::Seconds(10));
  omnicx::v1::DeadLetterRef ref;
  if (needs_id) ref.set_id(words[1]);

  if (verb == "list") {
    omnicx::v1::ListDeadLettersRequest request;
    request.set_limit(limit);
    omnicx::v1::ListDeadLettersResponse response;
    grpc::Status status = stub->ListDeadLetters(&context, request, &response);
    if (!status.ok()) return client.Fail(status);
    std::printf(
        "%lld dead letter(s)%s\n", static_cast<long long>(response.depth()),
        response.depth() > response.entries_size()
            ? absl::StrCat(", the oldest ", response.entries_size(), " shown")
                  .c_str()
            : "");
    for (const auto& e : response.entries()) PrintEntry(e);
    return 0;
  }
  if (verb == "show") {
    omnicx::v1::DeadLetter response;
    grpc::Status status = stub->GetDeadLetter(&context, ref, &response);
    if (!status.ok()) return client.Fail(status);
    PrintEntry(response);
    for (const auto& [name, value] : response.fields()) {
      std::printf("  %s: %s\n", name.c_str(), Escaped(value).c_str());
    }
    return 0;
  }
  if (verb == "replay") {
    omnicx::v1::ReplayDeadLetterResponse response;
    grpc::Status status = stub->ReplayDeadLetter(&context, ref, &response);
    if (!status.ok()) return client.Fail(status);
    std::printf("replayed %s\n", ref.id().c_str());
    return 0;
  }
  omnicx::v1::DropDeadLetterResponse response;
  grpc::Status status = stub->DropDeadLetter(&context, ref, &response);
  if (!status.ok()) return client.Fail(status);
  std::printf("dropped %s\n", ref.id().c_str());
  return 0;
}
