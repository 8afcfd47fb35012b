#pragma once
/// Pieces of SearchContent that need no database: turning a person's search text into a
/// safe FTS5 query, and the opaque keyset cursor.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/api/result.h"
#include "core/api/services/metadata_store.h"

namespace sg::plugins::metadata {

/// An FTS5 MATCH expression that cannot be a syntax error: every whitespace-separated word
/// of `text` becomes a quoted string ("" escapes a quote), and the strings are ANDed (FTS5's
/// implicit operator). Operators (AND, OR, NOT, NEAR), column filters, `*` prefixes and
/// `^` lose their meaning: they are searched as words. Words without a letter or digit are
/// dropped (the tokenizer would find nothing in them). Empty when nothing is left.
std::string MakeFtsMatch(std::string_view text);

/// Where the previous page ended: the sort key of its last item.
struct SearchCursor {
  std::uint64_t fingerprint = 0;  ///< of the query the cursor belongs to
  std::int64_t created_at_ms = 0;
  std::string id;
  std::optional<double> score;  ///< bm25 of the last item, for text searches
};

/// A hash of everything that decides the result order and set (not limit or cursor), so a
/// cursor cannot be replayed against a different query.
std::uint64_t QueryFingerprint(const ContentQuery& query);

/// base64url (no padding) of a versioned, '|'-separated record.
std::string EncodeCursor(const SearchCursor& cursor);
/// kInvalidArgument for anything EncodeCursor did not produce.
Result<SearchCursor> DecodeCursor(std::string_view text);

}  // namespace sg::plugins::metadata
