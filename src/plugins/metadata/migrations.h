#pragma once
/// The SQLite schema as an ordered list of migrations compiled into the binary. Migration
/// n (1-based) brings the schema from version n-1 to n. Never edit a released migration:
/// append a new one, so every database goes through the same steps.

#include <span>
#include <string_view>

namespace sg::plugins::metadata {

std::span<const std::string_view> Migrations();

}  // namespace sg::plugins::metadata
