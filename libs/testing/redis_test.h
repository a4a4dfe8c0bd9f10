// The gtest fixture of every test that needs Redis: a real redis-server on
// a free 127.0.0.1 port (libs/testing/redis_server.h), started before each
// test and stopped after it, and a client on it.
//
//   class StoreTest : public omnicx::testing::RedisTest {
//    protected:
//     StoreTest() : RedisTest({.appendonly = true}) {}
//     void SetUp() override {
//       RedisTest::SetUp();
//       if (HasFatalFailure()) return;
//       store_ = std::make_unique<Store>(*redis_, keys_);
//     }
//   };
//
// The client connects to the server's port (as `default`, with the
// server's password when it has one); `client` sets everything else.
// Under the suite's ACL users, a test runs as a service and checks as the
// operator:
//
//   class StoreAclTest : public omnicx::testing::RedisTest {
//    protected:
//     StoreAclTest()
//         : RedisTest({.acl_passwords = TestAclPasswords()},
//                     AclUser("profile")) {}
//   };
//   ... NewClient(AclUser("default"))->Command({"ACL", "LOG"}) ...
#ifndef OMNICX_LIBS_TESTING_REDIS_TEST_H_
#define OMNICX_LIBS_TESTING_REDIS_TEST_H_

#include <memory>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "libs/redis/client.h"
#include "libs/testing/redis_server.h"
#include "libs/testing/wait.h"

namespace omnicx::testing {

class RedisTest : public ::testing::Test {
 protected:
  explicit RedisTest(RedisServer::Options server = {},
                     redis::ClientOptions client = {})
      : server_options_(std::move(server)),
        client_options_(std::move(client)) {}

  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RedisServer>> server =
        RedisServer::Start(server_options_);
    ASSERT_TRUE(server.ok()) << server.status();
    redis_server_ = std::move(*server);
    redis_ = NewClient();
  }

  // For a server started with {.cluster = true}: gives it every slot and
  // waits (bounded) for cluster_state:ok. The one node then refuses, as a
  // Cluster does, any command whose keys are in more than one slot
  // (CROSSSLOT). Call from SetUp after RedisTest::SetUp.
  void OwnEverySlot() {
    ASSERT_TRUE(
        redis_->Command({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"}).ok());
    ASSERT_TRUE(WaitUntil([&] {
      absl::StatusOr<redis::Reply> info = redis_->Command({"CLUSTER", "INFO"});
      return info.ok() &&
             info->str().find("cluster_state:ok") != std::string::npos;
    }));
  }

  // Another client on the same server (as `client` configures it).
  std::unique_ptr<redis::Client> NewClient() const {
    return NewClient(client_options_);
  }
  // A client on the same server configured by `o` (its host and port are
  // the server's; no password means the server's).
  std::unique_ptr<redis::Client> NewClient(redis::ClientOptions o) const {
    o.host = redis_server_->host();
    o.port = redis_server_->port();
    if (o.password.empty()) o.password = server_options_.password;
    return redis::Client::Create(o);
  }

  // Client options for one of the suite's ACL users (TestAclPasswords()),
  // for a server started with those acl_passwords.
  static redis::ClientOptions AclUser(const std::string& user) {
    redis::ClientOptions o;
    o.user = user;
    o.password = TestAclPasswords().at(user);
    return o;
  }

  // Client options that fail fast once the server is stopped (command
  // timeout 300 ms, reconnect backoff at most 100 ms).
  static redis::ClientOptions FailFast() {
    redis::ClientOptions o;
    o.command_timeout = absl::Milliseconds(300);
    o.reconnect_backoff_max = absl::Milliseconds(100);
    return o;
  }

  std::unique_ptr<RedisServer> redis_server_;
  std::unique_ptr<redis::Client> redis_;

 private:
  RedisServer::Options server_options_;
  redis::ClientOptions client_options_;
};

}  // namespace omnicx::testing

#endif  // OMNICX_LIBS_TESTING_REDIS_TEST_H_
