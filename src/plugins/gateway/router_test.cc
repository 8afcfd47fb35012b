#include "plugins/gateway/router.h"

#include <gtest/gtest.h>

namespace sg::plugins::gateway {
namespace {

HttpHandler Named(std::string name) {
  return
      [name](const HttpRequest&) -> Result<HttpResponse> { return HttpResponse::Text(200, name); };
}

std::string CallMatched(const RouteMatch& match) {
  HttpRequest request;
  auto response = match.route->handler(request);
  return response ? response->body : "error";
}

std::vector<std::string> Segments(std::string_view target) {
  auto parsed = ParseRequestTarget(target);
  EXPECT_TRUE(parsed.has_value()) << target;
  return parsed ? parsed->segments : std::vector<std::string>{};
}

TEST(RouterTest, LiteralSegmentWinsOverParameter) {
  Router router;
  ASSERT_TRUE(router.AddRoute("GET", "/content/{id}", Named("param")));
  ASSERT_TRUE(router.AddRoute("GET", "/content/latest", Named("literal")));

  RouteMatch literal = router.Match("GET", Segments("/content/latest"));
  RouteMatch param = router.Match("GET", Segments("/content/abc"));

  ASSERT_EQ(literal.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(CallMatched(literal), "literal");
  ASSERT_EQ(param.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(CallMatched(param), "param");
}

TEST(RouterTest, FallsBackToParameterWhenLiteralBranchLacksTheMethod) {
  Router router;
  ASSERT_TRUE(router.AddRoute("GET", "/content/{id}", Named("get-param")));
  ASSERT_TRUE(router.AddRoute("POST", "/content/new", Named("post-literal")));

  RouteMatch match = router.Match("GET", Segments("/content/new"));

  ASSERT_EQ(match.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(CallMatched(match), "get-param");
}

TEST(RouterTest, ParametersAreExtractedAndPercentDecodedPerSegment) {
  Router router;
  ASSERT_TRUE(router.AddRoute("PUT", "/api/v1/upload/{id}/chunk/{n}", Named("chunk")));

  RouteMatch match = router.Match("PUT", Segments("/api/v1/upload/a%2Fb%20c/chunk/7"));

  ASSERT_EQ(match.kind, RouteMatch::Kind::kFound);
  ASSERT_EQ(match.params.size(), 2u);
  EXPECT_EQ(match.params[0], (std::pair<std::string, std::string>{"id", "a/b c"}));
  EXPECT_EQ(match.params[1], (std::pair<std::string, std::string>{"n", "7"}));
}

TEST(RouterTest, HeadIsAnsweredByGetRoute) {
  Router router;
  ASSERT_TRUE(router.AddRoute("GET", "/video", Named("get")));

  RouteMatch match = router.Match("HEAD", Segments("/video"));

  ASSERT_EQ(match.kind, RouteMatch::Kind::kFound);
  EXPECT_TRUE(match.head_via_get);
  EXPECT_EQ(CallMatched(match), "get");
}

TEST(RouterTest, KnownPathWithOtherMethodIsMethodNotAllowedWithAllowList) {
  Router router;
  ASSERT_TRUE(router.AddRoute("GET", "/items/{id}", Named("get")));
  ASSERT_TRUE(router.AddRoute("DELETE", "/items/{id}", Named("delete")));

  RouteMatch match = router.Match("POST", Segments("/items/3"));

  EXPECT_EQ(match.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(match.allow, "DELETE, GET, HEAD");
}

TEST(RouterTest, UnknownPathIsNotFound) {
  Router router;
  ASSERT_TRUE(router.AddRoute("GET", "/items/{id}", Named("get")));

  EXPECT_EQ(router.Match("GET", Segments("/items")).kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(router.Match("GET", Segments("/items/1/extra")).kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(router.Match("GET", Segments("/other")).kind, RouteMatch::Kind::kNotFound);
}

TEST(RouterTest, RootPatternMatchesSlash) {
  Router router;
  ASSERT_TRUE(router.AddRoute("GET", "/", Named("root")));

  RouteMatch match = router.Match("GET", Segments("/"));

  ASSERT_EQ(match.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(CallMatched(match), "root");
}

TEST(RouterTest, DuplicateRouteIsAlreadyExists) {
  Router router;
  ASSERT_TRUE(router.AddRoute("GET", "/a/{x}", Named("one")));

  auto again = router.AddRoute("GET", "/a/{y}", Named("two"));

  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
}

TEST(RouterTest, MalformedPatternsAreInvalidArgument) {
  Router router;
  for (const char* pattern :
       {"", "relative", "/a//b", "/a/", "/{}", "/{1x}", "/a{b}", "/{x}/{x}", "/a/../b", "/{x"}) {
    auto added = router.AddRoute("GET", pattern, Named("x"));
    ASSERT_FALSE(added) << pattern;
    EXPECT_EQ(added.error().code, ErrorCode::kInvalidArgument) << pattern;
  }
}

TEST(RouterTest, BadMethodOrRateClassIsInvalidArgument) {
  Router router;
  RouteOptions options;
  options.rate_class = "fast";

  auto bad_method = router.AddRoute("get", "/a", Named("x"));
  auto bad_class = router.AddRoute("GET", "/a", Named("x"), options);

  ASSERT_FALSE(bad_method);
  EXPECT_EQ(bad_method.error().code, ErrorCode::kInvalidArgument);
  ASSERT_FALSE(bad_class);
  EXPECT_EQ(bad_class.error().code, ErrorCode::kInvalidArgument);
}

TEST(RouterTest, AddRouteAfterFreezeIsInternalError) {
  Router router;
  router.Freeze();

  auto added = router.AddRoute("GET", "/late", Named("late"));

  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().code, ErrorCode::kInternal);
}

TEST(RouterTest, MetricLabelDefaultsToPattern) {
  Router router;
  RouteOptions named;
  named.metric_name = "chunk_upload";
  ASSERT_TRUE(router.AddRoute("GET", "/a/{id}", Named("a")));
  ASSERT_TRUE(router.AddRoute("GET", "/b/{id}", Named("b"), named));

  EXPECT_EQ(router.Match("GET", Segments("/a/1")).route->label, "/a/{id}");
  EXPECT_EQ(router.Match("GET", Segments("/b/1")).route->label, "chunk_upload");
}

TEST(ParseRequestTargetTest, DecodesPathAndQuery) {
  auto parsed = ParseRequestTarget("/search/caf%C3%A9?q=a+b&tag=x%26y&empty");

  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->path, "/search/caf\xC3\xA9");
  ASSERT_EQ(parsed->query.size(), 3u);
  EXPECT_EQ(parsed->query[0], (std::pair<std::string, std::string>{"q", "a b"}));
  EXPECT_EQ(parsed->query[1], (std::pair<std::string, std::string>{"tag", "x&y"}));
  EXPECT_EQ(parsed->query[2], (std::pair<std::string, std::string>{"empty", ""}));
}

TEST(ParseRequestTargetTest, RejectsUnsafeOrNonOriginFormTargets) {
  for (const char* target :
       {"/a/../b", "/a/./b", "/a/%2e%2E/b", "/a/%2E", "/a%zz", "/a%4", "/a/%00b",
        "http://example.com/a", "example.com:443", "*", "a/b", ""}) {
    auto parsed = ParseRequestTarget(target);
    ASSERT_FALSE(parsed) << target;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument) << target;
  }
}

}  // namespace
}  // namespace sg::plugins::gateway
