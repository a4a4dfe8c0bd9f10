#include "libs/testing/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "libs/keys/digest.h"

namespace omnicx::testing {

int PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::string RedisAclTemplatePath() { return OMNICX_REDIS_ACL_TEMPLATE; }

absl::StatusOr<std::string> RenderRedisAcl(
    absl::string_view template_text,
    const std::map<std::string, std::string>& passwords) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(template_text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    std::string rendered(line);
    for (const auto& [user, password] : passwords) {
      const std::string token = absl::StrCat("@", user, "_password_sha256@");
      for (size_t at = rendered.find(token); at != std::string::npos;
           at = rendered.find(token, at)) {
        rendered.replace(at, token.size(), keys::Sha256Hex(password));
      }
    }
    const size_t left = rendered.find("_password_sha256@");
    if (left != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("no password for the ACL user of: ", line));
    }
    absl::StrAppend(&out, rendered, "\n");
  }
  return out;
}

std::map<std::string, std::string> TestAclPasswords() {
  std::map<std::string, std::string> passwords;
  for (const char* user :
       {"default", "ingestion", "profile", "journey", "recommendation"}) {
    passwords[user] = absl::StrCat(user, "-test-password");
  }
  return passwords;
}

namespace {

bool CanConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok =
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

RedisServer::RedisServer(Options options, int port, std::string dir)
    : options_(std::move(options)), port_(port), dir_(std::move(dir)) {}

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start(
    Options options) {
  if (access("/usr/bin/redis-server", X_OK) != 0) {
    return absl::FailedPreconditionError(
        "/usr/bin/redis-server is missing: apt-get install redis-server");
  }
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "omnicx-redis-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError("cannot create a temp dir for redis-server");
  }
  absl::Status last;
  // A picked port can be taken by someone else before redis binds it.
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::unique_ptr<RedisServer> server(
        new RedisServer(options, PickFreePort(), tmpl));
    last = server->Launch();
    if (last.ok()) return server;
    server->dir_.clear();  // keep the dir for the next attempt
  }
  std::filesystem::remove_all(tmpl);
  return last;
}

RedisServer::~RedisServer() {
  if (pid_ > 0) (void)Kill();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string RedisServer::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

absl::Status RedisServer::Launch() {
  std::vector<std::string> args = {"/usr/bin/redis-server",
                                   "--bind",
                                   "127.0.0.1",
                                   "--port",
                                   absl::StrCat(port_),
                                   "--dir",
                                   dir_,
                                   "--save",
                                   "",
                                   "--appendonly",
                                   options_.appendonly ? "yes" : "no",
                                   "--appendfsync",
                                   options_.appendfsync,
                                   "--daemonize",
                                   "no",
                                   "--logfile",
                                   dir_ + "/redis.log"};
  if (!options_.password.empty()) {
    args.push_back("--requirepass");
    args.push_back(options_.password);
  }
  if (!options_.acl_passwords.empty()) {
    std::ifstream in(RedisAclTemplatePath());
    if (!in) {
      return absl::NotFoundError(
          absl::StrCat("cannot read ", RedisAclTemplatePath()));
    }
    std::ostringstream text;
    text << in.rdbuf();
    absl::StatusOr<std::string> acl =
        RenderRedisAcl(text.str(), options_.acl_passwords);
    if (!acl.ok()) return acl.status();
    const std::string path = dir_ + "/users.acl";
    std::ofstream(path) << *acl;
    args.push_back("--aclfile");
    args.push_back(path);
  }
  if (options_.cluster) {
    if (cluster_port_ == 0) cluster_port_ = PickFreePort();
    for (std::string arg :
         {std::string("--cluster-enabled"), std::string("yes"),
          std::string("--cluster-port"), absl::StrCat(cluster_port_)}) {
      args.push_back(std::move(arg));
    }
  }
  args.insert(args.end(), options_.extra_args.begin(),
              options_.extra_args.end());
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // Do not inherit the test's blocked signals: SIGTERM must stop Redis.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  return WaitReady();
}

absl::Status RedisServer::WaitReady() {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError(
          absl::StrCat("redis-server exited at start (port ", port_, "); see ",
                       dir_, "/redis.log"));
    }
    if (CanConnect(port_)) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(10));
  }
  (void)Kill();
  return absl::DeadlineExceededError("redis-server did not answer in 5 s");
}

absl::Status RedisServer::Signal(int signal) {
  if (pid_ <= 0) return absl::OkStatus();
  kill(pid_, signal);
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  return absl::DeadlineExceededError("redis-server ignored the signal for 5 s");
}

absl::Status RedisServer::Stop() { return Signal(SIGTERM); }

absl::Status RedisServer::Kill() { return Signal(SIGKILL); }

absl::Status RedisServer::Restart() {
  if (pid_ > 0) return absl::FailedPreconditionError("still running");
  return Launch();
}

}  // namespace omnicx::testing
