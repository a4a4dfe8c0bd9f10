// Leveled logging, one line per event on stderr, safe from many threads.
//
//   logging::SetLevel(logging::Level::kInfo);
//   logging::SetComponent("ingestion");
//   OMNICX_LOG(kInfo) << "method=Track customer=" << cid << " accepted";
//
// A line reads `2026-11-22T14:01:02.345Z I ingestion log.cc:12] text`.
// Disabled levels cost one relaxed atomic load; the stream is not built.
// Identity values (emails, phones) must never be logged: log customer ids.
#ifndef OMNICX_LIBS_LOGGING_LOG_H_
#define OMNICX_LIBS_LOGGING_LOG_H_

#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace omnicx::logging {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses debug, info, warn (warning), error; case-insensitive.
absl::StatusOr<Level> ParseLevel(absl::string_view text);
void SetLevel(Level level);
bool Enabled(Level level);
// The service name written on every line.
void SetComponent(absl::string_view component);

// Builds one line and writes it atomically when destroyed.
class LogLine {
 public:
  LogLine(Level level, const char* file, int line);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  std::ostream& stream() { return stream_; }

 private:
  Level level_;
  std::ostringstream stream_;
};

// Turns `stream << ...` into a void expression for OMNICX_LOG's `?:` (`&`
// binds more loosely than `<<`, so the whole chain is its operand).
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace omnicx::logging

// An expression, not an if/else, so `if (x) OMNICX_LOG(kWarn) << ...;` has
// no dangling else.
#define OMNICX_LOG(level)                                               \
  !::omnicx::logging::Enabled(::omnicx::logging::Level::level)          \
      ? (void)0                                                         \
      : ::omnicx::logging::Voidify() &                                  \
            ::omnicx::logging::LogLine(::omnicx::logging::Level::level, \
                                       __FILE__, __LINE__)              \
                .stream()

#endif  // OMNICX_LIBS_LOGGING_LOG_H_
