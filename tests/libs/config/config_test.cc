#include "libs/config/config.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/config/proto_loader.h"
#include "libs/status/status_matchers.h"
#include "omnicx/v1/recommendation.pb.h"

namespace omnicx::config {
namespace {

using ::omnicx::status::IsOkAndHolds;
using ::omnicx::status::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(ConfigTest, DefaultsPerService) {
  ASSERT_OK_AND_ASSIGN(Config c,
                       LoadConfig(Service::kJourney, {}, FakeEnv({})));
  EXPECT_EQ(c.grpc_address(), "127.0.0.1:50053");
  EXPECT_EQ(c.metrics_address(), "127.0.0.1:9453");
  EXPECT_EQ(c.redis().address(), "127.0.0.1:6390");
  EXPECT_EQ(c.tenant(), "default");
  EXPECT_EQ(DurationSetting(c.shutdown_grace()), absl::Seconds(10));
  EXPECT_EQ(c.auth().audit_max_entries(), 1000000);
}

TEST(ConfigTest, FlagsBeatEnvironmentBeatYaml) {
  const std::string path = ::testing::TempDir() + "/omnicx_config_test.yaml";
  {
    FILE* f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs(
        "tenant: fromyaml\nlog_level: debug\nredis:\n  address: yaml:1\n"
        "  pool_size: 3\n",
        f);
    fclose(f);
  }
  ASSERT_OK_AND_ASSIGN(
      Config c, LoadConfig(Service::kIngestion, {"--redis.address=flag:2"},
                           FakeEnv({{"OMNICX_CONFIG_FILE", path},
                                    {"OMNICX_REDIS_ADDRESS", "env:3"},
                                    {"OMNICX_LOG_LEVEL", "warn"}})));
  EXPECT_EQ(c.tenant(), "fromyaml");
  EXPECT_EQ(c.log_level(), "warn");
  EXPECT_EQ(c.redis().address(), "flag:2");
  EXPECT_EQ(c.redis().pool_size(), 3);
}

TEST(ConfigTest, ErrorsNameTheSetting) {
  EXPECT_THAT(
      LoadConfig(Service::kIngestion, {"--shutdown_grace=soon"}, FakeEnv({})),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("shutdown_grace (OMNICX_SHUTDOWN_GRACE)")));
  EXPECT_THAT(LoadConfig(Service::kIngestion, {},
                         FakeEnv({{"OMNICX_STREAM_SHARDS", "x"}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("environment OMNICX_STREAM_SHARDS")));
  EXPECT_THAT(
      LoadConfig(Service::kIngestion, {"--stream_shards=0"}, FakeEnv({})),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("stream_shards")));
  EXPECT_THAT(
      LoadConfig(Service::kIngestion, {"--durability=maybe"}, FakeEnv({})),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("durability")));
  EXPECT_THAT(LoadConfig(Service::kIngestion, {"--no_such=1"}, FakeEnv({})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no_such: not a known setting")));
  EXPECT_THAT(LoadConfig(Service::kIngestion, {"positional"}, FakeEnv({})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unexpected argument")));
  EXPECT_THAT(
      LoadConfig(Service::kIngestion, {"--grpc_address=nonsense"}, FakeEnv({})),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("grpc_address")));
  EXPECT_THAT(
      LoadConfig(Service::kIngestion, {"--tenant=Big"}, FakeEnv({})),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tenant")));
  EXPECT_THAT(LoadConfig(Service::kProfile, {"--auth.audit_max_entries=10"},
                         FakeEnv({})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("auth.audit_max_entries "
                                 "(OMNICX_AUTH_AUDIT_MAX_ENTRIES)")));
  EXPECT_THAT(LoadConfig(Service::kIngestion,
                         {"--config_file=/nonexistent.yaml"}, FakeEnv({})),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nonexistent")));
}

TEST(ConfigTest, RedisPasswordComesFromItsFile) {
  const std::string path = ::testing::TempDir() + "/omnicx_redis_pass";
  {
    FILE* f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs("s3cret-from-file\n", f);
    fclose(f);
  }
  ASSERT_OK_AND_ASSIGN(
      Config c, LoadConfig(Service::kProfile, {},
                           FakeEnv({{"OMNICX_REDIS_USER", "profile"},
                                    {"OMNICX_REDIS_PASSWORD_FILE", path}})));
  EXPECT_EQ(c.redis().user(), "profile");
  EXPECT_THAT(RedisPassword(c), IsOkAndHolds("s3cret-from-file"));

  ASSERT_OK_AND_ASSIGN(
      Config plain,
      LoadConfig(Service::kProfile, {"--redis.password=pw"}, FakeEnv({})));
  EXPECT_THAT(RedisPassword(plain), IsOkAndHolds("pw"));
}

TEST(ConfigTest, RedisClusterTakesSeveralSeedAddresses) {
  ASSERT_OK_AND_ASSIGN(
      Config c,
      LoadConfig(Service::kIngestion,
                 {"--redis.cluster=true",
                  "--redis.address=10.0.0.1:7001, redis-b:7002,[::1]:7003"},
                 FakeEnv({})));
  EXPECT_TRUE(c.redis().cluster());
  using Seeds = std::vector<std::pair<std::string, int>>;
  EXPECT_THAT(RedisSeeds(c),
              IsOkAndHolds(
                  Seeds{{"10.0.0.1", 7001}, {"redis-b", 7002}, {"::1", 7003}}));
  // One address is fine either way.
  ASSERT_OK_AND_ASSIGN(
      Config one,
      LoadConfig(Service::kIngestion, {"--redis.cluster=true"}, FakeEnv({})));
  EXPECT_THAT(RedisSeeds(one), IsOkAndHolds(Seeds{{"127.0.0.1", 6390}}));
  // Several need cluster mode; each must be host:port.
  EXPECT_THAT(
      LoadConfig(Service::kIngestion, {"--redis.address=a:1,b:2"}, FakeEnv({})),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("redis.cluster")));
  EXPECT_THAT(LoadConfig(Service::kIngestion,
                         {"--redis.cluster=true", "--redis.address=a:1,b"},
                         FakeEnv({})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("redis.address"), HasSubstr("\"b\""))));
  EXPECT_THAT(
      LoadConfig(Service::kIngestion,
                 {"--redis.cluster=true", "--redis.address=a:1,"}, FakeEnv({})),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ConfigTest, UnusableRedisPasswordSettingsStopStartUp) {
  EXPECT_THAT(LoadConfig(Service::kJourney,
                         {"--redis.password_file=/nonexistent/redis.pass"},
                         FakeEnv({})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("redis.password_file "
                                       "(OMNICX_REDIS_PASSWORD_FILE)"),
                             HasSubstr("/nonexistent/redis.pass"))));
  const std::string empty = ::testing::TempDir() + "/omnicx_redis_empty";
  fclose(fopen(empty.c_str(), "w"));
  EXPECT_THAT(
      LoadConfig(Service::kJourney, {"--redis.password_file=" + empty},
                 FakeEnv({})),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr("redis.password_file (OMNICX_REDIS_PASSWORD_FILE): \"" +
                    empty + "\" is empty")));
  EXPECT_THAT(
      LoadConfig(
          Service::kJourney,
          {"--redis.password_file=" + empty, "--redis.password=secret-value"},
          FakeEnv({})),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("only one"), Not(HasSubstr("secret-value")))));
  EXPECT_THAT(
      LoadConfig(Service::kJourney, {"--redis.user=journey"}, FakeEnv({})),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("redis.user (OMNICX_REDIS_USER)")));
}

// Writes `contents` to a file in the test's temporary directory.
std::string SecretFile(const std::string& name, const std::string& contents) {
  const std::string path = ::testing::TempDir() + "/" + name;
  FILE* f = fopen(path.c_str(), "w");
  if (f != nullptr) {
    fputs(contents.c_str(), f);
    fclose(f);
  }
  return path;
}

TEST(ConfigTest, IdentitySecretComesFromItsFile) {
  const std::string path =
      SecretFile("omnicx_identity_secret", "identity-secret-0123456789\r\n");
  ASSERT_OK_AND_ASSIGN(
      Config c, LoadConfig(Service::kProfile, {},
                           FakeEnv({{"OMNICX_IDENTITY_SECRET_FILE", path}})));
  EXPECT_EQ(c.identity_secret(), "identity-secret-0123456789");
  EXPECT_OK(RequireIdentitySecret(c));
  ASSERT_OK_AND_ASSIGN(
      c, LoadConfig(Service::kJourney, {"--identity_secret_file=" + path},
                    FakeEnv({})));
  EXPECT_EQ(c.identity_secret(), "identity-secret-0123456789");

  // The value itself still works where the file is not used.
  ASSERT_OK_AND_ASSIGN(
      c, LoadConfig(
             Service::kJourney, {},
             FakeEnv({{"OMNICX_IDENTITY_SECRET", "value-secret-0123456"}})));
  EXPECT_EQ(c.identity_secret(), "value-secret-0123456");
}

TEST(ConfigTest, UnusableIdentitySecretSettingsStopStartUp) {
  const std::string good =
      SecretFile("omnicx_identity_good", "identity-secret-0123456789\n");
  EXPECT_THAT(
      LoadConfig(Service::kProfile, {},
                 FakeEnv({{"OMNICX_IDENTITY_SECRET_FILE", good},
                          {"OMNICX_IDENTITY_SECRET", "secret-value-0123456"}})),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("identity_secret_file "
                               "(OMNICX_IDENTITY_SECRET_FILE): set only one"),
                     Not(HasSubstr("secret-value")),
                     Not(HasSubstr("identity-secret-0123456789")))));
  EXPECT_THAT(
      LoadConfig(Service::kProfile,
                 {"--identity_secret_file=/nonexistent/identity-secret"},
                 FakeEnv({})),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("identity_secret_file (OMNICX_IDENTITY_SECRET_FILE): "
                         "cannot read \"/nonexistent/identity-secret\"")));
  // Only newlines is as empty as nothing.
  const std::string empty = SecretFile("omnicx_identity_empty", "\n");
  EXPECT_THAT(LoadConfig(Service::kJourney, {"--identity_secret_file=" + empty},
                         FakeEnv({})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("identity_secret_file "
                                 "(OMNICX_IDENTITY_SECRET_FILE): \"" +
                                 empty + "\" is empty")));
  // A secret too short for the identity index names the file setting, not
  // the secret.
  const std::string short_secret =
      SecretFile("omnicx_identity_short", "tiny\n");
  ASSERT_OK_AND_ASSIGN(
      Config c,
      LoadConfig(Service::kProfile, {"--identity_secret_file=" + short_secret},
                 FakeEnv({})));
  EXPECT_THAT(RequireIdentitySecret(c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("identity_secret_file "
                                       "(OMNICX_IDENTITY_SECRET_FILE)"),
                             HasSubstr("at least 16 characters"),
                             Not(HasSubstr("tiny")))));
  ASSERT_OK_AND_ASSIGN(c, LoadConfig(Service::kProfile, {}, FakeEnv({})));
  EXPECT_THAT(RequireIdentitySecret(c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("identity_secret (OMNICX_IDENTITY_SECRET): "
                                 "required (or identity_secret_file)")));
}

TEST(ConfigTest, ReadSecretFileNamesTheSettingNotTheSecret) {
  const std::string path = SecretFile("omnicx_tool_secret", "tool-secret\n\n");
  EXPECT_THAT(ReadSecretFile("--password_file", path),
              IsOkAndHolds("tool-secret"));
  // Inner newlines are the secret's own.
  EXPECT_THAT(ReadSecretFile("--password_file",
                             SecretFile("omnicx_two_lines", "a\nb\n")),
              IsOkAndHolds("a\nb"));
  // A flag of a tool has no environment variable to name.
  EXPECT_THAT(ReadSecretFile("--password_file", "/nonexistent/secret"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("invalid setting --password_file: cannot "
                                 "read \"/nonexistent/secret\"")));
}

TEST(ConfigTest, HealthAddressIsOffByDefaultAndMustBeAnAddress) {
  ASSERT_OK_AND_ASSIGN(Config c,
                       LoadConfig(Service::kRecommendation, {}, FakeEnv({})));
  EXPECT_EQ(c.health_address(), "");
  ASSERT_OK_AND_ASSIGN(
      c, LoadConfig(Service::kRecommendation, {},
                    FakeEnv({{"OMNICX_HEALTH_ADDRESS", "0.0.0.0:50064"}})));
  EXPECT_EQ(c.health_address(), "0.0.0.0:50064");
  EXPECT_THAT(
      LoadConfig(Service::kRecommendation, {"--health_address=50064"},
                 FakeEnv({})),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("health_address (OMNICX_HEALTH_ADDRESS): \"50064\" "
                         "is not host:port")));
}

TEST(ConfigTest, TrackingApiSettings) {
  ASSERT_OK_AND_ASSIGN(Config c,
                       LoadConfig(Service::kIngestion, {}, FakeEnv({})));
  EXPECT_EQ(c.http_address(), "127.0.0.1:9080");
  EXPECT_EQ(c.write_keys_file(), "");
  ASSERT_OK_AND_ASSIGN(
      c,
      LoadConfig(Service::kIngestion, {},
                 FakeEnv({{"OMNICX_HTTP_ADDRESS", ""},
                          {"OMNICX_WRITE_KEYS_FILE", "/k/write-keys.yaml"}})));
  EXPECT_EQ(c.http_address(), "");
  EXPECT_EQ(c.write_keys_file(), "/k/write-keys.yaml");
  EXPECT_THAT(
      LoadConfig(Service::kIngestion, {"--http_address=9080"}, FakeEnv({})),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("http_address (OMNICX_HTTP_ADDRESS): \"9080\" "
                         "is not host:port")));
}

TEST(ProtoLoaderTest, YamlErrorsCarryLineAndPath) {
  Config c;
  EXPECT_THAT(
      MergeYaml("tenant: a\nredis:\n  adress: x\n", "cfg.yaml", &c),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("cfg.yaml:3: setting redis.adress: not a known "
                         "setting")));
  EXPECT_THAT(MergeYaml("stream_shards: many\n", "cfg.yaml", &c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("stream_shards: \"many\" is not a 32-bit")));
  EXPECT_THAT(
      MergeYaml("redis: [1, 2]\n", "cfg.yaml", &c),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be a map")));
  EXPECT_THAT(
      MergeYaml("a: [unclosed\n", "cfg.yaml", &c),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid YAML")));
  EXPECT_THAT(MergeYaml("- 1\n- 2\n", "cfg.yaml", &c),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ProtoLoaderTest, RepeatedMessagesEnumsAndOptionals) {
  omnicx::v1::ListActionsResponse catalog;
  ASSERT_OK(MergeYaml(R"(
actions:
  - action_id: apology
    kind: ACTION_KIND_SERVICE_RECOVERY
    channels: [CHANNEL_VOICE, CHANNEL_EMAIL]
    value: 20.5
    eligibility:
      min_churn_risk: 0.2
      has_open_case: true
  - action_id: upsell
    kind: ACTION_KIND_CROSS_SELL
version: 7
)",
                      "catalog.yaml", &catalog));
  ASSERT_EQ(catalog.actions_size(), 2);
  EXPECT_EQ(catalog.actions(0).kind(),
            omnicx::v1::ACTION_KIND_SERVICE_RECOVERY);
  ASSERT_EQ(catalog.actions(0).channels_size(), 2);
  EXPECT_EQ(catalog.actions(0).channels(1), omnicx::v1::CHANNEL_EMAIL);
  EXPECT_DOUBLE_EQ(catalog.actions(0).value(), 20.5);
  EXPECT_TRUE(catalog.actions(0).eligibility().has_min_churn_risk());
  EXPECT_FALSE(catalog.actions(0).eligibility().has_max_churn_risk());
  EXPECT_TRUE(catalog.actions(0).eligibility().has_open_case());
  EXPECT_EQ(catalog.version(), 7);

  EXPECT_THAT(
      MergeYaml("actions:\n  - kind: ACTION_KIND_NOPE\n", "c.yaml", &catalog),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("actions[0].kind")));
}

TEST(ConfigTest, TlsAndReflectionDefaults) {
  ASSERT_OK_AND_ASSIGN(Config c,
                       LoadConfig(Service::kProfile, {}, FakeEnv({})));
  EXPECT_EQ(c.tls().cert_file(), "");
  EXPECT_FALSE(c.tls().require_client_cert());
  EXPECT_EQ(DurationSetting(c.tls().refresh_interval()), absl::Seconds(60));
  EXPECT_FALSE(c.reflection());
  ASSERT_OK_AND_ASSIGN(c, LoadConfig(Service::kProfile, {},
                                     FakeEnv({{"OMNICX_REFLECTION", "true"}})));
  EXPECT_TRUE(c.reflection());
}

// A readable file in the test's temporary directory (config only checks
// that TLS files can be read at start-up; gRPC parses them later).
std::string TempFile(const std::string& name) {
  const std::string path = ::testing::TempDir() + "/" + name;
  FILE* f = fopen(path.c_str(), "w");
  if (f != nullptr) {
    fputs("-----BEGIN READABLE TEST FILE-----\n", f);
    fclose(f);
  }
  return path;
}

TEST(ConfigTest, TlsSettingsAreCheckedTogether) {
  const std::string cert = TempFile("omnicx_config_test_cert.pem");
  const std::string key = TempFile("omnicx_config_test_key.pem");
  const std::string ca = TempFile("omnicx_config_test_ca.pem");
  const std::string missing = ::testing::TempDir() + "/omnicx_no_such.pem";

  EXPECT_OK(LoadConfig(Service::kIngestion,
                       {"--tls.cert_file=" + cert, "--tls.key_file=" + key},
                       FakeEnv({})));
  ASSERT_OK_AND_ASSIGN(
      Config mtls,
      LoadConfig(Service::kIngestion, {},
                 FakeEnv({{"OMNICX_TLS_CERT_FILE", cert},
                          {"OMNICX_TLS_KEY_FILE", key},
                          {"OMNICX_TLS_CA_FILE", ca},
                          {"OMNICX_TLS_REQUIRE_CLIENT_CERT", "true"},
                          {"OMNICX_TLS_REFRESH_INTERVAL", "1s"}})));
  EXPECT_TRUE(mtls.tls().require_client_cert());

  EXPECT_THAT(
      LoadConfig(Service::kIngestion, {"--tls.cert_file=" + cert}, FakeEnv({})),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("tls.key_file (OMNICX_TLS_KEY_FILE): tls.cert_file "
                         "and tls.key_file must be set together")));
  EXPECT_THAT(
      LoadConfig(Service::kIngestion, {"--tls.key_file=" + key}, FakeEnv({})),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("tls.cert_file (OMNICX_TLS_CERT_FILE)")));
  EXPECT_THAT(
      LoadConfig(Service::kIngestion,
                 {"--tls.cert_file=" + cert, "--tls.key_file=" + key,
                  "--tls.require_client_cert=true"},
                 FakeEnv({})),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("tls.ca_file (OMNICX_TLS_CA_FILE): required when "
                         "tls.require_client_cert is true")));
  EXPECT_THAT(
      LoadConfig(Service::kIngestion,
                 {"--tls.ca_file=" + ca, "--tls.require_client_cert=true"},
                 FakeEnv({})),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("tls.cert_file (OMNICX_TLS_CERT_FILE)")));
  EXPECT_THAT(
      LoadConfig(Service::kIngestion,
                 {"--tls.cert_file=" + missing, "--tls.key_file=" + key},
                 FakeEnv({})),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr("tls.cert_file (OMNICX_TLS_CERT_FILE): cannot read \"" +
                    missing + "\"")));
  EXPECT_THAT(LoadConfig(Service::kIngestion, {"--tls.ca_file=" + missing},
                         FakeEnv({})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("tls.ca_file (OMNICX_TLS_CA_FILE): cannot "
                                 "read")));
  EXPECT_THAT(LoadConfig(Service::kIngestion, {"--tls.refresh_interval=10ms"},
                         FakeEnv({})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("tls.refresh_interval")));
}

TEST(ConfigTest, HelpListsEverySettingWithItsVariable) {
  const std::string help = HelpText(Service::kIngestion);
  EXPECT_THAT(
      help,
      HasSubstr("--redis.address  OMNICX_REDIS_ADDRESS  [127.0.0.1:6390]"));
  EXPECT_THAT(help, HasSubstr("--durability  OMNICX_DURABILITY  [fast]"));
}

}  // namespace
}  // namespace omnicx::config
