// A real redis-server for tests: started on a free 127.0.0.1 port with its
// data in a fresh temp dir, stopped (and the dir removed) on destruction.
//
//   auto redis = RedisServer::Start({.appendonly = true});
//   ASSERT_TRUE(redis.ok()) << redis.status();
//   ClientOptions o; o.port = (*redis)->port();
//   (*redis)->Stop(); (*redis)->Restart();  // same port, same data (AOF)
//
// With acl_passwords the server runs the suite's Redis ACL users
// (helm/omnicx/files/redis-acl.conf rendered, --aclfile), so a test connects
// as a service: o.user = "profile"; o.password = TestAclPasswords()["profile"].
#ifndef OMNICX_LIBS_TESTING_REDIS_SERVER_H_
#define OMNICX_LIBS_TESTING_REDIS_SERVER_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace omnicx::testing {

// A port that was free a moment ago on 127.0.0.1.
int PickFreePort();

// The ACL template's path in the source tree
// (helm/omnicx/files/redis-acl.conf).
std::string RedisAclTemplatePath();

// Renders the ACL template: '#' comment and blank lines dropped, each
// @<user>_password_sha256@ replaced by the SHA-256 hex of that user's
// password. InvalidArgument when a user of the template has no password.
absl::StatusOr<std::string> RenderRedisAcl(
    absl::string_view template_text,
    const std::map<std::string, std::string>& passwords);

// A password for each user of the template (default, ingestion, profile,
// journey, recommendation), for tests.
std::map<std::string, std::string> TestAclPasswords();

class RedisServer {
 public:
  struct Options {
    bool appendonly = false;
    std::string appendfsync = "everysec";
    std::string password;
    // User -> password: run with the rendered ACL template (see above).
    std::map<std::string, std::string> acl_passwords;
    std::vector<std::string> extra_args;
    // Cluster mode (cluster-enabled, the bus on a free port; it defaults to
    // port + 10000, past 65535 for many ports). The node owns no slots
    // until given them; CLUSTER KEYSLOT answers at once.
    bool cluster = false;
  };

  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start() {
    return Start(Options());
  }
  ~RedisServer();

  int port() const { return port_; }
  // The cluster bus port (Options::cluster), else 0: CLUSTER MEET needs it.
  int cluster_port() const { return cluster_port_; }
  std::string host() const { return "127.0.0.1"; }
  std::string address() const;
  const std::string& dir() const { return dir_; }
  bool running() const { return pid_ > 0; }

  // SIGTERM (Redis writes its AOF and exits), waiting up to 5 s.
  absl::Status Stop();
  // SIGKILL: no chance to flush anything.
  absl::Status Kill();
  // Starts again on the same port with the same data dir.
  absl::Status Restart();

 private:
  RedisServer(Options options, int port, std::string dir);
  absl::Status Launch();
  absl::Status WaitReady();
  absl::Status Signal(int signal);

  Options options_;
  int port_;
  int cluster_port_ = 0;  // the cluster bus, when Options::cluster
  std::string dir_;
  pid_t pid_ = -1;
};

}  // namespace omnicx::testing

#endif  // OMNICX_LIBS_TESTING_REDIS_SERVER_H_
