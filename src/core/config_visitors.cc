#include "core/config_visitors.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <variant>

namespace sg::core {
namespace {

constexpr std::string_view kRedacted = "<redacted>";
// Long values are cut in messages: the point is to recognise the value, not to echo a file.
constexpr std::size_t kMaxQuotedLength = 60;

std::string JoinPath(std::string_view prefix, std::string_view key) {
  if (prefix.empty()) {
    return std::string(key);
  }
  return fmt::format("{}.{}", prefix, key);
}

std::string ToLower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return lower;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

std::string Quote(std::string_view text, bool secret = false) {
  if (secret) {
    return std::string(kRedacted);
  }
  if (text.size() > kMaxQuotedLength) {
    return fmt::format("\"{}...\"", text.substr(0, kMaxQuotedLength));
  }
  return fmt::format("\"{}\"", text);
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return Quote(node.Scalar());
  }
}

// "[-+]digits[.digits][ ]unit" split into its parts; nullopt when the shape is wrong.
struct Quantity {
  bool negative = false;
  std::string_view whole;
  std::string_view fraction;
  std::string unit;  // lower-case, may be empty
};

std::optional<Quantity> SplitQuantity(std::string_view text) {
  text = Trim(text);
  Quantity quantity;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    quantity.negative = text.front() == '-';
    text.remove_prefix(1);
  }
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0) {
    return std::nullopt;
  }
  quantity.whole = text.substr(0, digits);
  text.remove_prefix(digits);
  if (!text.empty() && text.front() == '.') {
    text.remove_prefix(1);
    std::size_t fraction = 0;
    while (fraction < text.size() && text[fraction] >= '0' && text[fraction] <= '9') {
      ++fraction;
    }
    if (fraction == 0) {
      return std::nullopt;
    }
    quantity.fraction = text.substr(0, fraction);
    text.remove_prefix(fraction);
  }
  text = Trim(text);
  for (char c : text) {
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!letter) {
      return std::nullopt;
    }
  }
  quantity.unit = ToLower(text);
  return quantity;
}

// Whole part times `factor`, exactly when there is no fraction; nullopt on overflow.
std::optional<std::uint64_t> Scale(const Quantity& quantity, std::uint64_t factor) {
  if (quantity.fraction.empty()) {
    std::uint64_t whole = 0;
    auto [ptr, ec] = std::from_chars(quantity.whole.data(),
                                     quantity.whole.data() + quantity.whole.size(), whole);
    if (ec != std::errc()) {
      return std::nullopt;
    }
    std::uint64_t scaled = 0;
    if (__builtin_mul_overflow(whole, factor, &scaled)) {
      return std::nullopt;
    }
    return scaled;
  }
  // With a fraction, long double (64-bit mantissa) is exact enough for config values.
  std::string number = fmt::format("{}.{}", quantity.whole, quantity.fraction);
  long double value = std::strtold(number.c_str(), nullptr) * static_cast<long double>(factor);
  value = std::round(value);
  if (!(value < 18446744073709551616.0L)) {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(value);
}

struct Unit {
  std::string_view name;
  std::uint64_t factor;
};

constexpr std::array<Unit, 10> kSizeUnits = {{
    {"b", 1},
    {"kb", 1000ULL},
    {"mb", 1000ULL * 1000},
    {"gb", 1000ULL * 1000 * 1000},
    {"tb", 1000ULL * 1000 * 1000 * 1000},
    {"kib", 1ULL << 10},
    {"mib", 1ULL << 20},
    {"gib", 1ULL << 30},
    {"tib", 1ULL << 40},
    {"", 1},
}};

constexpr std::array<Unit, 6> kDurationUnits = {{
    {"ms", 1},
    {"s", 1000},
    {"m", 60 * 1000},
    {"h", 60 * 60 * 1000},
    {"d", 24 * 60 * 60 * 1000},
    {"", 1000},
}};

// Display names, largest first, for formatting.
constexpr std::array<Unit, 4> kBinaryUnits = {
    {{"TiB", 1ULL << 40}, {"GiB", 1ULL << 30}, {"MiB", 1ULL << 20}, {"KiB", 1ULL << 10}}};
constexpr std::array<Unit, 4> kDecimalUnits = {{{"TB", 1000ULL * 1000 * 1000 * 1000},
                                                {"GB", 1000ULL * 1000 * 1000},
                                                {"MB", 1000ULL * 1000},
                                                {"KB", 1000ULL}}};
constexpr std::array<Unit, 4> kDisplayDurationUnits = {
    {{"d", 24 * 60 * 60 * 1000}, {"h", 60 * 60 * 1000}, {"m", 60 * 1000}, {"s", 1000}}};

std::optional<Unit> BestUnit(std::uint64_t value, const std::array<Unit, 4>& units) {
  for (const Unit& unit : units) {
    if (value % unit.factor == 0) {
      return unit;
    }
  }
  return std::nullopt;
}

bool HasMin(const FieldOptions& options) { return std::isfinite(options.min); }
bool HasMax(const FieldOptions& options) { return std::isfinite(options.max); }

std::string FormatNumber(double value) {
  if (std::isfinite(value) && std::trunc(value) == value && std::fabs(value) < 9.0e15) {
    return fmt::format("{}", static_cast<std::int64_t>(value));
  }
  return fmt::format("{}", value);
}

// "must be between A and B, got C" (or only one side when the other is unbounded).
std::optional<std::string> BoundsProblem(double value, const FieldOptions& options,
                                         const std::function<std::string(double)>& format,
                                         const std::string& got) {
  bool too_small = HasMin(options) && value < options.min;
  bool too_large = HasMax(options) && value > options.max;
  if (!too_small && !too_large) {
    return std::nullopt;
  }
  if (HasMin(options) && HasMax(options)) {
    return fmt::format("must be between {} and {}, got {}", format(options.min),
                       format(options.max), got);
  }
  if (HasMin(options)) {
    return fmt::format("must be at least {}, got {}", format(options.min), got);
  }
  return fmt::format("must be at most {}, got {}", format(options.max), got);
}

std::string FormatSizeBound(double bytes) {
  if (bytes <= 0) {
    return "0 B";
  }
  if (bytes >= 18446744073709551615.0) {
    return FormatNumber(bytes) + " B";
  }
  return FormatByteSize(ByteSize{static_cast<std::uint64_t>(bytes)}, true);
}

std::string FormatDurationBound(double ms) {
  if (std::fabs(ms) >= 9.0e15) {
    return FormatNumber(ms) + "ms";
  }
  return FormatConfigDuration(ConfigDuration(static_cast<std::int64_t>(ms)));
}

std::optional<std::string> ChoicesProblem(std::string_view value, const FieldOptions& options,
                                          bool secret) {
  if (options.choices.empty()) {
    return std::nullopt;
  }
  if (std::find(options.choices.begin(), options.choices.end(), value) != options.choices.end()) {
    return std::nullopt;
  }
  return fmt::format("must be one of {}, got {}", fmt::join(options.choices, ", "),
                     Quote(value, secret));
}

std::string FormatList(const std::vector<std::string>& values) {
  std::vector<std::string> quoted;
  quoted.reserve(values.size());
  for (const std::string& value : values) {
    quoted.push_back(Quote(value));
  }
  return fmt::format("[{}]", fmt::join(quoted, ", "));
}

}  // namespace

namespace {

// Shared by sizes and durations: a non-negative decimal with a unit from `units`, scaled to
// the unit's base (bytes, milliseconds). `what` and `examples` word the error messages.
template <std::size_t N>
Result<std::uint64_t> ParseScaled(std::string_view text, const std::array<Unit, N>& units,
                                  std::string_view what, std::string_view examples) {
  std::optional<Quantity> quantity = SplitQuantity(text);
  const Unit* unit = nullptr;
  if (quantity) {
    for (const Unit& candidate : units) {
      if (candidate.name == quantity->unit) {
        unit = &candidate;
        break;
      }
    }
  }
  if (!quantity || unit == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, "expected a {} such as {}, got {}", what,
                     examples, Quote(text));
  }
  bool zero = quantity->whole.find_first_not_of('0') == std::string_view::npos &&
              quantity->fraction.find_first_not_of('0') == std::string_view::npos;
  if (quantity->negative && !zero) {
    return MakeError(ErrorCode::kInvalidArgument, "a {} must not be negative, got {}", what,
                     Quote(text));
  }
  std::optional<std::uint64_t> scaled = Scale(*quantity, unit->factor);
  if (!scaled) {
    return MakeError(ErrorCode::kInvalidArgument, "{} out of range, got {}", what, Quote(text));
  }
  return *scaled;
}

}  // namespace

Result<ByteSize> ParseByteSize(std::string_view text) {
  SG_ASSIGN_OR_RETURN(std::uint64_t bytes,
                      ParseScaled(text, kSizeUnits, "size", "16KiB, 8MiB or 1GB"));
  return ByteSize{bytes};
}

Result<ConfigDuration> ParseConfigDuration(std::string_view text) {
  SG_ASSIGN_OR_RETURN(std::uint64_t ms,
                      ParseScaled(text, kDurationUnits, "duration", "30s, 500ms, 5m or 2h"));
  if (ms > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return MakeError(ErrorCode::kInvalidArgument, "duration out of range, got {}", Quote(text));
  }
  return ConfigDuration(static_cast<std::int64_t>(ms));
}

std::string FormatByteSize(ByteSize size, bool spaced) {
  std::string_view space = spaced ? " " : "";
  if (size.bytes == 0) {
    return fmt::format("0{}B", space);
  }
  // The exact representation with the smallest number reads best ("1GB", not "1000MB").
  std::optional<Unit> binary = BestUnit(size.bytes, kBinaryUnits);
  std::optional<Unit> decimal = BestUnit(size.bytes, kDecimalUnits);
  std::optional<Unit> best = binary;
  if (decimal && (!best || size.bytes / decimal->factor < size.bytes / best->factor)) {
    best = decimal;
  }
  if (!best) {
    return fmt::format("{}{}B", size.bytes, space);
  }
  return fmt::format("{}{}{}", size.bytes / best->factor, space, best->name);
}

std::string FormatConfigDuration(ConfigDuration duration) {
  std::int64_t ms = duration.count();
  if (ms == 0) {
    return "0s";
  }
  std::string sign = ms < 0 ? "-" : "";
  std::uint64_t magnitude =
      ms < 0 ? 0 - static_cast<std::uint64_t>(ms) : static_cast<std::uint64_t>(ms);
  std::optional<Unit> unit = BestUnit(magnitude, kDisplayDurationUnits);
  if (!unit) {
    return fmt::format("{}{}ms", sign, magnitude);
  }
  return fmt::format("{}{}{}", sign, magnitude / unit->factor, unit->name);
}

// ---------------------------------------------------------------------------------------
// ConfigReader

ConfigReader::ConfigReader(const YAML::Node& section, std::string path,
                           const ConfigOrigins* origins)
    : origins_(origins) {
  frames_.push_back(MakeFrame(section, std::move(path)));
}

ConfigReader::Frame ConfigReader::MakeFrame(const YAML::Node& node, std::string path) {
  Frame frame;
  frame.path = std::move(path);
  // An absent or empty (`gateway:`) section means "all defaults".
  if (!node.IsDefined() || node.IsNull()) {
    return frame;
  }
  if (node.IsSequence()) {
    // Only a List("") may read it; CheckUnknownKeys reports it otherwise.
    frame.node = node;
    frame.is_list = true;
    return frame;
  }
  if (!node.IsMap()) {
    Fail(frame.path, fmt::format("expected a mapping of keys, got {}", Describe(node)));
    frame.readable = false;
    return frame;
  }
  frame.node = node;
  return frame;
}

std::string ConfigReader::Origin(const std::string& path) const {
  if (origins_ == nullptr) {
    return {};
  }
  // The value itself, else the nearest parent whose origin is known (a whole section set
  // by one environment variable).
  std::string current = path;
  while (true) {
    auto it = origins_->find(current);
    if (it != origins_->end()) {
      return it->second;
    }
    // The parent of "a.b" is "a"; of "a[1]" it is "a".
    std::size_t cut = current.find_last_of(".[");
    if (cut == std::string::npos || cut == 0) {
      return {};
    }
    current.resize(cut);
  }
}

void ConfigReader::Fail(const std::string& path, std::string_view problem) {
  std::string origin = Origin(path);
  if (origin.empty()) {
    errors_.push_back(fmt::format("{}: {}", path, problem));
  } else {
    errors_.push_back(fmt::format("{} (from {}): {}", path, origin, problem));
  }
}

bool ConfigReader::Lookup(std::string_view key, YAML::Node& node, std::string& path,
                          bool null_is_error) {
  Frame& frame = frames_.back();
  frame.known.emplace_back(key);
  path = JoinPath(frame.path, key);
  if (!frame.readable || !frame.node.IsDefined() || !frame.node.IsMap()) {
    return false;
  }
  const YAML::Node& map = frame.node;
  YAML::Node found = map[std::string(key)];
  if (!found.IsDefined()) {
    return false;
  }
  if (found.IsNull()) {
    if (null_is_error) {
      Fail(path, "expected a value (the key is present but empty)");
    }
    return false;
  }
  node.reset(found);
  return true;
}

bool ConfigReader::LookupScalar(std::string_view key, std::string_view expected, YAML::Node& node,
                                std::string& path) {
  if (!Lookup(key, node, path)) {
    return false;
  }
  if (!node.IsScalar()) {
    Fail(path, fmt::format("{}, got {}", expected, Describe(node)));
    return false;
  }
  return true;
}

void ConfigReader::Field(std::string_view key, bool& value, const FieldOptions& options) {
  YAML::Node node;
  std::string path;
  if (!LookupScalar(key, "expected true or false", node, path)) {
    return;
  }
  std::string text = ToLower(Trim(node.Scalar()));
  if (text == "true" || text == "yes" || text == "on") {
    value = true;
  } else if (text == "false" || text == "no" || text == "off") {
    value = false;
  } else {
    Fail(path, fmt::format("expected true or false, got {}", Quote(node.Scalar())));
  }
}

void ConfigReader::Field(std::string_view key, std::int64_t& value, const FieldOptions& options) {
  YAML::Node node;
  std::string path;
  if (!LookupScalar(key, "expected an integer", node, path)) {
    return;
  }
  std::string_view text = Trim(node.Scalar());
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
  }
  std::int64_t parsed = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (ec == std::errc::result_out_of_range) {
    Fail(path, fmt::format("integer out of range, got {}", Quote(node.Scalar())));
    return;
  }
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    std::optional<Quantity> quantity = SplitQuantity(node.Scalar());
    if (quantity && !quantity->fraction.empty() && quantity->unit.empty()) {
      Fail(path, fmt::format("expected a whole number, got {}", Quote(node.Scalar())));
    } else {
      Fail(path, fmt::format("expected an integer, got {}", Quote(node.Scalar())));
    }
    return;
  }
  if (auto problem = BoundsProblem(static_cast<double>(parsed), options, FormatNumber,
                                   std::to_string(parsed))) {
    Fail(path, *problem);
    return;
  }
  value = parsed;
}

void ConfigReader::Field(std::string_view key, double& value, const FieldOptions& options) {
  YAML::Node node;
  std::string path;
  if (!LookupScalar(key, "expected a number", node, path)) {
    return;
  }
  std::string_view text = Trim(node.Scalar());
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
  }
  double parsed = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(parsed)) {
    Fail(path, fmt::format("expected a number, got {}", Quote(node.Scalar())));
    return;
  }
  if (auto problem = BoundsProblem(parsed, options, FormatNumber, fmt::format("{}", parsed))) {
    Fail(path, *problem);
    return;
  }
  value = parsed;
}

void ConfigReader::Field(std::string_view key, std::string& value, const FieldOptions& options) {
  YAML::Node node;
  std::string path;
  if (!LookupScalar(key, "expected a string", node, path)) {
    return;
  }
  if (auto problem = ChoicesProblem(node.Scalar(), options, options.secret)) {
    Fail(path, *problem);
    return;
  }
  value = node.Scalar();
}

void ConfigReader::Field(std::string_view key, std::vector<std::string>& value,
                         const FieldOptions& options) {
  YAML::Node node;
  std::string path;
  if (!Lookup(key, node, path)) {
    return;
  }
  if (!node.IsSequence()) {
    Fail(path, fmt::format("expected a list such as [a, b], got {}",
                           options.secret ? std::string(kRedacted) : Describe(node)));
    return;
  }
  std::vector<std::string> parsed;
  bool ok = true;
  for (std::size_t i = 0; i < node.size(); ++i) {
    YAML::Node item = node[i];
    std::string item_path = fmt::format("{}[{}]", path, i);
    if (item.IsNull()) {
      Fail(item_path, "expected a value");
      ok = false;
      continue;
    }
    if (!item.IsScalar()) {
      Fail(item_path, fmt::format("expected a string, got {}", Describe(item)));
      ok = false;
      continue;
    }
    if (auto problem = ChoicesProblem(item.Scalar(), options, options.secret)) {
      Fail(item_path, *problem);
      ok = false;
      continue;
    }
    parsed.push_back(item.Scalar());
  }
  if (ok) {
    value = std::move(parsed);
  }
}

void ConfigReader::Field(std::string_view key, ByteSize& value, const FieldOptions& options) {
  YAML::Node node;
  std::string path;
  if (!LookupScalar(key, "expected a size such as 16KiB, 8MiB or 1GB", node, path)) {
    return;
  }
  Result<ByteSize> parsed = ParseByteSize(node.Scalar());
  if (!parsed) {
    Fail(path, parsed.error().message);
    return;
  }
  if (auto problem = BoundsProblem(static_cast<double>(parsed->bytes), options, FormatSizeBound,
                                   FormatByteSize(*parsed, true))) {
    Fail(path, *problem);
    return;
  }
  value = *parsed;
}

void ConfigReader::Field(std::string_view key, ConfigDuration& value, const FieldOptions& options) {
  YAML::Node node;
  std::string path;
  if (!LookupScalar(key, "expected a duration such as 30s, 500ms, 5m or 2h", node, path)) {
    return;
  }
  Result<ConfigDuration> parsed = ParseConfigDuration(node.Scalar());
  if (!parsed) {
    Fail(path, parsed.error().message);
    return;
  }
  if (auto problem = BoundsProblem(static_cast<double>(parsed->count()), options,
                                   FormatDurationBound, FormatConfigDuration(*parsed))) {
    Fail(path, *problem);
    return;
  }
  value = *parsed;
}

void ConfigReader::Section(std::string_view key, std::string_view doc,
                           const std::function<void(ConfigVisitor&)>& body) {
  YAML::Node node;
  std::string path;
  // An empty section (`tls:` with every key commented out) is a common way to say
  // "defaults", so unlike an empty field it is not an error.
  bool present = Lookup(key, node, path, /*null_is_error=*/false);
  frames_.push_back(MakeFrame(present ? node : YAML::Node(), path));
  body(*this);
  CheckUnknownKeys(frames_.back());
  frames_.pop_back();
}

void ConfigReader::List(std::string_view key, std::string_view doc, ConfigList& list) {
  YAML::Node node;
  std::string path;
  if (key.empty()) {
    // The enclosing section is the list itself.
    Frame& frame = frames_.back();
    path = frame.path;
    if (!frame.readable || !frame.node.IsDefined() || frame.node.IsNull()) {
      return;
    }
    if (!frame.is_list) {
      Fail(path, fmt::format("expected a list of mappings such as [{{...}}, {{...}}], got {}",
                             Describe(frame.node)));
      // Its keys are not "unknown": the whole value has the wrong shape.
      frame.readable = false;
      return;
    }
    frame.list_read = true;
    node.reset(frame.node);
  } else {
    // `chains:` with nothing after it keeps the defaults, like an empty section.
    if (!Lookup(key, node, path, /*null_is_error=*/false)) {
      return;
    }
    if (!node.IsSequence()) {
      Fail(path, fmt::format("expected a list of mappings such as [{{...}}, {{...}}], got {}",
                             Describe(node)));
      return;
    }
  }
  const YAML::Node& items = node;
  list.Resize(0);  // a list from config replaces the defaults; new elements are defaults
  list.Resize(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::string item_path = fmt::format("{}[{}]", path, i);
    YAML::Node item = items[i];
    if (!item.IsMap()) {
      Fail(item_path, fmt::format("expected a mapping of keys, got {}", Describe(item)));
      continue;
    }
    frames_.push_back(MakeFrame(item, item_path));
    list.VisitElement(i, *this);
    CheckUnknownKeys(frames_.back());
    frames_.pop_back();
  }
}

void ConfigReader::CheckUnknownKeys(const Frame& frame) {
  if (frame.readable && frame.is_list && !frame.list_read) {
    Fail(frame.path, "expected a mapping of keys, got a list");
    return;
  }
  if (!frame.readable || !frame.node.IsDefined() || !frame.node.IsMap()) {
    return;
  }
  for (const auto& entry : frame.node) {
    if (!entry.first.IsScalar()) {
      Fail(frame.path, "keys must be plain names");
      continue;
    }
    const std::string& name = entry.first.Scalar();
    if (std::find(frame.known.begin(), frame.known.end(), name) != frame.known.end()) {
      continue;
    }
    if (frame.known.empty()) {
      Fail(JoinPath(frame.path, name), "unknown key (this section has no settings)");
    } else {
      Fail(JoinPath(frame.path, name),
           fmt::format("unknown key (known: {})", fmt::join(frame.known, ", ")));
    }
  }
}

std::vector<std::string> ConfigReader::Finish() {
  if (!frames_.empty()) {
    CheckUnknownKeys(frames_.front());
    frames_.clear();
  }
  return std::move(errors_);
}

// ---------------------------------------------------------------------------------------
// ConfigPrinter

ConfigPrinter::ConfigPrinter(YAML::Emitter& out, bool with_docs)
    : out_(out), with_docs_(with_docs) {}

void ConfigPrinter::Key(std::string_view key) {
  if (!levels_.empty() && !levels_.back().map_begun) {
    SG_CHECK(!levels_.back().is_list, "a config section that is a List(\"\") has other keys");
    out_ << YAML::BeginMap;
    levels_.back().map_begun = true;
  }
  out_ << YAML::Key << std::string(key) << YAML::Value;
}

void ConfigPrinter::CloseLevel() {
  Level level = levels_.back();
  levels_.pop_back();
  if (level.is_list) {
    return;
  }
  if (!level.map_begun) {
    out_ << YAML::BeginMap;  // no keys: an empty mapping, `{}`
  }
  out_ << YAML::EndMap;
}

void ConfigPrinter::EmitElements(ConfigList& list) {
  out_ << YAML::BeginSeq;
  for (std::size_t i = 0; i < list.Size(); ++i) {
    levels_.emplace_back();
    list.VisitElement(i, *this);
    CloseLevel();
  }
  out_ << YAML::EndSeq;
}

void ConfigPrinter::Doc(const FieldOptions& options) {
  if (!with_docs_ || options.doc.empty()) {
    return;
  }
  std::string doc(options.doc);
  if (options.reloadable) {
    doc += " (reloadable)";
  }
  out_ << YAML::Comment(doc);
}

void ConfigPrinter::Field(std::string_view key, bool& value, const FieldOptions& options) {
  Key(key);
  if (options.secret) {
    out_ << std::string(kRedacted);
  } else {
    out_ << value;
  }
  Doc(options);
}

void ConfigPrinter::Field(std::string_view key, std::int64_t& value, const FieldOptions& options) {
  Key(key);
  if (options.secret) {
    out_ << std::string(kRedacted);
  } else {
    out_ << value;
  }
  Doc(options);
}

void ConfigPrinter::Field(std::string_view key, double& value, const FieldOptions& options) {
  Key(key);
  // fmt prints the shortest text that reads back as the same double; the emitter's own
  // double output uses 17 digits ("0.10000000000000001").
  out_ << (options.secret ? std::string(kRedacted) : fmt::format("{}", value));
  Doc(options);
}

void ConfigPrinter::Field(std::string_view key, std::string& value, const FieldOptions& options) {
  Key(key);
  out_ << (options.secret ? std::string(kRedacted) : value);
  Doc(options);
}

void ConfigPrinter::Field(std::string_view key, std::vector<std::string>& value,
                          const FieldOptions& options) {
  Key(key);
  if (options.secret) {
    out_ << std::string(kRedacted);
  } else {
    out_ << YAML::Flow << YAML::BeginSeq;
    for (const std::string& item : value) {
      out_ << item;
    }
    out_ << YAML::EndSeq;
  }
  Doc(options);
}

void ConfigPrinter::Field(std::string_view key, ByteSize& value, const FieldOptions& options) {
  Key(key);
  out_ << (options.secret ? std::string(kRedacted) : FormatByteSize(value));
  Doc(options);
}

void ConfigPrinter::Field(std::string_view key, ConfigDuration& value,
                          const FieldOptions& options) {
  Key(key);
  out_ << (options.secret ? std::string(kRedacted) : FormatConfigDuration(value));
  Doc(options);
}

void ConfigPrinter::Section(std::string_view key, std::string_view doc,
                            const std::function<void(ConfigVisitor&)>& body) {
  Key(key);
  if (with_docs_ && !doc.empty()) {
    out_ << YAML::Comment(std::string(doc));
  }
  levels_.emplace_back();
  body(*this);
  CloseLevel();
}

void ConfigPrinter::List(std::string_view key, std::string_view doc, ConfigList& list) {
  if (key.empty()) {
    if (!levels_.empty()) {
      SG_CHECK(!levels_.back().map_begun, "a config section that is a List(\"\") has other keys");
      levels_.back().is_list = true;
    }
    EmitElements(list);
    return;
  }
  Key(key);
  if (with_docs_ && !doc.empty()) {
    out_ << YAML::Comment(std::string(doc));
  }
  EmitElements(list);
}

// ---------------------------------------------------------------------------------------
// ConfigFlattener

ConfigFlattener::ConfigFlattener(std::string path) : prefix_(std::move(path)) {}

void ConfigFlattener::Add(std::string_view key, std::string value, const FieldOptions& options) {
  fields_.push_back(
      FlatField{JoinPath(prefix_, key), std::move(value), options.reloadable, options.secret});
}

void ConfigFlattener::Field(std::string_view key, bool& value, const FieldOptions& options) {
  Add(key, value ? "true" : "false", options);
}

void ConfigFlattener::Field(std::string_view key, std::int64_t& value,
                            const FieldOptions& options) {
  Add(key, std::to_string(value), options);
}

void ConfigFlattener::Field(std::string_view key, double& value, const FieldOptions& options) {
  Add(key, fmt::format("{}", value), options);
}

void ConfigFlattener::Field(std::string_view key, std::string& value, const FieldOptions& options) {
  Add(key, value, options);
}

void ConfigFlattener::Field(std::string_view key, std::vector<std::string>& value,
                            const FieldOptions& options) {
  Add(key, FormatList(value), options);
}

void ConfigFlattener::Field(std::string_view key, ByteSize& value, const FieldOptions& options) {
  Add(key, FormatByteSize(value), options);
}

void ConfigFlattener::Field(std::string_view key, ConfigDuration& value,
                            const FieldOptions& options) {
  Add(key, FormatConfigDuration(value), options);
}

void ConfigFlattener::Section(std::string_view key, std::string_view doc,
                              const std::function<void(ConfigVisitor&)>& body) {
  std::string saved = prefix_;
  prefix_ = JoinPath(prefix_, key);
  body(*this);
  prefix_ = std::move(saved);
}

void ConfigFlattener::List(std::string_view key, std::string_view doc, ConfigList& list) {
  std::string base = key.empty() ? prefix_ : JoinPath(prefix_, key);
  fields_.push_back(FlatField{base, fmt::format("[{} items]", list.Size()), false, false});
  std::string saved = prefix_;
  for (std::size_t i = 0; i < list.Size(); ++i) {
    prefix_ = fmt::format("{}[{}]", base, i);
    list.VisitElement(i, *this);
  }
  prefix_ = std::move(saved);
}

// ---------------------------------------------------------------------------------------
// CopyNonReloadable

namespace {

using FieldValue = std::variant<bool, std::int64_t, double, std::string, std::vector<std::string>,
                                ByteSize, ConfigDuration>;

struct CapturedField {
  std::string path;
  FieldValue value;
  bool reloadable = false;
};

// Walks a config and either records every field (capture) or writes recorded non-reloadable
// values back in the same order (restore). Paths are compared so a walk that differs
// between the two objects (a Visit that depends on values) copies nothing wrong.
class FieldCopier final : public ConfigVisitor {
 public:
  explicit FieldCopier(std::vector<CapturedField>* captured, bool restore)
      : captured_(captured), restore_(restore) {}

  void Field(std::string_view key, bool& value, const FieldOptions& options) override {
    Handle(key, value, options);
  }
  void Field(std::string_view key, std::int64_t& value, const FieldOptions& options) override {
    Handle(key, value, options);
  }
  void Field(std::string_view key, double& value, const FieldOptions& options) override {
    Handle(key, value, options);
  }
  void Field(std::string_view key, std::string& value, const FieldOptions& options) override {
    Handle(key, value, options);
  }
  void Field(std::string_view key, std::vector<std::string>& value,
             const FieldOptions& options) override {
    Handle(key, value, options);
  }
  void Field(std::string_view key, ByteSize& value, const FieldOptions& options) override {
    Handle(key, value, options);
  }
  void Field(std::string_view key, ConfigDuration& value, const FieldOptions& options) override {
    Handle(key, value, options);
  }
  void Section(std::string_view key, std::string_view doc,
               const std::function<void(ConfigVisitor&)>& body) override {
    std::string saved = prefix_;
    prefix_ = JoinPath(prefix_, key);
    body(*this);
    prefix_ = std::move(saved);
  }
  using ConfigVisitor::List;
  void List(std::string_view key, std::string_view doc, ConfigList& list) override {
    std::string base = key.empty() ? prefix_ : JoinPath(prefix_, key);
    // The length is captured as an integer field at the list's own path; restoring it
    // resizes the target so that the element walks line up.
    if (!restore_) {
      captured_->push_back(CapturedField{base, FieldValue(static_cast<std::int64_t>(list.Size())),
                                         /*reloadable=*/false});
    } else {
      std::size_t index = next_++;
      if (index < captured_->size() && (*captured_)[index].path == base) {
        if (const auto* size = std::get_if<std::int64_t>(&(*captured_)[index].value)) {
          list.Resize(static_cast<std::size_t>(*size));
        }
      }
    }
    std::string saved = prefix_;
    for (std::size_t i = 0; i < list.Size(); ++i) {
      prefix_ = fmt::format("{}[{}]", base, i);
      list.VisitElement(i, *this);
    }
    prefix_ = std::move(saved);
  }

 private:
  template <class T>
  void Handle(std::string_view key, T& value, const FieldOptions& options) {
    std::string path = JoinPath(prefix_, key);
    if (!restore_) {
      captured_->push_back(CapturedField{std::move(path), FieldValue(value), options.reloadable});
      return;
    }
    std::size_t index = next_++;
    if (index >= captured_->size()) {
      return;
    }
    const CapturedField& field = (*captured_)[index];
    if (field.path != path || field.reloadable || options.reloadable) {
      return;
    }
    if (const T* old = std::get_if<T>(&field.value)) {
      value = *old;
    }
  }

  std::vector<CapturedField>* captured_;
  bool restore_;
  std::string prefix_;
  std::size_t next_ = 0;
};

}  // namespace

void CopyNonReloadable(const std::function<void(ConfigVisitor&)>& visit_from,
                       const std::function<void(ConfigVisitor&)>& visit_to) {
  std::vector<CapturedField> captured;
  FieldCopier capture(&captured, false);
  visit_from(capture);
  FieldCopier restore(&captured, true);
  visit_to(restore);
}

}  // namespace sg::core
