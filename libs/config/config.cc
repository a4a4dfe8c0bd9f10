#include "libs/config/config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "libs/logging/log.h"

namespace omnicx::config {
namespace {

constexpr absl::string_view kEnvPrefix = "OMNICX";

std::string EnvName(absl::string_view path) {
  for (const auto& [env, p] :
       EnvironmentNames(kEnvPrefix, *Config::descriptor())) {
    if (p == path) return env;
  }
  return "";
}

// "invalid setting <path> (<ENV>): <why>"; settings that are not in Config
// (a tool's flag) have no environment variable to name.
absl::Status Invalid(absl::string_view path, absl::string_view why) {
  const std::string env = EnvName(path);
  return absl::InvalidArgumentError(
      absl::StrCat("invalid setting ", path,
                   env.empty() ? "" : absl::StrCat(" (", env, ")"), ": ", why));
}

absl::Status CheckAddress(absl::string_view path, absl::string_view address,
                          bool allow_empty) {
  if (address.empty()) {
    return allow_empty ? absl::OkStatus() : Invalid(path, "must be host:port");
  }
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return Invalid(path, absl::StrCat("\"", address,
                                      "\" is not host:port (port 0-65535)"));
  }
  return absl::OkStatus();
}

absl::Status CheckDuration(absl::string_view path, absl::string_view text,
                           absl::Duration min, absl::Duration max) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d)) {
    return Invalid(path, absl::StrCat("\"", text,
                                      "\" is not a duration like 500ms, "
                                      "10s or 168h"));
  }
  if (d < min || d > max) {
    return Invalid(path, absl::StrCat("\"", text, "\" must be between ",
                                      absl::FormatDuration(min), " and ",
                                      absl::FormatDuration(max)));
  }
  return absl::OkStatus();
}

absl::Status CheckRange(absl::string_view path, int64_t value, int64_t min,
                        int64_t max) {
  if (value < min || value > max) {
    return Invalid(path,
                   absl::StrCat(value, " must be between ", min, " and ", max));
  }
  return absl::OkStatus();
}

absl::Status CheckReadable(absl::string_view path, const std::string& file) {
  std::ifstream in(file);
  if (!in.good()) {
    return Invalid(path, absl::StrCat("cannot read \"", file, "\""));
  }
  return absl::OkStatus();
}

// Transport security: a certificate needs its key, mTLS needs the CA the
// peers' certificates chain to, and every named file must be readable now
// (the file watcher would otherwise only log and fail each handshake).
absl::Status ValidateTls(const v1::TlsConfig& tls) {
  if (tls.cert_file().empty() != tls.key_file().empty()) {
    return Invalid(tls.cert_file().empty() ? "tls.cert_file" : "tls.key_file",
                   "tls.cert_file and tls.key_file must be set together");
  }
  if (tls.require_client_cert() && tls.ca_file().empty()) {
    return Invalid("tls.ca_file",
                   "required when tls.require_client_cert is true (client "
                   "certificates are verified against it)");
  }
  if (tls.require_client_cert() && tls.cert_file().empty()) {
    return Invalid("tls.cert_file",
                   "required when tls.require_client_cert is true (mTLS needs "
                   "the server to present a certificate)");
  }
  absl::Status s = CheckDuration("tls.refresh_interval", tls.refresh_interval(),
                                 absl::Seconds(1), absl::Hours(24));
  if (s.ok() && !tls.cert_file().empty()) {
    s = CheckReadable("tls.cert_file", tls.cert_file());
  }
  if (s.ok() && !tls.key_file().empty()) {
    s = CheckReadable("tls.key_file", tls.key_file());
  }
  if (s.ok() && !tls.ca_file().empty()) {
    s = CheckReadable("tls.ca_file", tls.ca_file());
  }
  return s;
}

// identity_secret from identity_secret_file, read once here so that the
// services use cfg.identity_secret() whichever way it was given.
absl::Status FillIdentitySecret(Config* config) {
  if (config->identity_secret_file().empty()) return absl::OkStatus();
  if (!config->identity_secret().empty()) {
    return Invalid("identity_secret_file",
                   "set only one of identity_secret_file and identity_secret");
  }
  absl::StatusOr<std::string> secret =
      ReadSecretFile("identity_secret_file", config->identity_secret_file());
  if (!secret.ok()) return secret.status();
  config->set_identity_secret(*std::move(secret));
  return absl::OkStatus();
}

}  // namespace

absl::string_view ServiceName(Service service) {
  switch (service) {
    case Service::kIngestion:
      return "ingestion";
    case Service::kProfile:
      return "profile";
    case Service::kJourney:
      return "journey";
    case Service::kRecommendation:
      return "recommendation";
  }
  return "unknown";
}

Config Defaults(Service service) {
  Config c;
  const int index = static_cast<int>(service);  // 0..3 → ports 5005{1..4}
  c.set_grpc_address(absl::StrCat("127.0.0.1:", 50051 + index));
  c.set_metrics_address(absl::StrCat("127.0.0.1:", 9451 + index));
  c.set_tenant("default");
  c.set_log_level("info");
  c.set_shutdown_grace("10s");
  c.set_max_message_bytes(4 << 20);
  c.set_health_check_interval("1s");
  c.mutable_auth()->set_audit_max_entries(1000000);  // records per tenant
  // Certificates rotate in hours or days (cert-manager renews at 2/3 of the
  // lifetime); a minute's delay in picking up the new files is harmless and
  // the check is one stat per file.
  c.mutable_tls()->set_refresh_interval("60s");
  c.set_reflection(false);
  c.mutable_redis()->set_address("127.0.0.1:6390");
  c.mutable_redis()->set_pool_size(8);
  c.mutable_redis()->set_command_timeout("500ms");
  c.mutable_redis()->set_connect_timeout("500ms");
  c.set_durability("fast");
  c.set_stream_shards(16);
  c.set_dedup_window("168h");
  c.set_max_event_age("8760h");
  c.set_max_consumer_lag(1000000);
  c.set_strict_replicas(0);
  c.set_consumer_groups("profile");
  c.set_http_address("127.0.0.1:9080");
  c.set_journey_address("127.0.0.1:50053");
  c.set_recommendation_address("127.0.0.1:50054");
  c.set_timeline_cap(1000);
  c.set_context_journey_timeout("50ms");
  c.set_context_recommendation_timeout("50ms");
  c.set_context_timeout("150ms");
  c.set_context_cache_ttl("2s");
  c.set_context_max_in_flight(64);
  c.set_consumers(4);
  // --- recommendation ---
  c.set_recommend_budget("100ms");
  c.set_recommend_max_in_flight(64);
  c.set_catalog_refresh_interval("1s");
  c.set_decision_ttl("168h");
  c.set_global_daily_cap(4);
  c.set_hold_ttl("15m");
  c.set_prior_strength(10);
  c.set_high_value_threshold(1000);
  c.set_severe_impact(15);
  c.set_severe_window("336h");
  c.set_stats_refresh_interval("1s");
  c.set_aggregate_interval("1s");
  // --- auth (every service) ---
  c.mutable_auth()->set_jwt_leeway("60s");
  c.mutable_auth()->set_reload_interval("5s");
  c.mutable_auth()->set_rate_limit(2000);
  c.mutable_auth()->set_rate_limit_burst(4000);
  return c;
}

absl::Status Validate(const Config& c) {
  absl::Status s;
  auto check = [&s](absl::Status next) {
    if (s.ok()) s = std::move(next);
  };
  check(CheckAddress("grpc_address", c.grpc_address(), false));
  check(CheckAddress("metrics_address", c.metrics_address(), true));
  check(CheckAddress("health_address", c.health_address(), true));
  check(CheckAddress("http_address", c.http_address(), true));
  check(RedisSeeds(c).status());
  check(CheckAddress("journey_address", c.journey_address(), true));
  check(
      CheckAddress("recommendation_address", c.recommendation_address(), true));
  if (s.ok()) {
    absl::StatusOr<logging::Level> level = logging::ParseLevel(c.log_level());
    if (!level.ok()) s = Invalid("log_level", level.status().message());
  }
  check(CheckDuration("shutdown_grace", c.shutdown_grace(),
                      absl::ZeroDuration(), absl::Minutes(10)));
  check(CheckDuration("health_check_interval", c.health_check_interval(),
                      absl::Milliseconds(10), absl::Minutes(1)));
  check(CheckDuration("redis.command_timeout", c.redis().command_timeout(),
                      absl::Milliseconds(1), absl::Minutes(1)));
  check(CheckDuration("redis.connect_timeout", c.redis().connect_timeout(),
                      absl::Milliseconds(1), absl::Minutes(1)));
  check(CheckDuration("dedup_window", c.dedup_window(), absl::Minutes(1),
                      absl::Hours(24 * 366)));
  check(CheckDuration("max_event_age", c.max_event_age(), absl::Minutes(1),
                      absl::Hours(24 * 3660)));
  check(CheckDuration("context_journey_timeout", c.context_journey_timeout(),
                      absl::Milliseconds(1), absl::Seconds(30)));
  check(CheckDuration("context_recommendation_timeout",
                      c.context_recommendation_timeout(), absl::Milliseconds(1),
                      absl::Seconds(30)));
  check(CheckDuration("context_timeout", c.context_timeout(),
                      absl::Milliseconds(1), absl::Seconds(30)));
  check(CheckDuration("context_cache_ttl", c.context_cache_ttl(),
                      absl::ZeroDuration(), absl::Hours(1)));
  check(CheckRange("max_message_bytes", c.max_message_bytes(), 1024, 64 << 20));
  check(CheckRange("redis.pool_size", c.redis().pool_size(), 1, 1024));
  check(CheckRange("stream_shards", c.stream_shards(), 1, 1024));
  check(CheckRange("max_consumer_lag", c.max_consumer_lag(), 1, 1LL << 40));
  check(CheckRange("strict_replicas", c.strict_replicas(), 0, 16));
  check(CheckRange("timeline_cap", c.timeline_cap(), 1, 100000));
  check(CheckRange("consumers", c.consumers(), 1, 64));
  check(CheckRange("auth.audit_max_entries", c.auth().audit_max_entries(), 1000,
                   1000000000));
  check(CheckRange("context_max_in_flight", c.context_max_in_flight(), 1,
                   100000));
  // --- recommendation ---
  check(CheckRange("recommend_max_in_flight", c.recommend_max_in_flight(), 1,
                   100000));
  check(CheckDuration("recommend_budget", c.recommend_budget(),
                      absl::Milliseconds(1), absl::Seconds(30)));
  check(CheckDuration("catalog_refresh_interval", c.catalog_refresh_interval(),
                      absl::Milliseconds(10), absl::Seconds(5)));
  check(CheckDuration("decision_ttl", c.decision_ttl(), absl::Minutes(1),
                      absl::Hours(24 * 366)));
  check(CheckDuration("hold_ttl", c.hold_ttl(), absl::Seconds(1),
                      absl::Hours(24)));
  check(CheckDuration("severe_window", c.severe_window(), absl::Minutes(1),
                      absl::Hours(24 * 366)));
  check(CheckDuration("stats_refresh_interval", c.stats_refresh_interval(),
                      absl::Milliseconds(10), absl::Minutes(10)));
  check(CheckDuration("aggregate_interval", c.aggregate_interval(),
                      absl::Milliseconds(10), absl::Seconds(60)));
  check(CheckRange("global_daily_cap", c.global_daily_cap(), 0, 1000));
  check(CheckRange("prior_strength", c.prior_strength(), 1, 100000));
  check(CheckRange("high_value_threshold", c.high_value_threshold(), 0,
                   1LL << 50));
  check(CheckRange("severe_impact", c.severe_impact(), 1, 100));
  // --- auth ---
  check(CheckDuration("auth.jwt_leeway", c.auth().jwt_leeway(),
                      absl::ZeroDuration(), absl::Minutes(10)));
  check(CheckDuration("auth.reload_interval", c.auth().reload_interval(),
                      absl::Milliseconds(10), absl::Hours(1)));
  // That a credential source is set at all is checked where the services
  // build their Authenticator (ServiceMain), which names the settings.
  if (s.ok() && !c.auth().jwks_file().empty() &&
      (c.auth().jwt_issuer().empty() || c.auth().jwt_audience().empty())) {
    s = Invalid("auth.jwt_issuer",
                "auth.jwt_issuer and auth.jwt_audience are required with "
                "auth.jwks_file");
  }
  if (s.ok() && (c.auth().rate_limit() < 0 || c.auth().rate_limit() > 1e7)) {
    s = Invalid("auth.rate_limit", "must be between 0 (off) and 10000000");
  }
  check(CheckRange("auth.rate_limit_burst", c.auth().rate_limit_burst(), 1,
                   100000000));
  check(ValidateTls(c.tls()));
  if (s.ok()) s = RedisPassword(c).status();
  if (s.ok() && c.durability() != "fast" && c.durability() != "strict") {
    s = Invalid("durability", absl::StrCat("\"", c.durability(),
                                           "\" must be fast or strict"));
  }
  if (s.ok() &&
      (c.tenant().empty() || c.tenant().size() > 32 ||
       c.tenant().find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") !=
           std::string::npos)) {
    s = Invalid("tenant", "must be 1-32 characters of a-z, 0-9, '_', '-'");
  }
  return s;
}

absl::Status RequireIdentitySecret(const Config& config) {
  if (config.identity_secret().size() >= 16) return absl::OkStatus();
  constexpr absl::string_view kWhy =
      "at least 16 characters (it keys the identity index; every service "
      "reading the index needs the same secret; never change it once data "
      "exists)";
  // Name the setting the operator actually used.
  if (!config.identity_secret_file().empty()) {
    return Invalid("identity_secret_file",
                   absl::StrCat("the secret in it must be ", kWhy));
  }
  return Invalid("identity_secret",
                 absl::StrCat("required (or identity_secret_file), ", kWhy));
}

absl::StatusOr<std::string> ReadSecretFile(absl::string_view setting,
                                           const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Invalid(setting, absl::StrCat("cannot read \"", path,
                                         "\": ", std::strerror(errno)));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  std::string secret = contents.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) {
    secret.pop_back();
  }
  if (in.bad()) {
    return Invalid(setting, absl::StrCat("cannot read \"", path, "\""));
  }
  if (secret.empty()) {
    return Invalid(setting, absl::StrCat("\"", path, "\" is empty"));
  }
  return secret;
}

absl::StatusOr<std::vector<std::pair<std::string, int>>> RedisSeeds(
    const Config& config) {
  std::vector<std::pair<std::string, int>> seeds;
  for (absl::string_view part : absl::StrSplit(config.redis().address(), ',')) {
    part = absl::StripAsciiWhitespace(part);
    absl::Status valid = CheckAddress("redis.address", part, false);
    if (!valid.ok()) return valid;
    const size_t colon = part.rfind(':');
    int port = 0;
    (void)absl::SimpleAtoi(part.substr(colon + 1), &port);
    if (port == 0) {
      return Invalid("redis.address",
                     absl::StrCat("\"", part, "\" needs a port (1-65535)"));
    }
    absl::string_view host = part.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    seeds.emplace_back(std::string(host), port);
  }
  if (seeds.size() > 1 && !config.redis().cluster()) {
    return Invalid("redis.address",
                   "several comma-separated addresses need redis.cluster: "
                   "true (they are a Redis Cluster's seed nodes)");
  }
  return seeds;
}

absl::StatusOr<std::string> RedisPassword(const Config& config) {
  const v1::RedisConfig& redis = config.redis();
  if (redis.password_file().empty()) {
    if (!redis.user().empty() && redis.password().empty()) {
      return Invalid("redis.user",
                     "needs redis.password_file (or redis.password)");
    }
    return redis.password();
  }
  if (!redis.password().empty()) {
    return Invalid("redis.password_file",
                   "set only one of redis.password_file and redis.password");
  }
  return ReadSecretFile("redis.password_file", redis.password_file());
}

absl::Duration DurationSetting(absl::string_view text) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d)) {
    // Validate() accepted every duration setting; reaching here is a bug.
    OMNICX_LOG(kError) << "unvalidated duration setting \"" << text << "\"";
    std::abort();
  }
  return d;
}

absl::StatusOr<Config> LoadConfig(Service service,
                                  const std::vector<std::string>& args,
                                  const EnvLookup& env) {
  // The YAML file's name itself comes from the environment or a flag.
  Config locate;
  absl::Status s = MergeEnvironment(kEnvPrefix, &locate, env);
  if (s.ok()) s = MergeFlags(args, &locate);
  if (!s.ok()) return s;

  Config config = Defaults(service);
  if (!locate.config_file().empty()) {
    s = MergeYamlFile(locate.config_file(), &config);
    if (!s.ok()) return s;
  }
  s = MergeEnvironment(kEnvPrefix, &config, env);
  if (s.ok()) s = MergeFlags(args, &config);
  if (s.ok()) s = FillIdentitySecret(&config);
  if (s.ok()) s = Validate(config);
  if (!s.ok()) return s;
  return config;
}

std::string HelpText(Service service) {
  const Config defaults = Defaults(service);
  std::string out = absl::StrCat(
      "omnicx-", ServiceName(service),
      " [--setting=value ...]\n\nSettings (flag, environment variable, "
      "default). Later sources win: defaults < YAML file (--config_file) < "
      "environment < flags.\n");
  for (const auto& [env, path] :
       EnvironmentNames(kEnvPrefix, *Config::descriptor())) {
    std::string value;
    // Render the default by walking the path with reflection.
    const google::protobuf::Message* m = &defaults;
    std::vector<std::string> parts = absl::StrSplit(path, '.');
    for (size_t i = 0; i < parts.size(); ++i) {
      const auto* f = m->GetDescriptor()->FindFieldByName(parts[i]);
      const auto* r = m->GetReflection();
      if (i + 1 < parts.size()) {
        m = &r->GetMessage(*m, f);
        continue;
      }
      switch (f->cpp_type()) {
        case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
          value = r->GetString(*m, f);
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_INT32:
          value = absl::StrCat(r->GetInt32(*m, f));
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_INT64:
          value = absl::StrCat(r->GetInt64(*m, f));
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_BOOL:
          value = r->GetBool(*m, f) ? "true" : "false";
          break;
        default:
          break;
      }
    }
    absl::StrAppend(&out, "  --", path, "  ", env, "  [", value, "]\n");
  }
  return out;
}

}  // namespace omnicx::config
