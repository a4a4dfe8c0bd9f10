// omnicx-context: the agent's view of a customer, printed for people.
//
//   omnicx-context --key_file=.state/keys/agent.key --phone=+15551234567
//       [--address=127.0.0.1:50052]
//   omnicx-context --key_file=F --email=a@example.com --channel=CHANNEL_VOICE
//   omnicx-context --key_file=F --customer-id=c_... --limit=10
//   omnicx-context --key_file=F --phone=... --tls_ca_file=ca.pem
//       --tls_cert_file=c.crt --tls_key_file=c.key   (TLS; cert+key: mTLS)
//
// `--key_file` holds an agent API key (plaintext), sent as
// `authorization: Bearer <key>`; `./omnicx context` passes the dev one.
// Calls ProfileService.GetCustomerContext (with recommendations) and prints
// the profile with masked identities, journey, open cases and drivers, the
// cross-channel timeline, next-best actions, and which sections are missing.
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "libs/status/error_details.h"
#include "libs/time/proto_time.h"
#include "omnicx/v1/profile.grpc.pb.h"
#include "tools/lib/tool_client.h"

namespace {

std::string Time(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M", omnicx::time::FromProto(ts),
                          absl::UTCTimeZone());
}

std::string Short(const std::string& enum_name, const std::string& prefix) {
  return absl::StartsWith(enum_name, prefix) ? enum_name.substr(prefix.size())
                                             : enum_name;
}

std::string ValueText(const google::protobuf::Value& v) {
  switch (v.kind_case()) {
    case google::protobuf::Value::kStringValue:
      return v.string_value();
    case google::protobuf::Value::kNumberValue:
      return absl::StrCat(v.number_value());
    case google::protobuf::Value::kBoolValue:
      return v.bool_value() ? "true" : "false";
    default:
      return "...";
  }
}

void Print(const omnicx::v1::CustomerContext& c) {
  const auto& p = c.profile();
  std::printf("\nCustomer %s\n", p.customer_id().c_str());
  std::printf(
      "  first seen %s   last seen %s   touchpoints %lld   lifetime value "
      "%.2f\n",
      Time(p.first_seen()).c_str(), Time(p.last_seen()).c_str(),
      static_cast<long long>(p.event_count()), p.lifetime_value());
  std::vector<std::string> ids;
  for (const auto& i : p.identities())
    ids.push_back(absl::StrCat(i.type(), " ", i.value()));
  std::printf("  identities: %s\n",
              ids.empty() ? "-" : absl::StrJoin(ids, ", ").c_str());
  std::vector<std::string> claims;
  for (const auto& i : p.unverified_identities())
    claims.push_back(absl::StrCat(i.type(), " ", i.value()));
  if (!claims.empty()) {
    std::printf("  unverified (claimed, not linked): %s\n",
                absl::StrJoin(claims, ", ").c_str());
  }
  std::vector<std::string> consents;
  for (const auto& k : p.consents()) {
    consents.push_back(
        absl::StrCat(k.purpose(), k.granted() ? " granted" : " WITHDRAWN", " (",
                     k.source(), ", ", Time(k.updated_at()), ")"));
  }
  std::printf("  consents: %s\n", consents.empty()
                                      ? "none recorded"
                                      : absl::StrJoin(consents, "; ").c_str());
  std::vector<std::string> traits;
  for (const auto& [k, v] : p.traits().fields())
    traits.push_back(absl::StrCat(k, "=", ValueText(v)));
  if (!traits.empty())
    std::printf("  traits: %s\n", absl::StrJoin(traits, ", ").c_str());

  if (c.has_journey()) {
    const auto& j = c.journey();
    std::printf(
        "\nJourney: %s since %s   health %.0f/100   churn risk %.0f%%\n",
        Short(omnicx::v1::Stage_Name(j.stage()), "STAGE_").c_str(),
        Time(j.stage_entered_at()).c_str(), j.health(), 100 * j.churn_risk());
    if (!j.segments().empty()) {
      std::printf("  segments: %s\n",
                  absl::StrJoin(j.segments(), ", ").c_str());
    }
    for (const auto& oc : j.open_cases()) {
      std::printf("  OPEN CASE %s: %d contacts since %s (last %s)\n",
                  oc.case_id().c_str(), oc.contact_count(),
                  Time(oc.opened_at()).c_str(),
                  Time(oc.last_contact_at()).c_str());
    }
    for (const auto& d : j.drivers()) {
      std::printf(
          "  %+6.1f  %s %s (%s)\n", d.impact(),
          Short(omnicx::v1::Channel_Name(d.channel()), "CHANNEL_").c_str(),
          d.touchpoint().c_str(), d.type().c_str());
    }
  }

  std::printf("\nRecent touchpoints (newest first):\n");
  if (c.recent().empty()) std::printf("  none\n");
  for (const auto& e : c.recent()) {
    std::string extra;
    if (e.outcome() != omnicx::v1::OUTCOME_UNSPECIFIED) {
      extra += " " + Short(omnicx::v1::Outcome_Name(e.outcome()), "OUTCOME_");
    }
    if (!e.case_id().empty()) extra += " case " + e.case_id();
    if (e.value() != 0) extra += absl::StrCat(" value ", e.value());
    std::printf(
        "  %s  %-10s %-16s %-14s%s\n", Time(e.occurred_at()).c_str(),
        Short(omnicx::v1::Channel_Name(e.channel()), "CHANNEL_").c_str(),
        e.type().c_str(), e.touchpoint().c_str(), extra.c_str());
  }

  std::printf("\nNext best actions:\n");
  if (c.next_best_actions().empty()) std::printf("  none\n");
  for (const auto& a : c.next_best_actions()) {
    std::printf("  %s (%s) score %.2f\n", a.action_id().c_str(),
                a.kind().c_str(), a.score());
    for (const auto& r : a.reasons()) std::printf("      - %s\n", r.c_str());
    if (!a.talking_points().empty())
      std::printf("      say: %s\n", a.talking_points().c_str());
  }

  std::vector<std::string> missing;
  for (const auto& s : c.sections()) {
    if (s.code() != 0) {
      missing.push_back(absl::StrCat(s.section(), " ",
                                     omnicx::status::StatusCodeName(s.code())));
    }
  }
  if (!missing.empty()) {
    std::printf("\n(partial answer: %s)\n",
                absl::StrJoin(missing, "; ").c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  omnicx::tools::ToolClient client("omnicx-context", "127.0.0.1:50052");
  omnicx::v1::GetCustomerContextRequest request;
  request.set_include_recommendations(true);
  request.set_timeline_limit(10);
  for (int i = 1; i < argc; ++i) {
    if (client.ParseFlag(argc, argv, i)) continue;
    std::string a = argv[i];
    auto value = [&](const std::string& flag) -> std::optional<std::string> {
      if (absl::StartsWith(a, flag + "=")) return a.substr(flag.size() + 1);
      if (a == flag && i + 1 < argc) return std::string(argv[++i]);
      return std::nullopt;
    };
    if (auto v = value("--phone")) {
      request.mutable_customer()->mutable_identity()->set_type("phone");
      request.mutable_customer()->mutable_identity()->set_value(*v);
    } else if (auto v = value("--email")) {
      request.mutable_customer()->mutable_identity()->set_type("email");
      request.mutable_customer()->mutable_identity()->set_value(*v);
    } else if (auto v = value("--customer-id")) {
      request.mutable_customer()->set_customer_id(*v);
    } else if (auto v = value("--anonymous-id")) {
      request.mutable_customer()->set_anonymous_id(*v);
    } else if (auto v = value("--channel")) {
      omnicx::v1::Channel channel;
      if (!omnicx::v1::Channel_Parse(*v, &channel)) {
        std::cerr << "omnicx-context: unknown channel " << *v
                  << " (e.g. CHANNEL_VOICE)\n";
        return 2;
      }
      request.set_channel(channel);
    } else if (auto v = value("--limit")) {
      int limit = 0;
      if (!absl::SimpleAtoi(*v, &limit)) return 2;
      request.set_timeline_limit(limit);
    } else {
      std::cerr
          << "usage: omnicx-context --key_file F (--phone N | --email E | "
             "--customer-id C | --anonymous-id A) [--channel CHANNEL_VOICE] "
             "[--limit 10] "
             "[--address 127.0.0.1:50052] [--tls_ca_file F [--tls_cert_file F "
             "--tls_key_file F]]\n";
      return 2;
    }
  }
  if (request.customer().ref_case() == omnicx::v1::CustomerRef::REF_NOT_SET) {
    std::cerr << "omnicx-context: say who: --phone, --email, --customer-id or "
                 "--anonymous-id\n";
    return 2;
  }
  if (!client.Connect().ok()) return 2;
  auto stub = omnicx::v1::ProfileService::NewStub(client.channel());
  grpc::ClientContext context;
  client.Prepare(context, absl::Seconds(3));
  omnicx::v1::CustomerContext response;
  grpc::Status status = stub->GetCustomerContext(&context, request, &response);
  if (!status.ok()) return client.Fail(status);
  Print(response);
  return 0;
}
