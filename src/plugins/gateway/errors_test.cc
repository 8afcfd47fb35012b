#include "plugins/gateway/errors.h"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include <string>

namespace sg::plugins::gateway {
namespace {

struct Envelope {
  std::string code;
  std::string message;
  std::string request_id;
};

Envelope ParseEnvelope(const std::string& body) {
  auto value = boost::json::parse(body);
  const auto& error = value.as_object().at("error").as_object();
  return {std::string(error.at("code").as_string()), std::string(error.at("message").as_string()),
          std::string(error.at("request_id").as_string())};
}

struct CodeCase {
  ErrorCode code;
  int status;
  std::string name;
  // Names the case in test output instead of dumping its bytes.
  friend void PrintTo(const CodeCase& c, std::ostream* os) { *os << c.name; }
};

HttpRequest RequestWithId(std::string id) {
  HttpRequest request;
  request.context.request_id = std::move(id);
  return request;
}

class ErrorMappingTest : public ::testing::TestWithParam<CodeCase> {};

TEST_P(ErrorMappingTest, ResultErrorBecomesEnvelopeWithMappedStatus) {
  const CodeCase& c = GetParam();

  HttpResponse response =
      MakeErrorResponse(Error{c.code, "what went wrong"}, RequestWithId("req-1"));

  EXPECT_EQ(response.status, c.status);
  EXPECT_EQ(FindHeader(response.headers, "Content-Type").value_or(""), "application/json");
  Envelope envelope = ParseEnvelope(response.body);
  EXPECT_EQ(envelope.code, c.name);
  EXPECT_EQ(envelope.message, "what went wrong");
  EXPECT_EQ(envelope.request_id, "req-1");
}

INSTANTIATE_TEST_SUITE_P(
    AllCodes, ErrorMappingTest,
    ::testing::Values(CodeCase{ErrorCode::kInvalidArgument, 400, "invalid_argument"},
                      CodeCase{ErrorCode::kNotFound, 404, "not_found"},
                      CodeCase{ErrorCode::kAlreadyExists, 409, "already_exists"},
                      CodeCase{ErrorCode::kPermissionDenied, 403, "permission_denied"},
                      CodeCase{ErrorCode::kUnauthenticated, 401, "unauthenticated"},
                      CodeCase{ErrorCode::kResourceExhausted, 429, "resource_exhausted"},
                      CodeCase{ErrorCode::kUnavailable, 503, "unavailable"},
                      CodeCase{ErrorCode::kInternal, 500, "internal"}));

TEST(ErrorEnvelopeTest, EscapesQuotesBackslashesAndControlCharacters) {
  std::string message = "bad \"name\" with \\ and \n newline and \x01 control";

  std::string json = HttpResponse::Error(400, "bad_request", message, RequestWithId("id\"1")).body;

  Envelope envelope = ParseEnvelope(json);
  EXPECT_EQ(envelope.message, message);
  EXPECT_EQ(envelope.request_id, "id\"1");
  EXPECT_EQ(json.find('\n'), std::string::npos);
}

TEST(ErrorEnvelopeTest, HttpLevelErrorKeepsGivenStatusAndCode) {
  HttpResponse response =
      MakeErrorResponse(431, kCodeHeaderTooLarge, "too big", RequestWithId("abc"));

  EXPECT_EQ(response.status, 431);
  EXPECT_EQ(response.body,
            R"({"error":{"code":"header_too_large","message":"too big","request_id":"abc"}})");
}

TEST(ErrorEnvelopeTest, HandlerEnvelopeAndGatewayEnvelopeAreIdentical) {
  HttpRequest request = RequestWithId("r-9");

  HttpResponse from_handler = HttpResponse::Error(422, "unprocessable", "no video", request);
  HttpResponse from_gateway = MakeErrorResponse(422, "unprocessable", "no video", request);

  EXPECT_EQ(from_handler.status, 422);
  EXPECT_EQ(from_handler.body, from_gateway.body);
  EXPECT_EQ(from_handler.headers, from_gateway.headers);
  EXPECT_EQ(FindHeader(from_handler.headers, "Content-Type").value_or(""), "application/json");
  EXPECT_EQ(ParseEnvelope(from_handler.body).request_id, "r-9");
}

TEST(ErrorEnvelopeTest, DetailsOfAnErrorTravelAsJsonAndBrokenDetailsAreLeftOut) {
  Error denied{ErrorCode::kPermissionDenied, "you hold none of the tokens",
               R"({"failed":[{"chain":"eip155:1","min_balance":"1"}]})"};
  auto body = boost::json::parse(MakeErrorResponse(denied, RequestWithId("d")).body);
  EXPECT_EQ(body.at("error").at("details").at("failed").at(0).at("chain").as_string(), "eip155:1");

  Error broken{ErrorCode::kPermissionDenied, "no", "{not json"};
  auto plain = boost::json::parse(MakeErrorResponse(broken, RequestWithId("d")).body);
  EXPECT_FALSE(plain.at("error").as_object().contains("details"));
  EXPECT_EQ(denied.WithContext("content abc").details, denied.details);
}

}  // namespace
}  // namespace sg::plugins::gateway
