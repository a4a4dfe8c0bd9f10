#include "libs/logging/log.h"

#include <unistd.h>

#include <atomic>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace omnicx::logging {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

absl::Mutex g_component_mu;
std::string* g_component ABSL_GUARDED_BY(g_component_mu) =
    new std::string("omnicx");

char LevelLetter(Level level) {
  switch (level) {
    case Level::kDebug:
      return 'D';
    case Level::kInfo:
      return 'I';
    case Level::kWarn:
      return 'W';
    case Level::kError:
      return 'E';
  }
  return '?';
}

const char* Basename(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash == nullptr ? path : slash + 1;
}

}  // namespace

absl::StatusOr<Level> ParseLevel(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "debug") return Level::kDebug;
  if (lower == "info") return Level::kInfo;
  if (lower == "warn" || lower == "warning") return Level::kWarn;
  if (lower == "error") return Level::kError;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown log level \"", text, "\" (want debug, info, warn or error)"));
}

void SetLevel(Level level) {
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

bool Enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void SetComponent(absl::string_view component) {
  absl::MutexLock lock(&g_component_mu);
  *g_component = std::string(component);
}

LogLine::LogLine(Level level, const char* file, int line) : level_(level) {
  std::string component;
  {
    absl::MutexLock lock(&g_component_mu);
    component = *g_component;
  }
  stream_ << absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                              absl::UTCTimeZone())
          << ' ' << LevelLetter(level_) << ' ' << component << ' '
          << Basename(file) << ':' << line << "] ";
}

LogLine::~LogLine() {
  std::string text = stream_.str();
  // Newlines inside a message would forge extra log lines.
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  text.push_back('\n');
  // One write(2) per line keeps lines whole across threads.
  ssize_t ignored = ::write(STDERR_FILENO, text.data(), text.size());
  (void)ignored;
}

}  // namespace omnicx::logging
