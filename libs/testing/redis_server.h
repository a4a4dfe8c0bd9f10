// A real redis-server for tests: started on a free 127.0.0.1 port with its
// data in a fresh temp dir, stopped (and the dir removed) on destruction.
//
//   auto redis = RedisServer::Start({.appendonly = true});
//   ASSERT_TRUE(redis.ok()) << redis.status();
//   ClientOptions o; o.port = (*redis)->port();
//   (*redis)->Stop(); (*redis)->Restart();  // same port, same data (AOF)
#ifndef OMNICX_LIBS_TESTING_REDIS_SERVER_H_
#define OMNICX_LIBS_TESTING_REDIS_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace omnicx::testing {

// A port that was free a moment ago on 127.0.0.1.
int PickFreePort();

class RedisServer {
 public:
  struct Options {
    bool appendonly = false;
    std::string appendfsync = "everysec";
    std::string password;
    std::vector<std::string> extra_args;
  };

  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start() {
    return Start(Options());
  }
  ~RedisServer();

  int port() const { return port_; }
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
  std::string dir_;
  pid_t pid_ = -1;
};

}  // namespace omnicx::testing

#endif  // OMNICX_LIBS_TESTING_REDIS_SERVER_H_
