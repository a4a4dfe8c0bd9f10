// omnicx-audit: a tenant's audit records, newest last, one per line:
// time, actor, role, action, customer hash, detail ("-" when empty).
//
//   omnicx-audit [--redis=127.0.0.1:6390] [--cluster] [--password_file=F]
//                [--tenant=T] [--count=50] [--since=2026-12-01T00:00:00Z]
//                [--customer-id=C --identity_secret_file=F]
//
// Reads the stream libs/audit writes (cx:<tenant>:{audit}:stream) through the
// project's Redis client; with --cluster, on a Redis Cluster whose seeds
// --redis lists, comma-separated (127.0.0.1:7001,127.0.0.1:7002). `--since`
// takes RFC 3339 or a date (midnight UTC) and compares with the time Redis
// stored each record. `--customer-id` keeps the records about one customer: it
// needs the services' identity secret to compute the same keyed hash.
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "libs/audit/audit_log.h"
#include "libs/config/config.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"
#include "libs/redis/cluster_routing.h"

namespace {

constexpr char kUsage[] =
    "usage: omnicx-audit [--redis=host:port[,host:port...]] [--cluster] "
    "[--password_file=F] "
    "[--tenant=T] [--count=N] [--since=ISO] [--customer-id=C "
    "--identity_secret_file=F]\n";

std::optional<absl::Time> ParseSince(const std::string& text) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return t;
  if (absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &t, &err)) {
    return t;
  }
  return std::nullopt;
}

int Fail(const std::string& message) {
  std::cerr << "omnicx-audit: " << message << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = "127.0.0.1:6390";
  std::string password_file;
  std::string secret_file;
  std::string tenant = "default";
  bool cluster = false;
  omnicx::audit::AuditQuery query;
  query.count = 50;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const std::string& flag) -> std::optional<std::string> {
      if (absl::StartsWith(a, flag + "=")) return a.substr(flag.size() + 1);
      if (a == flag && i + 1 < argc) return std::string(argv[++i]);
      return std::nullopt;
    };
    if (auto v = value("--redis")) {
      address = *v;
    } else if (a == "--cluster") {
      cluster = true;
    } else if (auto v = value("--password_file")) {
      password_file = *v;
    } else if (auto v = value("--tenant")) {
      tenant = *v;
    } else if (auto v = value("--count")) {
      if (!absl::SimpleAtoi(*v, &query.count) || query.count < 1) {
        return Fail("--count must be a positive number");
      }
    } else if (auto v = value("--since")) {
      std::optional<absl::Time> since = ParseSince(*v);
      if (!since) {
        return Fail("--since takes 2026-12-01T09:00:00Z or 2026-12-01");
      }
      query.since = *since;
    } else if (auto v = value("--customer-id")) {
      query.customer_id = *v;
    } else if (auto v = value("--identity_secret_file")) {
      secret_file = *v;
    } else {
      std::cerr << kUsage;
      return 2;
    }
  }

  omnicx::redis::ClientOptions options;
  std::vector<std::pair<std::string, int>> seeds;
  for (absl::string_view one :
       absl::StrSplit(address, ',', absl::SkipWhitespace())) {
    std::string host;
    int port = 0;
    if (!omnicx::redis::SplitHostPort(one, &host, &port)) {
      return Fail("--redis must be host:port (comma-separated seeds)");
    }
    seeds.emplace_back(std::move(host), port);
  }
  if (seeds.empty() || (seeds.size() > 1 && !cluster)) {
    return Fail("--redis must be one host:port (several seeds need --cluster)");
  }
  options.host = seeds.front().first;
  options.port = seeds.front().second;
  options.cluster = cluster;
  options.seeds.assign(seeds.begin() + 1, seeds.end());
  options.pool_size = 1;
  options.command_timeout = absl::Seconds(5);
  options.connect_timeout = absl::Seconds(2);
  if (!password_file.empty()) {
    absl::StatusOr<std::string> password =
        omnicx::config::ReadSecretFile("--password_file", password_file);
    if (!password.ok()) return Fail(std::string(password.status().message()));
    options.password = *std::move(password);
  }
  omnicx::audit::AuditOptions audit_options;
  if (!secret_file.empty()) {
    absl::StatusOr<std::string> secret =
        omnicx::config::ReadSecretFile("--identity_secret_file", secret_file);
    if (!secret.ok()) return Fail(std::string(secret.status().message()));
    audit_options.customer_secret = *std::move(secret);
  }
  absl::StatusOr<omnicx::keys::KeyBuilder> keys =
      omnicx::keys::KeyBuilder::Create(tenant);
  if (!keys.ok()) return Fail(std::string(keys.status().message()));

  std::unique_ptr<omnicx::redis::Client> redis =
      omnicx::redis::Client::Create(options);
  absl::StatusOr<std::unique_ptr<omnicx::audit::AuditLog>> log =
      omnicx::audit::AuditLog::Create(redis.get(), *keys, audit_options);
  if (!log.ok()) return Fail(std::string(log.status().message()));
  absl::StatusOr<std::vector<omnicx::audit::AuditRecord>> records =
      (*log)->Read(query);
  if (!records.ok()) {
    std::cerr << "omnicx-audit: " << records.status() << "\n";
    return 1;
  }
  if (records->empty()) {
    std::cerr << "omnicx-audit: no records in " << (*log)->stream_key() << "\n";
    return 0;
  }
  auto dash = [](const std::string& s) { return s.empty() ? "-" : s; };
  for (const omnicx::audit::AuditRecord& r : *records) {
    absl::PrintF("%-24s  %-20s  %-8s  %-14s  %-64s  %s\n", r.ts, dash(r.actor),
                 dash(r.role), dash(r.action), dash(r.customer),
                 dash(r.detail));
  }
  return 0;
}
