#include "libs/redis/reply.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace omnicx::redis {

Reply Reply::Integer(int64_t v) {
  Reply r;
  r.type_ = Type::kInteger;
  r.integer_ = v;
  return r;
}

Reply Reply::String(std::string s) {
  Reply r;
  r.type_ = Type::kString;
  r.str_ = std::move(s);
  return r;
}

Reply Reply::Status(std::string s) {
  Reply r;
  r.type_ = Type::kStatus;
  r.str_ = std::move(s);
  return r;
}

Reply Reply::Error(std::string s) {
  Reply r;
  r.type_ = Type::kError;
  r.str_ = std::move(s);
  return r;
}

Reply Reply::Array(std::vector<Reply> elements) {
  Reply r;
  r.type_ = Type::kArray;
  r.elements_ = std::move(elements);
  return r;
}

absl::StatusOr<int64_t> Reply::AsInteger() const {
  if (type_ == Type::kInteger) return integer_;
  int64_t v = 0;
  if (type_ == Type::kString && absl::SimpleAtoi(str_, &v)) return v;
  return absl::FailedPreconditionError(absl::StrCat(
      "redis reply is not an integer (type ", static_cast<int>(type_), ")"));
}

absl::StatusOr<std::string> Reply::AsString() const {
  if (type_ == Type::kString || type_ == Type::kStatus) return str_;
  return absl::FailedPreconditionError(absl::StrCat(
      "redis reply is not a string (type ", static_cast<int>(type_), ")"));
}

}  // namespace omnicx::redis
