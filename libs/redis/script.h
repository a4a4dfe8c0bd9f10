// A Lua script run with EVALSHA. Its SHA-1 is computed locally at
// construction, so the first call needs no SCRIPT LOAD round trip; when
// Redis answers NOSCRIPT (restart, SCRIPT FLUSH, failover) the client loads
// it and retries once.
//
//   static const Script kAppend(R"lua( return redis.call('INCR', KEYS[1])
//   )lua"); client.Eval(kAppend, {key}, {});
#ifndef OMNICX_LIBS_REDIS_SCRIPT_H_
#define OMNICX_LIBS_REDIS_SCRIPT_H_

#include <string>
#include <vector>

namespace omnicx::redis {

class Script {
 public:
  explicit Script(std::string source);

  const std::string& source() const { return source_; }
  // Lower-case hex SHA-1 of the source, as Redis names scripts.
  const std::string& sha1() const { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;
};

// {"EVALSHA", sha1, numkeys, keys..., args...} for Client::Pipeline and
// Client::PipelineScripts.
std::vector<std::string> EvalShaCommand(const Script& script,
                                        const std::vector<std::string>& keys,
                                        const std::vector<std::string>& args);

}  // namespace omnicx::redis

#endif  // OMNICX_LIBS_REDIS_SCRIPT_H_
