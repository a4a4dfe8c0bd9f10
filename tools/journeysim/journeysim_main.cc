// omnicx-journeysim: realistic omnichannel traffic from personas, its ground
// truth, and how well the journey scores predict it.
//
//   omnicx-journeysim send --ingestion=127.0.0.1:50051 --truth=truth.tsv
//       [--customers=5000] [--events=200000] [--seed=1] [--now=<unix s>]
//       [--horizon-days=30] [--history-days=300] [--phone-base=2000000]
//       [--plant=touchpoint=delivery[,rate=0.25]]... [--rate=0] [--progress]
//       [--label-share=0] [--redraw-touchpoints] [--dry-run]
//     Simulates the population (deterministic for --seed and --now), writes
//     the ground truth, sends the observed events with TrackBatch (≤500 per
//     call; --rate events/s, 0 = as fast as possible) and prints events/s.
//     A progress bar goes to stderr when it is a terminal or with --progress.
//     --label-share=0.5 reports the churn of that share of the customers as
//     `churned` events (the training half); --redraw-touchpoints renames
//     every touchpoint and draws its importance anew from --seed.
//   omnicx-journeysim quality --truth=truth.tsv --journey=127.0.0.1:50053
//       [--min-auc=0.75] [--top=3] [--min-gap-closed=0] [--max-ece=1]
//     Churn-risk ROC AUC (GetJourney by phone, customers still active at the
//     end of the observation window and not in the labelled share; positive
//     = churns within the held-out horizon), the share of the gap between
//     the naive failure count's AUC and the AUC of the simulator's true hazard
//     it closes, its expected calibration error (10 bins), and whether each
//     planted pain point is in the top --top of ListPainPoints. Exit 1 when
//     a bound is missed.
//   omnicx-journeysim offline [--seed=1] [--seeds-to=N] [--customers=5000]
//       [--events=200000] [--now=<unix s>] [--label-share=0.5] [--plant=...]
//     The held-out protocol in one process, no services (offline_quality.h):
//     churn-risk AUC, naive and true-hazard AUC, gap closed and calibration
//     error per seed, about a second per 5,000 customers. No key needed.
//   omnicx-journeysim report --journey=127.0.0.1:50053 [--top=10]
//     The top pain points table and the stage funnel (last 30 days).
//   omnicx-journeysim pick --truth=truth.tsv --journey=127.0.0.1:50053
//     Prints the phone of an at-risk customer with a planted or severe bad
//     experience (AT_RISK by GetJourney, open case preferred).
//   omnicx-journeysim outcome --phone=+1555... --profile=127.0.0.1:50052
//       --recommendation=127.0.0.1:50054
//     Records ACCEPTED for the first action of the customer's context
//     decision and prints that action's statistics before and after.
//
// Every mode but `send --dry-run` and `offline` needs --key_file=F, a file
// holding the plaintext API key it sends as `authorization: Bearer <key>`: send
// an app key; pick an agent key; report an analyst key; quality and outcome an
// agent key plus --analyst_key_file=F for their analyst-only calls
// (ListPainPoints, GetFunnel, GetActionStats; defaults to --key_file).
// Every mode also takes --tls_ca_file=F [--tls_cert_file=F --tls_key_file=F]
// to reach services that serve TLS or mTLS.
//
// Ground truth (tab-separated; see tools/journeysim/simulation.h):
//   # omnicx-journeysim ground truth v1
//   # now=<RFC3339> horizon_days=<d> customers=<n> events=<n>
//   # planted<TAB><touchpoint><TAB><failure rate>
//   phone email persona first_seen churned churned_at events damage severe
//   planted_hits
// `churned`/`churned_at` cover the observed history and the held-out horizon
// after `now`; `damage` is the simulator's latent state at `now`.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "libs/auth/authenticator.h"
#include "libs/server/tls.h"
#include "omnicx/v1/ingestion.grpc.pb.h"
#include "omnicx/v1/journey.grpc.pb.h"
#include "omnicx/v1/profile.grpc.pb.h"
#include "omnicx/v1/recommendation.grpc.pb.h"
#include "tools/journeysim/offline_quality.h"
#include "tools/journeysim/roc_auc.h"
#include "tools/journeysim/sender.h"
#include "tools/journeysim/simulation.h"

namespace {

using omnicx::auth::ServiceCredential;
using omnicx::journeysim::GroundTruth;
using omnicx::journeysim::Population;
using omnicx::journeysim::SimulationConfig;

struct Flags {
  std::map<std::string, std::string> values;
  std::vector<std::string> plants;
  bool Has(const std::string& k) const { return values.count(k) > 0; }
  std::string Get(const std::string& k, const std::string& d = "") const {
    auto it = values.find(k);
    return it == values.end() ? d : it->second;
  }
};

int Usage() {
  std::cerr << "usage: omnicx-journeysim send|quality|report|pick|outcome "
               "[--flag=value ...]\n  see the header of "
               "tools/journeysim/journeysim_main.cc or --help\n";
  return 2;
}

template <typename T>
bool Number(const Flags& f, const std::string& k, T* out) {
  if (!f.Has(k)) return true;
  bool ok;
  if constexpr (std::is_floating_point_v<T>) {
    ok = absl::SimpleAtod(f.Get(k), out);
  } else {
    ok = absl::SimpleAtoi(f.Get(k), out);
  }
  if (!ok) std::cerr << "omnicx-journeysim: --" << k << " is not a number\n";
  return ok;
}

// A channel to the service whose address is flag `key`, with the --tls_*
// files when given.
std::shared_ptr<grpc::Channel> Channel(const Flags& f, const std::string& key) {
  omnicx::config::v1::TlsConfig tls;
  tls.set_ca_file(f.Get("tls_ca_file"));
  tls.set_cert_file(f.Get("tls_cert_file"));
  tls.set_key_file(f.Get("tls_key_file"));
  return omnicx::server::DialService(f.Get(key), tls);
}

// The API keys a mode sends: `caller` for its calls, `analyst` for the
// analyst-only ones (ListPainPoints, GetFunnel, GetActionStats).
struct Keys {
  ServiceCredential caller;
  ServiceCredential analyst;
};

absl::StatusOr<Keys> LoadKeys(const Flags& f) {
  absl::StatusOr<ServiceCredential> caller =
      ServiceCredential::FromKeyFile(f.Get("key_file"));
  if (!caller.ok()) return caller.status();
  if (!f.Has("analyst_key_file")) return Keys{*caller, *caller};
  absl::StatusOr<ServiceCredential> analyst = ServiceCredential::FromKeyFile(
      f.Get("analyst_key_file"), "--analyst_key_file");
  if (!analyst.ok()) return analyst.status();
  return Keys{*std::move(caller), *std::move(analyst)};
}

int KeyError(const absl::Status& status) {
  std::cerr << "omnicx-journeysim: " << status.message() << "\n";
  return 2;
}

// Every call: a deadline and the API key.
void Prepare(grpc::ClientContext* c, const ServiceCredential& key,
             int seconds = 5) {
  c->set_deadline(std::chrono::system_clock::now() +
                  std::chrono::seconds(seconds));
  key.Attach(c);
}

std::string Short(const std::string& name, const std::string& prefix) {
  return absl::StartsWith(name, prefix) ? name.substr(prefix.size()) : name;
}
std::string ChannelName(omnicx::v1::Channel c) {
  return Short(omnicx::v1::Channel_Name(c), "CHANNEL_");
}
std::string StageName(omnicx::v1::Stage s) {
  if (s == omnicx::v1::STAGE_UNSPECIFIED) return "(new)";
  return Short(omnicx::v1::Stage_Name(s), "STAGE_");
}

absl::StatusOr<GroundTruth> LoadTruth(const Flags& f) {
  std::ifstream in(f.Get("truth"));
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read --truth=", f.Get("truth")));
  }
  return omnicx::journeysim::ReadGroundTruth(in);
}

int Send(const Flags& f) {
  SimulationConfig config;
  uint64_t seed = 1;
  int64_t now_s = absl::ToUnixSeconds(absl::Now());
  int horizon_days = 30, history_days = 300;
  omnicx::journeysim::SendOptions options;
  if (!Number(f, "customers", &config.customers) ||
      !Number(f, "events", &config.events) || !Number(f, "seed", &seed) ||
      !Number(f, "now", &now_s) || !Number(f, "horizon-days", &horizon_days) ||
      !Number(f, "history-days", &history_days) ||
      !Number(f, "phone-base", &config.phone_base) ||
      !Number(f, "rate", &options.rate) ||
      !Number(f, "concurrency", &options.concurrency)) {
    return 2;
  }
  if (!Number(f, "label-share", &config.label_share)) return 2;
  if (!(config.label_share >= 0 && config.label_share <= 1)) {
    std::cerr << "omnicx-journeysim: --label-share in [0, 1]\n";
    return 2;
  }
  if (config.customers < 1 || config.customers > 1'000'000 ||
      config.events < 0 || config.events > 50'000'000 || horizon_days < 1 ||
      history_days < 30 || history_days > 360 || config.phone_base < 0) {
    std::cerr << "omnicx-journeysim: --customers in [1, 1e6], --events in [0, "
                 "5e7], --history-days in [30, 360], --horizon-days >= 1\n";
    return 2;
  }
  // Checked before simulating, which takes seconds for large populations.
  if (!f.Has("dry-run")) {
    if (!f.Has("ingestion")) {
      std::cerr << "omnicx-journeysim: --ingestion=HOST:PORT (or --dry-run)\n";
      return 2;
    }
    absl::StatusOr<Keys> keys = LoadKeys(f);
    if (!keys.ok()) return KeyError(keys.status());
    options.credential = keys->caller;
  }
  for (const std::string& spec : f.plants) {
    auto plant = omnicx::journeysim::ParsePlant(spec);
    if (!plant.ok()) {
      std::cerr << "omnicx-journeysim: " << plant.status().message() << "\n";
      return 2;
    }
    config.planted.push_back(*plant);
  }
  config.now = absl::FromUnixSeconds(now_s);
  config.horizon = absl::Hours(24 * horizon_days);
  config.history = absl::Hours(24 * history_days);
  config.run_id = absl::StrCat("sim", seed, "-", now_s);
  if (f.Has("redraw-touchpoints")) {
    omnicx::journeysim::RedrawTouchpoints(seed, &config);
    if (f.Has("show-touchpoints")) {
      for (const auto& [name, sent] : config.touchpoints) {
        std::fprintf(stderr, "  %-20s -> %s importance %.2f\n", name.c_str(),
                     sent.first.c_str(), sent.second);
      }
    }
  }
  std::mt19937_64 rng(seed);
  const absl::Time t0 = absl::Now();
  Population population = omnicx::journeysim::Simulate(config, rng);
  int64_t churned_before = 0, churn_after = 0;
  for (const auto& c : population.customers) {
    churned_before += c.ChurnedBy(config.now);
    churn_after +=
        !c.ChurnedBy(config.now) && c.ChurnedBy(config.now + config.horizon);
  }
  std::fprintf(stderr,
               "simulated %lld customers, %lld events in %.1f s (seed %llu); "
               "churned before now %lld, churn in the held-out %d days %lld\n",
               static_cast<long long>(population.customers.size()),
               static_cast<long long>(population.events.size()),
               absl::ToDoubleSeconds(absl::Now() - t0),
               static_cast<unsigned long long>(seed),
               static_cast<long long>(churned_before), horizon_days,
               static_cast<long long>(churn_after));
  if (f.Has("truth")) {
    std::ofstream out(f.Get("truth"));
    omnicx::journeysim::WriteGroundTruth(population, out);
    if (!out) {
      std::cerr << "omnicx-journeysim: cannot write " << f.Get("truth") << "\n";
      return 1;
    }
  }
  if (f.Has("dry-run")) return 0;
  options.progress = f.Has("progress") || isatty(STDERR_FILENO);
  auto stub = omnicx::v1::IngestionService::NewStub(Channel(f, "ingestion"));
  auto sent = omnicx::journeysim::SendEvents(*stub, population.events, options);
  if (!sent.ok()) {
    std::cerr << "omnicx-journeysim: " << sent.status() << "\n";
    return 1;
  }
  std::printf(
      "sent %lld events in %.1f s: %.0f events/s (accepted %lld, duplicate "
      "%lld, rejected %lld)\n",
      static_cast<long long>(population.events.size()),
      absl::ToDoubleSeconds(sent->elapsed), sent->events_per_second(),
      static_cast<long long>(sent->accepted),
      static_cast<long long>(sent->duplicate),
      static_cast<long long>(sent->rejected));
  if (sent->rejected > 0) {
    std::fprintf(stderr, "first rejection: %s\n",
                 sent->first_rejection.c_str());
    return 1;
  }
  return 0;
}

absl::StatusOr<omnicx::v1::JourneySummary> Journey(
    omnicx::v1::JourneyService::Stub& stub, const ServiceCredential& key,
    const std::string& phone) {
  omnicx::v1::GetJourneyRequest request;
  request.mutable_customer()->mutable_identity()->set_type("phone");
  request.mutable_customer()->mutable_identity()->set_value(phone);
  omnicx::v1::GetJourneyResponse response;
  grpc::ClientContext context;
  Prepare(&context, key);
  grpc::Status s = stub.GetJourney(&context, request, &response);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        s.error_message());
  }
  return response.journey();
}

absl::StatusOr<std::vector<omnicx::v1::PainPoint>> PainPoints(
    omnicx::v1::JourneyService::Stub& stub, const ServiceCredential& key,
    int limit) {
  omnicx::v1::ListPainPointsRequest request;
  request.set_limit(limit);
  omnicx::v1::ListPainPointsResponse response;
  grpc::ClientContext context;
  Prepare(&context, key);
  grpc::Status s = stub.ListPainPoints(&context, request, &response);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        s.error_message());
  }
  return std::vector<omnicx::v1::PainPoint>(response.pain_points().begin(),
                                            response.pain_points().end());
}

void PrintPainPoints(const std::vector<omnicx::v1::PainPoint>& points) {
  std::printf("  %-3s %-20s %-10s %-16s %9s %7s %7s %8s %6s %8s %8s\n", "#",
              "touchpoint", "channel", "type", "customers", "neg", "repeat",
              "wait", "churn", "severity", "impact");
  int rank = 0;
  for (const auto& p : points) {
    std::printf(
        "  %-3d %-20s %-10s %-16s %9lld %6.0f%% %6.0f%% %6.1fm %5.0f%% %8.2f "
        "%8.1f\n",
        ++rank, p.touchpoint().c_str(), ChannelName(p.channel()).c_str(),
        p.type().c_str(), static_cast<long long>(p.customers_affected()),
        100 * p.negative_rate(), 100 * p.repeat_contact_rate(),
        p.mean_wait_seconds() / 60, 100 * p.mean_churn_risk(), p.severity(),
        p.impact());
  }
}

// What the churn model learned (GetChurnModel), its `limit` best-supported
// touchpoints.
void PrintChurnModel(omnicx::v1::JourneyService::Stub& stub,
                     const ServiceCredential& key, int limit) {
  omnicx::v1::GetChurnModelRequest request;
  request.set_limit(100);
  omnicx::v1::GetChurnModelResponse m;
  grpc::ClientContext context;
  Prepare(&context, key);
  grpc::Status s = stub.GetChurnModel(&context, request, &m);
  if (!s.ok()) {
    std::printf("\nGetChurnModel failed: %s\n", s.error_message().c_str());
    return;
  }
  std::printf(
      "\nlearned churn model (GetChurnModel): version %lld, %lld examples, "
      "%lld churned; intercept shift %+.2f, prior slope %.2f\n",
      static_cast<long long>(m.version()), static_cast<long long>(m.examples()),
      static_cast<long long>(m.positives()), m.intercept_shift(),
      m.prior_slope());
  std::map<std::string, double> sorted(m.coefficients().begin(),
                                       m.coefficients().end());
  std::printf("  coefficients:");
  for (const auto& [name, v] : sorted) {
    std::printf(" %s %+.2f", name.c_str(), v);
  }
  std::printf("\n");
  int shown = 0;
  for (const auto& imp : m.importances()) {
    if (imp.kind() != "touchpoint" || shown++ >= limit) continue;
    std::printf(
        "  %-10s %-20s bad x%.2f  good x%.2f  support %lld (%lld churned)\n",
        imp.kind().c_str(), imp.name().c_str(), imp.negative_multiplier(),
        imp.positive_multiplier(), static_cast<long long>(imp.support()),
        static_cast<long long>(imp.positives()));
  }
}

// Expected calibration error over 10 equal-width bins of the predictions.
double CalibrationError(const std::vector<double>& p,
                        const std::vector<bool>& y) {
  double sum_p[10] = {}, sum_y[10] = {};
  for (size_t i = 0; i < p.size(); ++i) {
    const int bin = std::clamp(static_cast<int>(p[i] * 10), 0, 9);
    sum_p[bin] += p[i];
    sum_y[bin] += y[i] ? 1 : 0;
  }
  double ece = 0;
  for (int b = 0; b < 10; ++b) ece += std::abs(sum_p[b] - sum_y[b]);
  return p.empty() ? 0 : ece / static_cast<double>(p.size());
}

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

// (auc − naive) / (reference − naive): 1 closes the whole gap.
double GapClosed(double auc, const absl::StatusOr<double>& naive,
                 const absl::StatusOr<double>& reference) {
  if (!naive.ok() || !reference.ok() || *reference <= *naive) return 0;
  return (auc - *naive) / (*reference - *naive);
}

int Quality(const Flags& f) {
  double min_auc = 0, min_gap_closed = -1e9, max_ece = 1;
  int top = 3;
  if (!Number(f, "min-auc", &min_auc) || !Number(f, "top", &top) ||
      !Number(f, "min-gap-closed", &min_gap_closed) ||
      !Number(f, "max-ece", &max_ece)) {
    return 2;
  }
  auto truth = LoadTruth(f);
  if (!truth.ok()) {
    std::cerr << "omnicx-journeysim: " << truth.status() << "\n";
    return 2;
  }
  absl::StatusOr<Keys> keys = LoadKeys(f);
  if (!keys.ok()) return KeyError(keys.status());
  auto stub = omnicx::v1::JourneyService::NewStub(Channel(f, "journey"));
  const absl::Time end = truth->now + truth->horizon;
  std::vector<double> risk, damage, naive, hazard;
  std::vector<bool> label;
  int64_t missing = 0, trained = 0;
  for (const auto& c : truth->customers) {
    if (c.ChurnedBy(truth->now)) continue;  // left during the observed window
    if (c.labelled) {                       // the training half: never measured
      ++trained;
      continue;
    }
    auto j = Journey(*stub, keys->caller, c.phone);
    if (!j.ok()) {
      if (j.status().code() != absl::StatusCode::kNotFound) {
        std::cerr << "omnicx-journeysim: GetJourney " << c.phone << ": "
                  << j.status() << "\n";
        return 1;
      }
      ++missing;
      continue;
    }
    risk.push_back(j->churn_risk());
    damage.push_back(c.damage_at_now);
    naive.push_back(c.failures);
    hazard.push_back(c.hazard_at_now);
    label.push_back(c.ChurnedBy(end));
  }
  const int64_t positives = std::count(label.begin(), label.end(), true);
  auto auc = omnicx::journeysim::RocAuc(risk, label);
  auto oracle = omnicx::journeysim::RocAuc(damage, label);
  auto baseline = omnicx::journeysim::RocAuc(naive, label);
  auto truth_auc = omnicx::journeysim::RocAuc(hazard, label);
  if (!auc.ok()) {
    std::cerr << "omnicx-journeysim: " << auc.status() << "\n";
    return 1;
  }
  const int horizon_days =
      static_cast<int>(absl::ToInt64Hours(truth->horizon) / 24);
  std::printf(
      "churn risk vs churn within %d days after the observation window:\n"
      "  customers scored %zu (not found %lld), churned in horizon %lld "
      "(%.1f%%)\n"
      "  ROC AUC of journey churn_risk      %.3f\n"
      "  ROC AUC of the simulator's damage  %.3f  (reference: its own hidden "
      "state at the end of the window)\n"
      "  ROC AUC of the true hazard         %.3f  (the simulator's daily "
      "hazard at the end of the window)\n"
      "  ROC AUC of the failure count       %.3f  (naive baseline)\n"
      "  gap closed (naive -> true hazard)  %.0f%%\n"
      "  calibration error (10 bins)        %.3f  (mean risk %.3f, churn rate "
      "%.3f)\n"
      "  training half (labelled, not measured) %lld customers\n",
      horizon_days, risk.size(), static_cast<long long>(missing),
      static_cast<long long>(positives),
      risk.empty() ? 0.0 : 100.0 * positives / risk.size(), *auc,
      oracle.ok() ? *oracle : 0.0, truth_auc.ok() ? *truth_auc : 0.0,
      baseline.ok() ? *baseline : 0.0,
      100 * GapClosed(*auc, baseline, truth_auc), CalibrationError(risk, label),
      Mean(risk), risk.empty() ? 0.0 : 1.0 * positives / risk.size(),
      static_cast<long long>(trained));
  PrintChurnModel(*stub, keys->analyst, 12);
  auto points = PainPoints(*stub, keys->analyst, std::max(top, 10));
  if (!points.ok()) {
    std::cerr << "omnicx-journeysim: ListPainPoints: " << points.status()
              << "\n";
    return 1;
  }
  std::printf("\ntop pain points (ListPainPoints):\n");
  PrintPainPoints(*points);
  bool all_found = true;
  for (const auto& plant : truth->planted) {
    int rank = 0;
    for (int i = 0; i < static_cast<int>(points->size()); ++i) {
      if ((*points)[i].touchpoint() == plant.touchpoint) {
        rank = i + 1;
        break;
      }
    }
    const bool found = rank > 0 && rank <= top;
    all_found &= found;
    std::printf("planted pain point %-16s (failure rate %.0f%%): %s\n",
                plant.touchpoint.c_str(), 100 * plant.failure_rate,
                found ? absl::StrCat("FOUND at rank ", rank).c_str()
                      : absl::StrCat("MISSED (rank ",
                                     rank ? absl::StrCat(rank) : ">10", ")")
                            .c_str());
  }
  const bool auc_ok = *auc >= min_auc;
  const double gap = GapClosed(*auc, baseline, truth_auc);
  const double ece = CalibrationError(risk, label);
  const bool gap_ok = gap >= min_gap_closed;
  const bool ece_ok = ece <= max_ece;
  std::printf(
      "quality_auc=%.4f\nquality_oracle_auc=%.4f\nquality_hazard_auc=%.4f\n"
      "quality_naive_auc=%.4f\nquality_gap_closed=%.4f\nquality_ece=%.4f\n"
      "quality_planted_found=%d\n",
      *auc, oracle.ok() ? *oracle : 0.0, truth_auc.ok() ? *truth_auc : 0.0,
      baseline.ok() ? *baseline : 0.0, gap, ece, all_found ? 1 : 0);
  if (!auc_ok) {
    std::fprintf(stderr, "FAIL: churn-risk AUC %.3f < %.3f\n", *auc, min_auc);
  }
  if (!gap_ok) {
    std::fprintf(stderr, "FAIL: churn risk closes %.0f%% of the gap < %.0f%%\n",
                 100 * gap, 100 * min_gap_closed);
  }
  if (!ece_ok) {
    std::fprintf(stderr, "FAIL: calibration error %.3f > %.3f\n", ece, max_ece);
  }
  if (!all_found) {
    std::fprintf(stderr, "FAIL: a planted pain point is not in the top %d\n",
                 top);
  }
  return auc_ok && gap_ok && ece_ok && all_found ? 0 : 1;
}

int Report(const Flags& f) {
  int top = 10;
  if (!Number(f, "top", &top)) return 2;
  absl::StatusOr<Keys> keys = LoadKeys(f);
  if (!keys.ok()) return KeyError(keys.status());
  auto stub = omnicx::v1::JourneyService::NewStub(Channel(f, "journey"));
  auto points = PainPoints(*stub, keys->analyst, top);
  if (!points.ok()) {
    std::cerr << "omnicx-journeysim: ListPainPoints: " << points.status()
              << "\n";
    return 1;
  }
  std::printf("\nTop pain points (impact = customers affected x severity):\n");
  PrintPainPoints(*points);

  omnicx::v1::GetFunnelRequest request;
  omnicx::v1::GetFunnelResponse response;
  grpc::ClientContext context;
  Prepare(&context, keys->analyst);
  grpc::Status s = stub->GetFunnel(&context, request, &response);
  if (!s.ok()) {
    std::cerr << "omnicx-journeysim: GetFunnel: " << s.error_message() << "\n";
    return 1;
  }
  int64_t total = 0, widest = 1;
  for (const auto& st : response.stages()) {
    total += st.customers();
    widest = std::max<int64_t>(widest, st.customers());
  }
  std::printf("\nStage funnel (customers now, %lld in all):\n",
              static_cast<long long>(total));
  for (int v = omnicx::v1::STAGE_AWARENESS; v <= omnicx::v1::STAGE_CHURNED;
       ++v) {
    int64_t n = 0;
    for (const auto& st : response.stages()) {
      if (st.stage() == v) n = st.customers();
    }
    const int bar = static_cast<int>(40.0 * n / widest);
    std::printf("  %-14s %7lld %5.1f%%  %s\n",
                StageName(static_cast<omnicx::v1::Stage>(v)).c_str(),
                static_cast<long long>(n), total ? 100.0 * n / total : 0.0,
                std::string(bar, '#').c_str());
  }
  std::vector<omnicx::v1::StageTransition> moves(response.transitions().begin(),
                                                 response.transitions().end());
  std::sort(moves.begin(), moves.end(), [](const auto& a, const auto& b) {
    return a.customers() > b.customers();
  });
  std::printf("\nMost common stage transitions (last 30 days):\n");
  for (size_t i = 0; i < moves.size() && i < 8; ++i) {
    std::printf("  %-14s -> %-14s %7lld\n",
                StageName(moves[i].from_stage()).c_str(),
                StageName(moves[i].to_stage()).c_str(),
                static_cast<long long>(moves[i].customers()));
  }
  return 0;
}

int Pick(const Flags& f) {
  auto truth = LoadTruth(f);
  if (!truth.ok()) {
    std::cerr << "omnicx-journeysim: " << truth.status() << "\n";
    return 2;
  }
  std::vector<const omnicx::journeysim::CustomerTruth*> candidates;
  for (const auto& c : truth->customers) {
    if (c.ChurnedBy(truth->now)) continue;
    if (c.planted_hits.empty() && c.severe_experiences == 0) continue;
    candidates.push_back(&c);
  }
  absl::StatusOr<Keys> keys = LoadKeys(f);
  if (!keys.ok()) return KeyError(keys.status());
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const auto* a, const auto* b) {
                     return a->damage_at_now > b->damage_at_now;
                   });
  auto stub = omnicx::v1::JourneyService::NewStub(Channel(f, "journey"));
  std::string fallback;
  absl::Status first_error;
  for (size_t i = 0; i < candidates.size() && i < 200; ++i) {
    auto j = Journey(*stub, keys->caller, candidates[i]->phone);
    if (!j.ok() && first_error.ok()) first_error = j.status();
    if (!j.ok() || j->stage() != omnicx::v1::STAGE_AT_RISK) continue;
    if (!j->open_cases().empty()) {
      std::printf("%s\n", candidates[i]->phone.c_str());
      return 0;
    }
    if (fallback.empty()) fallback = candidates[i]->phone;
  }
  if (fallback.empty()) {
    std::cerr << "omnicx-journeysim: no AT_RISK customer among the first "
              << std::min<size_t>(candidates.size(), 200) << " of "
              << candidates.size() << " with a bad experience"
              << (first_error.ok()
                      ? ""
                      : absl::StrCat(" (GetJourney: ", first_error.ToString(),
                                     ")"))
              << "\n";
    return 1;
  }
  std::printf("%s\n", fallback.c_str());
  return 0;
}

void PrintStats(omnicx::v1::RecommendationService::Stub& stub,
                const ServiceCredential& key, const std::string& action,
                const char* when) {
  omnicx::v1::GetActionStatsRequest request;
  request.set_action_id(action);
  omnicx::v1::GetActionStatsResponse response;
  grpc::ClientContext context;
  Prepare(&context, key);
  grpc::Status s = stub.GetActionStats(&context, request, &response);
  std::printf("  %s:\n", when);
  if (!s.ok()) {
    std::printf("    GetActionStats failed: %s\n", s.error_message().c_str());
    return;
  }
  if (response.stats().empty()) std::printf("    no statistics yet\n");
  for (const auto& st : response.stats()) {
    std::printf(
        "    %-28s segment %-14s impressions %4lld accepts %4lld rejects "
        "%4lld  posterior mean %.3f\n",
        st.action_id().c_str(), st.segment().c_str(),
        static_cast<long long>(st.impressions()),
        static_cast<long long>(st.accepts()),
        static_cast<long long>(st.rejects()), st.posterior_mean());
  }
}

int Outcome(const Flags& f) {
  const std::string phone = f.Get("phone");
  absl::StatusOr<Keys> keys = LoadKeys(f);
  if (!keys.ok()) return KeyError(keys.status());
  auto profile = omnicx::v1::ProfileService::NewStub(Channel(f, "profile"));
  auto reco =
      omnicx::v1::RecommendationService::NewStub(Channel(f, "recommendation"));
  omnicx::v1::GetCustomerContextRequest request;
  request.mutable_customer()->mutable_identity()->set_type("phone");
  request.mutable_customer()->mutable_identity()->set_value(phone);
  request.set_include_recommendations(true);
  request.set_timeline_limit(1);
  omnicx::v1::CustomerContext context;
  grpc::ClientContext cc;
  Prepare(&cc, keys->caller);
  grpc::Status s = profile->GetCustomerContext(&cc, request, &context);
  if (!s.ok() || context.next_best_actions().empty() ||
      context.decision_id().empty()) {
    std::cerr << "omnicx-journeysim: no decision to record an outcome for ("
              << (s.ok() ? "no actions" : s.error_message()) << ")\n";
    return 1;
  }
  const std::string action = context.next_best_actions(0).action_id();
  std::printf(
      "\nThe agent offers %s; the customer accepts (RecordOutcome "
      "ACCEPTED, decision %s).\n",
      action.c_str(), context.decision_id().c_str());
  PrintStats(*reco, keys->analyst, action, "before");
  omnicx::v1::RecordOutcomeRequest outcome;
  outcome.set_decision_id(context.decision_id());
  outcome.set_action_id(action);
  *outcome.mutable_customer() = request.customer();
  outcome.set_response(omnicx::v1::ACTION_RESPONSE_ACCEPTED);
  omnicx::v1::RecordOutcomeResponse recorded;
  grpc::ClientContext oc;
  Prepare(&oc, keys->caller);
  s = reco->RecordOutcome(&oc, outcome, &recorded);
  if (!s.ok()) {
    std::cerr << "omnicx-journeysim: RecordOutcome: " << s.error_message()
              << "\n";
    return 1;
  }
  PrintStats(*reco, keys->analyst, action, "after");
  return 0;
}

}  // namespace

// The held-out protocol in process (offline_quality.h): seeds from --seed
// to --seeds-to, one line each, then the mean share of the gap closed.
int Offline(const Flags& f) {
  SimulationConfig config;
  uint64_t seed = 1, seeds_to = 0;
  int64_t now_s = 1790000000;
  int horizon_days = 30;
  config.label_share = 0.5;
  if (!Number(f, "customers", &config.customers) ||
      !Number(f, "events", &config.events) || !Number(f, "seed", &seed) ||
      !Number(f, "seeds-to", &seeds_to) || !Number(f, "now", &now_s) ||
      !Number(f, "horizon-days", &horizon_days) ||
      !Number(f, "label-share", &config.label_share)) {
    return 2;
  }
  if (config.customers < 1 || config.customers > 1'000'000 ||
      config.events < 0 || config.events > 50'000'000 || horizon_days < 1 ||
      !(config.label_share > 0 && config.label_share < 1)) {
    std::cerr << "omnicx-journeysim: --customers in [1, 1e6], --events in [0, "
                 "5e7], --horizon-days >= 1, --label-share in (0, 1)\n";
    return 2;
  }
  std::vector<std::string> plants = f.plants;
  if (plants.empty()) plants.push_back("touchpoint=delivery");
  for (const std::string& spec : plants) {
    auto plant = omnicx::journeysim::ParsePlant(spec);
    if (!plant.ok()) {
      std::cerr << "omnicx-journeysim: " << plant.status().message() << "\n";
      return 2;
    }
    config.planted.push_back(*plant);
  }
  config.now = absl::FromUnixSeconds(now_s);
  config.horizon = absl::Hours(24 * horizon_days);
  auto model =
      omnicx::journey::CompileModel(omnicx::journey::DefaultJourneyModel());
  if (!model.ok()) {
    std::cerr << "omnicx-journeysim: " << model.status().message() << "\n";
    return 1;
  }
  double sum = 0;
  int runs = 0;
  for (uint64_t s = seed; s <= std::max(seed, seeds_to); ++s, ++runs) {
    config.run_id = absl::StrCat("sim", s, "-", now_s);
    omnicx::journeysim::RedrawTouchpoints(s, &config);
    auto q = omnicx::journeysim::RunOfflineQuality(config, s, *model);
    if (!q.ok()) {
      std::cerr << "omnicx-journeysim: seed " << s << ": "
                << q.status().message() << "\n";
      return 1;
    }
    std::printf(
        "seed %llu: held-out %lld scored / %lld churned; churn-risk AUC %.3f "
        "(configured %.3f), naive %.3f, true hazard %.3f; gap closed %.0f%%; "
        "calibration error %.4f; learned %lld examples (%lld churned)\n",
        static_cast<unsigned long long>(s), static_cast<long long>(q->scored),
        static_cast<long long>(q->churned), q->auc, q->prior_auc, q->naive_auc,
        q->hazard_auc, 100 * q->gap_closed, q->calibration_error,
        static_cast<long long>(q->examples),
        static_cast<long long>(q->positives));
    sum += q->gap_closed;
  }
  if (runs > 1) std::printf("mean gap closed %.0f%%\n", 100 * sum / runs);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string mode = argv[1];
  if (mode == "--help" || mode == "-h" || mode == "help") {
    std::cout
        << "omnicx-journeysim send|quality|report|pick|outcome; flags:\n"
           "  send    --ingestion=ADDR --truth=FILE [--customers=5000] "
           "[--events=200000] [--seed=1]\n"
           "          [--now=UNIX_S] [--horizon-days=30] [--history-days=300] "
           "[--phone-base=2000000]\n"
           "          [--plant=touchpoint=NAME[,rate=0.25]]... [--rate=EV/S] "
           "[--concurrency=2] [--progress] [--dry-run]\n"
           "          [--label-share=0.5] [--redraw-touchpoints]\n"
           "  quality --truth=FILE --journey=ADDR [--min-auc=0.75] [--top=3] "
           "[--min-gap-closed=0.6] [--max-ece=0.05]\n"
           "  offline [--seed=1] [--seeds-to=N] [--customers=5000] "
           "[--events=200000] [--now=UNIX_S] [--plant=...]\n"
           "  report  --journey=ADDR [--top=10]\n"
           "  pick    --truth=FILE --journey=ADDR\n"
           "  outcome --phone=P --profile=ADDR --recommendation=ADDR\n"
           "  every mode: --key_file=F (a plaintext API key: send app, pick "
           "agent, report analyst,\n"
           "          quality and outcome agent plus --analyst_key_file=F) "
           "[--tls_ca_file=F [--tls_cert_file=F --tls_key_file=F]]\n"
           "Plantable touchpoints: "
        << absl::StrJoin(omnicx::journeysim::SimulatedTouchpoints(), ", ")
        << "\nGround truth file (tab-separated):\n"
           "  # omnicx-journeysim ground truth v1\n"
           "  # now=<RFC3339> horizon_days=<d> customers=<n> events=<n>\n"
           "  # planted<TAB><touchpoint><TAB><failure rate>\n"
           "  phone email persona first_seen churned churned_at events "
           "damage severe planted_hits\n"
           "  churned/churned_at cover the history and the held-out horizon "
           "after now (never sent).\n";
    return 0;
  }
  Flags flags;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (!absl::StartsWith(a, "--")) return Usage();
    a = a.substr(2);
    const size_t eq = a.find('=');
    const std::string key = a.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : a.substr(eq + 1);
    if (key == "plant") {
      flags.plants.push_back(value);
    } else {
      flags.values[key] = value;
    }
  }
  if (mode == "send") return Send(flags);
  if (mode == "quality") return Quality(flags);
  if (mode == "offline") return Offline(flags);
  if (mode == "report") return Report(flags);
  if (mode == "pick") return Pick(flags);
  if (mode == "outcome") return Outcome(flags);
  return Usage();
}
