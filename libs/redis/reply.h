// A Redis reply as a value type, copied out of hiredis's redisReply so that
// no hiredis type leaks into callers.
//
//   absl::StatusOr<Reply> r = client.Command({"HGETALL", key});
//   for (const Reply& e : r->elements()) ...
//   OMNICX_ASSIGN_OR_RETURN(int64_t n, r->AsInteger());
#ifndef OMNICX_LIBS_REDIS_REPLY_H_
#define OMNICX_LIBS_REDIS_REPLY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace omnicx::redis {

class Reply {
 public:
  enum class Type { kNil, kInteger, kString, kStatus, kArray, kError };

  Reply() = default;
  static Reply Nil() { return Reply(); }
  static Reply Integer(int64_t v);
  static Reply String(std::string s);
  static Reply Status(std::string s);
  static Reply Error(std::string s);
  static Reply Array(std::vector<Reply> elements);

  Type type() const { return type_; }
  bool is_nil() const { return type_ == Type::kNil; }
  bool is_error() const { return type_ == Type::kError; }
  // The integer, or 0 for other types.
  int64_t integer() const { return integer_; }
  // Bulk string, status text or error text; empty for other types.
  const std::string& str() const { return str_; }
  // Array elements; empty for other types.
  const std::vector<Reply>& elements() const { return elements_; }

  // Typed access; FailedPrecondition when the reply has another type.
  // AsInteger also accepts a bulk string holding an integer.
  absl::StatusOr<int64_t> AsInteger() const;
  absl::StatusOr<std::string> AsString() const;

 private:
  Type type_ = Type::kNil;
  int64_t integer_ = 0;
  std::string str_;
  std::vector<Reply> elements_;
};

}  // namespace omnicx::redis

#endif  // OMNICX_LIBS_REDIS_REPLY_H_
