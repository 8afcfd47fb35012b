#include "core/metrics_registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <shared_mutex>
#include <utility>
#include <vector>

#include "core/api/result.h"

namespace sg::core {
namespace {

enum class MetricType { kCounter, kGauge, kHistogram };

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

/// [a-zA-Z_:][a-zA-Z0-9_:]*
bool IsValidMetricName(std::string_view name) {
  if (name.empty() || !(IsNameStart(name[0]) || name[0] == ':')) {
    return false;
  }
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsNameStart(c) || IsDigit(c) || c == ':'; });
}

/// [a-zA-Z_][a-zA-Z0-9_]*, and not `__*` (reserved for Prometheus itself).
bool IsValidLabelName(std::string_view name) {
  if (name.empty() || !IsNameStart(name[0]) || name.substr(0, 2) == "__") {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) { return IsNameStart(c) || IsDigit(c); });
}

/// Appends `text`, replacing invalid UTF-8 with U+FFFD: Prometheus rejects the whole scrape
/// when one label value is not valid UTF-8, and label values may come from untrusted input.
template <class EscapeByte>
void AppendUtf8Escaped(std::string& out, std::string_view text, EscapeByte escape_byte) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      escape_byte(out, text[i]);
      ++i;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t min_code_point = 0;
    if ((byte & 0xE0) == 0xC0) {
      length = 2;
      min_code_point = 0x80;
    } else if ((byte & 0xF0) == 0xE0) {
      length = 3;
      min_code_point = 0x800;
    } else if ((byte & 0xF8) == 0xF0) {
      length = 4;
      min_code_point = 0x10000;
    }
    bool valid = length != 0 && i + length <= text.size();
    std::uint32_t code_point = length == 0 ? 0 : (byte & (0x7F >> length));
    for (std::size_t k = 1; valid && k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xC0) == 0x80;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid too.
    valid = valid && code_point >= min_code_point && code_point <= 0x10FFFF &&
            !(code_point >= 0xD800 && code_point <= 0xDFFF);
    if (valid) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
}

void AppendHelp(std::string& out, std::string_view help) {
  AppendUtf8Escaped(out, help, [](std::string& o, char c) {
    if (c == '\\') {
      o.append("\\\\");
    } else if (c == '\n') {
      o.append("\\n");
    } else {
      o.push_back(c);
    }
  });
}

void AppendLabelValue(std::string& out, std::string_view value) {
  AppendUtf8Escaped(out, value, [](std::string& o, char c) {
    if (c == '\\') {
      o.append("\\\\");
    } else if (c == '"') {
      o.append("\\\"");
    } else if (c == '\n') {
      o.append("\\n");
    } else {
      o.push_back(c);
    }
  });
}

/// `{a="1",b="2"}` (with an optional trailing `le`), or nothing when there are no labels.
void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view le = {}) {
  if (names.empty() && le.empty()) {
    return;
  }
  out.push_back('{');
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i != 0) {
      out.push_back(',');
    }
    out.append(names[i]);
    out.append("=\"");
    AppendLabelValue(out, values[i]);
    out.push_back('"');
  }
  if (!le.empty()) {
    if (!names.empty()) {
      out.push_back(',');
    }
    out.append("le=\"");
    out.append(le);
    out.push_back('"');
  }
  out.push_back('}');
}

void AppendSample(std::string& out, std::string_view name, std::string_view suffix,
                  const std::vector<std::string>& label_names,
                  const std::vector<std::string>& label_values, double value,
                  std::string_view le = {}) {
  out.append(name);
  out.append(suffix);
  AppendLabels(out, label_names, label_values, le);
  out.push_back(' ');
  out.append(PrometheusMetricsRegistry::FormatValue(value));
  out.push_back('\n');
}

void AppendHeader(std::string& out, std::string_view name, std::string_view help, MetricType type) {
  out.append("# HELP ");
  out.append(name);
  out.push_back(' ');
  AppendHelp(out, help);
  out.append("\n# TYPE ");
  out.append(name);
  out.push_back(' ');
  out.append(TypeName(type));
  out.push_back('\n');
}

/// Orders label-value tuples; transparent so that `WithLabels({"a", "b"})` finds an
/// existing series without allocating.
struct LabelValuesLess {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(
        a.begin(), a.end(), b.begin(), b.end(),
        [](std::string_view x, std::string_view y) { return x < y; });
  }
};

}  // namespace

/// What every family has in common: identity (for conflict checks) and rendering.
class PrometheusMetricsRegistry::FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type,
             std::vector<std::string> label_names, std::vector<double> upper_bounds,
             bool is_callback)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)),
        upper_bounds_(std::move(upper_bounds)),
        is_callback_(is_callback) {}
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  /// Appends the family (HELP, TYPE, samples), or nothing when it has no series.
  virtual void Render(std::string& out) const = 0;
  /// Only callback families: takes over `fresh`'s callback.
  virtual void ReplaceCallback(FamilyBase& fresh) {}

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  bool is_callback() const { return is_callback_; }

 private:
  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> label_names_;
  std::vector<double> upper_bounds_;
  bool is_callback_;
};

namespace {

template <class Metric>
constexpr MetricType kTypeOf = MetricType::kCounter;
template <>
constexpr MetricType kTypeOf<Gauge> = MetricType::kGauge;
template <>
constexpr MetricType kTypeOf<Histogram> = MetricType::kHistogram;

template <class Metric>
class SeriesFamily final : public PrometheusMetricsRegistry::FamilyBase,
                           public MetricFamily<Metric> {
 public:
  SeriesFamily(std::string family_name, std::string family_help,
               std::vector<std::string> family_label_names, std::vector<double> bounds = {})
      : FamilyBase(std::move(family_name), std::move(family_help), kTypeOf<Metric>,
                   std::move(family_label_names), std::move(bounds), false) {
    // A family without labels has exactly one series; exporting it from the start (as 0)
    // lets rate() and alerts see the first increment.
    if (label_names().empty()) {
      series_.emplace(std::vector<std::string>{}, MakeMetric());
    }
  }

  Metric& WithLabels(std::initializer_list<std::string_view> values) override {
    return Find(values);
  }
  Metric& WithLabels(const std::vector<std::string>& values) override { return Find(values); }

  void Render(std::string& out) const override {
    std::vector<std::pair<const std::vector<std::string>*, const Metric*>> snapshot;
    {
      // Keys and metrics are node-stable and never erased: pointers outlive the lock.
      std::shared_lock lock(mutex_);
      snapshot.reserve(series_.size());
      for (const auto& [labels, metric] : series_) {
        snapshot.emplace_back(&labels, metric.get());
      }
    }
    if (snapshot.empty()) {
      return;
    }
    AppendHeader(out, name(), help(), type());
    for (const auto& [labels, metric] : snapshot) {
      RenderSeries(out, *labels, *metric);
    }
  }

 private:
  template <class Values>
  Metric& Find(const Values& values) {
    SG_CHECK(values.size() == label_names().size(),
             fmt::format("metric {} takes {} label values, got {}", name(), label_names().size(),
                         values.size()));
    {
      std::shared_lock lock(mutex_);
      auto it = series_.find(values);
      if (it != series_.end()) {
        return *it->second;
      }
    }
    std::unique_lock lock(mutex_);
    auto it = series_.find(values);
    if (it == series_.end()) {
      it = series_.emplace(std::vector<std::string>(values.begin(), values.end()), MakeMetric())
               .first;
    }
    return *it->second;
  }

  std::unique_ptr<Metric> MakeMetric() const {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      return std::make_unique<Histogram>(upper_bounds());
    } else {
      return std::make_unique<Metric>();
    }
  }

  void RenderSeries(std::string& out, const std::vector<std::string>& labels,
                    const Metric& metric) const {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      Histogram::Snapshot snapshot = metric.Take();
      for (std::size_t i = 0; i < snapshot.cumulative_counts.size(); ++i) {
        std::string le = i < snapshot.upper_bounds.size()
                             ? PrometheusMetricsRegistry::FormatValue(snapshot.upper_bounds[i])
                             : std::string("+Inf");
        AppendSample(out, name(), "_bucket", label_names(), labels,
                     static_cast<double>(snapshot.cumulative_counts[i]), le);
      }
      AppendSample(out, name(), "_sum", label_names(), labels, snapshot.sum);
      AppendSample(out, name(), "_count", label_names(), labels,
                   static_cast<double>(snapshot.count));
    } else {
      AppendSample(out, name(), "", label_names(), labels, metric.Value());
    }
  }

  mutable std::shared_mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>, LabelValuesLess> series_;
};

class CallbackFamily final : public PrometheusMetricsRegistry::FamilyBase {
 public:
  CallbackFamily(std::string family_name, std::string family_help, MetricType family_type,
                 std::function<double()> read)
      : FamilyBase(std::move(family_name), std::move(family_help), family_type, {}, {}, true),
        read_(std::move(read)) {}

  void Render(std::string& out) const override {
    std::function<double()> read;
    {
      std::lock_guard lock(mutex_);
      read = read_;
    }
    double value = 0;
    try {
      value = read();
    } catch (...) {
      // A failing probe must not break the whole scrape; the family is simply absent.
      return;
    }
    AppendHeader(out, name(), help(), type());
    AppendSample(out, name(), "", {}, {}, value);
  }

  void ReplaceCallback(FamilyBase& fresh) override {
    auto& other = static_cast<CallbackFamily&>(fresh);
    std::lock_guard lock(mutex_);
    read_ = std::move(other.read_);
  }

 private:
  mutable std::mutex mutex_;
  std::function<double()> read_;
};

void CheckNames(const std::string& name, MetricType type,
                const std::vector<std::string>& label_names) {
  SG_CHECK(IsValidMetricName(name), fmt::format("invalid metric name \"{}\"", name));
  if (type == MetricType::kCounter) {
    SG_CHECK(name.size() > 6 && name.ends_with("_total"),
             fmt::format("counter {} must end in _total", name));
  }
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    SG_CHECK(IsValidLabelName(label_names[i]),
             fmt::format("metric {}: invalid label name \"{}\"", name, label_names[i]));
    SG_CHECK(type != MetricType::kHistogram || label_names[i] != "le",
             fmt::format("histogram {}: label \"le\" is reserved", name));
    for (std::size_t j = 0; j < i; ++j) {
      SG_CHECK(label_names[i] != label_names[j],
               fmt::format("metric {}: duplicate label \"{}\"", name, label_names[i]));
    }
  }
}

}  // namespace

PrometheusMetricsRegistry::PrometheusMetricsRegistry() = default;
PrometheusMetricsRegistry::~PrometheusMetricsRegistry() = default;

PrometheusMetricsRegistry::FamilyBase& PrometheusMetricsRegistry::Register(
    std::unique_ptr<FamilyBase> family) {
  CheckNames(family->name(), family->type(), family->label_names());
  std::lock_guard lock(mutex_);
  auto it = families_.find(family->name());
  if (it == families_.end()) {
    std::string name = family->name();
    return *families_.emplace(std::move(name), std::move(family)).first->second;
  }
  FamilyBase& existing = *it->second;
  SG_CHECK(existing.type() == family->type() && existing.is_callback() == family->is_callback(),
           fmt::format("metric {} registered again as another type", family->name()));
  SG_CHECK(existing.label_names() == family->label_names(),
           fmt::format("metric {} registered again with other labels", family->name()));
  SG_CHECK(existing.upper_bounds() == family->upper_bounds(),
           fmt::format("histogram {} registered again with other buckets", family->name()));
  if (existing.is_callback()) {
    existing.ReplaceCallback(*family);
  }
  return existing;
}

MetricFamily<Counter>& PrometheusMetricsRegistry::CounterFamily(
    std::string name, std::string help, std::vector<std::string> label_names) {
  auto& family = Register(std::make_unique<SeriesFamily<Counter>>(std::move(name), std::move(help),
                                                                  std::move(label_names)));
  return static_cast<SeriesFamily<Counter>&>(family);
}

MetricFamily<Gauge>& PrometheusMetricsRegistry::GaugeFamily(std::string name, std::string help,
                                                            std::vector<std::string> label_names) {
  auto& family = Register(std::make_unique<SeriesFamily<Gauge>>(std::move(name), std::move(help),
                                                                std::move(label_names)));
  return static_cast<SeriesFamily<Gauge>&>(family);
}

MetricFamily<Histogram>& PrometheusMetricsRegistry::HistogramFamily(
    std::string name, std::string help, std::vector<std::string> label_names,
    std::vector<double> upper_bounds) {
  // Normalise through Histogram's own checks (ascending, finite, optional trailing +Inf)
  // so that conflict detection compares like with like.
  std::vector<double> bounds = Histogram(std::move(upper_bounds)).Take().upper_bounds;
  auto& family = Register(std::make_unique<SeriesFamily<Histogram>>(
      std::move(name), std::move(help), std::move(label_names), std::move(bounds)));
  return static_cast<SeriesFamily<Histogram>&>(family);
}

void PrometheusMetricsRegistry::CallbackGauge(std::string name, std::string help,
                                              std::function<double()> read) {
  SG_CHECK(read != nullptr, "CallbackGauge needs a callback");
  Register(std::make_unique<CallbackFamily>(std::move(name), std::move(help), MetricType::kGauge,
                                            std::move(read)));
}

void PrometheusMetricsRegistry::CallbackCounter(std::string name, std::string help,
                                                std::function<double()> read) {
  SG_CHECK(read != nullptr, "CallbackCounter needs a callback");
  Register(std::make_unique<CallbackFamily>(std::move(name), std::move(help), MetricType::kCounter,
                                            std::move(read)));
}

std::string PrometheusMetricsRegistry::RenderPrometheus() const {
  std::vector<const FamilyBase*> families;
  {
    // Families are never erased; render without the lock so that callbacks may touch the
    // registry and slow callbacks do not block registration.
    std::lock_guard lock(mutex_);
    families.reserve(families_.size());
    for (const auto& [name, family] : families_) {
      families.push_back(family.get());
    }
  }
  std::string out;
  for (const FamilyBase* family : families) {
    family->Render(out);
  }
  return out;
}

std::string PrometheusMetricsRegistry::FormatValue(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  // Below 2^53 every integer is exact; print it plainly (also turns -0 into 0).
  if (value == std::trunc(value) && std::fabs(value) < 9007199254740992.0) {
    return fmt::format("{}", static_cast<std::int64_t>(value));
  }
  return fmt::format("{}", value);  // shortest representation that round-trips
}

}  // namespace sg::core
