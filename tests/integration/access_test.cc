// Wallet sign-in and NFT-gated playback against real local chains: two ganache chains
// (tests/chain/evm_fixture.mjs) with ERC-721 / ERC-1155 / ERC-20 / EIP-1271 contracts, wallets
// signing with ethers, the real streamgate binary, ffmpeg-made clips. Scenarios are grouped
// per test because each test starts its own chains (a few seconds).

#include <signal.h>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "tests/integration/media_fixture.h"
#include "tests/support/evm_fixture.h"

namespace sg::testing {
namespace {

// The public name of the site the wallets sign in to (the server listens on loopback).
constexpr std::string_view kDomain = "streamgate.test";
constexpr std::string_view kChainA = "eip155:1337";
constexpr std::string_view kChainB = "eip155:31337";

class AccessIntegrationTest : public MediaIntegrationTest {
 protected:
  void SetUp() override {
    MediaIntegrationTest::SetUp();
    ASSERT_TRUE(evm_.ok()) << evm_.error();
  }

  void StartGatedServer(const std::string& more_auth = "") {
    std::string yaml =
        fmt("auth:\n  domains: [\"", kDomain, "\"]\n  ownership_ttl: 2s\n  negative_ttl: 1s\n",
            more_auth, "chains:\n");
    for (const auto& chain : evm_.chains()) {
      yaml += fmt("  - id: \"", chain.id, "\"\n    rpc_urls: [\"", chain.rpc_url,
                  "\"]\n    timeout: 2s\n    retries: 0\n    breaker_open_for: 1s\n");
    }
    StartServer(yaml);
  }

  // One request with an optional bearer token and JSON body.
  std::optional<HttpReply> Send(const std::string& method, const std::string& target,
                                const std::string& bearer = "", const std::string& body = "") {
    RawConnection connection(server_->port());
    std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!bearer.empty()) {
      request += "Authorization: Bearer " + bearer + "\r\n";
    }
    if (!body.empty()) {
      request += "Content-Type: application/json\r\n";
    }
    request += fmt("Content-Length: ", body.size(), "\r\n\r\n", body);
    if (!connection.Send(request)) {
      return std::nullopt;
    }
    return connection.ReadResponse(20s);
  }

  std::string Nonce() {
    auto reply = Send("GET", "/api/v1/auth/nonce");
    EXPECT_TRUE(reply && reply->status == 200) << (reply ? reply->body : "no reply");
    return reply ? std::string(json::parse(reply->body).at("nonce").as_string()) : "";
  }

  SiweFields Fields(int wallet, std::string_view chain = kChainA) {
    SiweFields fields;
    fields.wallet = wallet;
    fields.domain = std::string(kDomain);
    fields.uri = fmt("https://", kDomain, "/");
    fields.statement = "Sign in to StreamGate";
    fields.chain_id = evm_.chain(chain).chain_id;
    fields.nonce = Nonce();
    return fields;
  }

  std::optional<HttpReply> Verify(const SiweFields& fields) {
    auto signed_message = evm_.SignSiwe(fields);
    EXPECT_TRUE(signed_message) << signed_message.error().ToString();
    if (!signed_message) {
      return std::nullopt;
    }
    json::object body{{"message", signed_message->message},
                      {"signature", signed_message->signature}};
    return Send("POST", "/api/v1/auth/verify", "", json::serialize(body));
  }

  // Signs wallet `index` in on `chain`; returns the access token.
  std::string SignIn(int index, std::string_view chain = kChainA) {
    auto reply = Verify(Fields(index, chain));
    EXPECT_TRUE(reply && reply->status == 200) << (reply ? reply->body : "no reply");
    return reply && reply->status == 200
               ? std::string(json::parse(reply->body).at("access_token").as_string())
               : "";
  }

  std::optional<HttpReply> PutPolicy(const std::string& id, const std::string& policy,
                                     const std::string& bearer) {
    return Send("PUT", "/api/v1/content/" + id + "/policy", bearer, policy);
  }

  std::string Erc721Policy(std::string_view chain) {
    return fmt(R"({"any":[{"chain":")", chain, R"(","standard":"erc721","contract":")",
               evm_.chain(chain).contracts.erc721, R"("}]})");
  }

  // The URI prefix (`t/<token>/`) the master playlist gives its variants.
  static std::string TokenPrefix(const std::string& master) {
    auto at = master.find("t/");
    if (at == std::string::npos) {
      return "";
    }
    return master.substr(at, master.find('/', at + 2) + 1 - at);
  }

  EvmFixture evm_;
};

TEST_F(AccessIntegrationTest, WalletsSignInAndEveryBadMessageIsRefused) {
  StartGatedServer();

  // The nonce tells a client which chains a message may name (the web app switches to one).
  auto nonce = Send("GET", "/api/v1/auth/nonce");
  ASSERT_TRUE(nonce && nonce->status == 200);
  EXPECT_EQ(json::serialize(json::parse(nonce->body).at("chains")),
            fmt("[\"", kChainA, "\",\"", kChainB, "\"]"));
  auto chains = Send("GET", "/api/v1/chains");
  ASSERT_TRUE(chains && chains->status == 200);
  EXPECT_EQ(
      chains->body,
      R"({"chains":[{"id":"eip155:1337","chain_id":1337},{"id":"eip155:31337","chain_id":31337}]})");

  // A holder signs in: an ES256 access token whose subject is the CAIP-10 account.
  auto signed_in = Verify(Fields(1));
  ASSERT_TRUE(signed_in);
  ASSERT_EQ(signed_in->status, 200) << signed_in->body;
  auto tokens = json::parse(signed_in->body).as_object();
  std::string access(tokens.at("access_token").as_string());
  EXPECT_EQ(tokens.at("subject").as_string(), fmt(kChainA, ":", evm_.wallet(1).address));
  auto me = Send("GET", "/api/v1/auth/me", access);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200) << me->body;
  auto jwks = Send("GET", "/.well-known/jwks.json");
  ASSERT_TRUE(jwks);
  EXPECT_EQ(json::parse(jwks->body).at("keys").at(0).at("alg").as_string(), "ES256");

  // Replayed nonce, expired message, wrong domain, wrong chain, another signer: 401 each.
  auto fields = Fields(1);
  ASSERT_EQ(Verify(fields)->status, 200);
  EXPECT_EQ(Verify(fields)->status, 401) << "the nonce was used";
  auto expired = Fields(1);
  expired.issued_at = "2020-01-01T00:00:00Z";
  expired.expiration_time = "2020-01-01T00:05:00Z";
  EXPECT_EQ(Verify(expired)->status, 401);
  auto phished = Fields(1);
  phished.domain = "evil.example";
  phished.uri = "https://evil.example/";
  EXPECT_EQ(Verify(phished)->status, 401);
  auto other_chain = Fields(1);
  other_chain.chain_id = 5;
  EXPECT_EQ(Verify(other_chain)->status, 401);
  auto forged = Fields(1);
  forged.signer = 3;
  EXPECT_EQ(Verify(forged)->status, 401);
  auto malformed =
      Send("POST", "/api/v1/auth/verify", "", R"({"message":"hello","signature":"0x00"})");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400) << malformed->body;
  EXPECT_NE(malformed->body.find("\"message\""), std::string::npos);

  // A minimal EIP-1271 contract wallet signs in (its owner's key signs).
  auto contract = Fields(0);
  contract.wallet.reset();
  contract.contract_wallet = std::string(kChainA);
  auto contract_reply = Verify(contract);
  ASSERT_TRUE(contract_reply);
  EXPECT_EQ(contract_reply->status, 200) << contract_reply->body;

  // Refresh rotates; the used refresh token presented again revokes the family.
  std::string refresh(tokens.at("refresh_token").as_string());
  auto rotated = Send("POST", "/api/v1/auth/refresh", "",
                      json::serialize(json::object{{"refresh_token", refresh}}));
  ASSERT_TRUE(rotated);
  ASSERT_EQ(rotated->status, 200) << rotated->body;
  std::string next(json::parse(rotated->body).at("refresh_token").as_string());
  EXPECT_EQ(Send("POST", "/api/v1/auth/refresh", "",
                 json::serialize(json::object{{"refresh_token", refresh}}))
                ->status,
            401);
  EXPECT_EQ(Send("POST", "/api/v1/auth/refresh", "",
                 json::serialize(json::object{{"refresh_token", next}}))
                ->status,
            401)
      << "reuse of a rotated token revoked its whole family";
  // Logout revokes a fresh session's refresh token.
  auto session = json::parse(Verify(Fields(2))->body).as_object();
  json::object logout{{"refresh_token", session.at("refresh_token")}};
  EXPECT_EQ(Send("POST", "/api/v1/auth/logout", "", json::serialize(logout))->status, 204);
  EXPECT_EQ(Send("POST", "/api/v1/auth/refresh", "", json::serialize(logout))->status, 401);

  // Operators see sign-ins by outcome.
  auto metrics = Send("GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("streamgate_auth_sign_ins_total{outcome=\"refused\"} 5"),
            std::string::npos)
      << metrics->body.substr(0, 2000);
  EXPECT_NE(metrics->body.find("streamgate_auth_sign_ins_total{outcome=\"invalid\"} 1"),
            std::string::npos);
}

TEST_F(AccessIntegrationTest, HoldersWatchGatedContentThroughPlaybackTokensAndOthersAreToldWhy) {
  StartGatedServer();
  auto id = Upload(MakeClip("clip.mp4", "426x240", 4));
  ASSERT_EQ(Status(WaitSettled(id)), "ready");
  std::string holder = SignIn(1);    // holds ERC-721 ids 1 and 2 on chain A
  std::string stranger = SignIn(3);  // holds nothing anywhere
  ASSERT_FALSE(holder.empty());

  // Only the owner (here the admin who uploaded) or an admin may set the policy.
  auto refused = PutPolicy(id, Erc721Policy(kChainA), stranger);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403) << refused->body;
  auto bad =
      PutPolicy(id, R"({"any":[{"chain":"eip155:1337","standard":"erc721"}]})", server_->ApiKey());
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("contract"), std::string::npos) << bad->body;
  // Refused writes change nothing: the content is still public, its manifest still open.
  EXPECT_EQ(Send("GET", "/api/v1/content/" + id + "/policy")->body, R"({"public":true})");
  EXPECT_EQ(Send("GET", "/api/v1/streaming/" + id + "/manifest.m3u8")->status, 200);
  auto set = PutPolicy(id, Erc721Policy(kChainA), server_->ApiKey());
  ASSERT_TRUE(set);
  ASSERT_EQ(set->status, 200) << set->body;
  EXPECT_EQ(Send("GET", "/api/v1/content/" + id + "/policy")->status, 200);

  const std::string master_path = "/api/v1/streaming/" + id + "/manifest.m3u8";
  // Anonymous: sign in first. A token in a query parameter grants nothing.
  EXPECT_EQ(Send("GET", master_path)->status, 401);
  EXPECT_EQ(Send("GET", master_path + "?token=" + holder)->status, 401);

  // The holder: a master whose URIs carry a playback token; playlists and segments under it.
  auto master = Send("GET", master_path, holder);
  ASSERT_TRUE(master);
  ASSERT_EQ(master->status, 200) << master->body;
  EXPECT_EQ(master->Header("cache-control"), "private, no-store");
  std::string prefix = TokenPrefix(master->body);
  ASSERT_FALSE(prefix.empty()) << master->body;
  const std::string base = "/api/v1/streaming/" + id + "/";
  auto playlist = Send("GET", base + prefix + "240p/playlist.m3u8");
  ASSERT_TRUE(playlist);
  ASSERT_EQ(playlist->status, 200) << playlist->body;
  auto segment = Send("GET", base + prefix + "240p/segment_0.m4s");
  ASSERT_TRUE(segment);
  EXPECT_EQ(segment->status, 200);
  EXPECT_GT(segment->body.size(), 1000u);
  // The token is a credential: the access log shows the request without it.
  const std::string token = prefix.substr(2, prefix.size() - 3);
  auto logged = [&] {
    return server_->process().Stderr().find("/t/REDACTED/240p/segment_0.m4s") != std::string::npos;
  };
  auto until = std::chrono::steady_clock::now() + 5s;
  while (!logged() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(logged());
  EXPECT_EQ(server_->process().Stderr().find(token), std::string::npos) << "token in the log";
  // A real player: ffprobe with the holder's header reads the whole presentation.
  auto [code, output] = RunShell("ffprobe -v error -headers 'Authorization: Bearer " + holder +
                                 "' -show_entries format=duration -of default=nw=1:nk=1 '" +
                                 server_->base_url() + master_path + "'");
  ASSERT_EQ(code, 0) << output;
  EXPECT_NEAR(std::stod(output), 4, 0.5);
  auto mpd = Send("GET", base + "manifest.mpd", holder);
  ASSERT_TRUE(mpd);
  EXPECT_NE(mpd->body.find("<BaseURL>t/"), std::string::npos) << mpd->body;

  // Without a token, with a tampered one, with another content's: refused.
  EXPECT_EQ(Send("GET", base + "240p/segment_0.m4s", holder)->status, 403);
  std::string tampered = prefix;
  tampered[4] = tampered[4] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Send("GET", base + tampered + "240p/segment_0.m4s")->status, 403);
  auto other = Upload(MakeClip("other.mp4", "426x240", 2));
  ASSERT_EQ(Status(WaitSettled(other)), "ready");
  ASSERT_EQ(PutPolicy(other, Erc721Policy(kChainA), server_->ApiKey())->status, 200);
  EXPECT_EQ(Send("GET", "/api/v1/streaming/" + other + "/" + prefix + "240p/segment_0.m4s")->status,
            403);

  // The stranger is told which condition failed and what would satisfy it.
  auto denied = Send("GET", master_path, stranger);
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403);
  auto unmet = json::parse(denied->body).at("error").at("details").at("unmet_conditions").at(0);
  EXPECT_EQ(unmet.at("chain").as_string(), kChainA);
  EXPECT_EQ(unmet.at("min_balance").as_string(), "1");
  auto metrics = Send("GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("streamgate_access_decisions_total{outcome=\"denied\"}"),
            std::string::npos);

  // Listing what each may watch.
  auto listed = [&](const std::string& bearer) {
    auto reply = Send("GET", "/api/v1/content?playable=true", bearer);
    EXPECT_TRUE(reply && reply->status == 200);
    return reply ? reply->body : "";
  };
  EXPECT_NE(listed(holder).find(id), std::string::npos);
  EXPECT_EQ(listed(stranger).find(id), std::string::npos);
}

TEST_F(AccessIntegrationTest, ATransferEndsAccessWithinTheTtlAndAnyOverTwoChainsGrantsEither) {
  StartGatedServer();
  auto id = Upload(MakeClip("clip.mp4", "426x240", 2));
  ASSERT_EQ(Status(WaitSettled(id)), "ready");
  // Either an ERC-721 on chain A or at least 10 tokens (18 decimals) of the ERC-20 on chain B.
  std::string policy =
      fmt(R"({"any":[{"chain":")", kChainA, R"(","standard":"erc721","contract":")",
          evm_.chain(kChainA).contracts.erc721, R"("},{"chain":")", kChainB,
          R"(","standard":"erc20","contract":")", evm_.chain(kChainB).contracts.erc20,
          R"(","min_balance":"10000000000000000000"}]})");
  ASSERT_EQ(PutPolicy(id, policy, server_->ApiKey())->status, 200);
  const std::string master = "/api/v1/streaming/" + id + "/manifest.m3u8";

  std::string nft_holder = SignIn(1);             // ERC-721 on A
  std::string token_holder = SignIn(2, kChainB);  // 50 ERC-20 on B, nothing on A
  EXPECT_EQ(Send("GET", master, nft_holder)->status, 200);
  EXPECT_EQ(Send("GET", master, token_holder)->status, 200);

  // Wallet 1 gives both NFTs away: within ownership_ttl (2 s) it is refused.
  ASSERT_TRUE(evm_.Transfer721(kChainA, 1, 3, "1"));
  ASSERT_TRUE(evm_.Transfer721(kChainA, 1, 3, "2"));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  int status = 200;
  while (status == 200 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(250ms);
    status = Send("GET", master, nft_holder)->status;
  }
  EXPECT_EQ(status, 403) << "access outlived the transfer";
}

TEST_F(AccessIntegrationTest, AChainThatCannotBeAskedMeans503NeverAccess) {
  StartGatedServer();
  auto id = Upload(MakeClip("clip.mp4", "426x240", 2));
  ASSERT_EQ(Status(WaitSettled(id)), "ready");
  ASSERT_EQ(PutPolicy(id, Erc721Policy(kChainA), server_->ApiKey())->status, 200);
  std::string holder = SignIn(1);
  ASSERT_TRUE(evm_.StopChain(kChainA));
  auto down = Send("GET", "/api/v1/streaming/" + id + "/manifest.m3u8", holder);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503) << down->body;
  EXPECT_NE(down->body.find("eip155:1337"), std::string::npos) << down->body;
  ASSERT_TRUE(evm_.StartChain(kChainA));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  int status = 503;
  while (status == 503 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(250ms);  // the breaker lets a probe through after 1 s
    status = Send("GET", "/api/v1/streaming/" + id + "/manifest.m3u8", holder)->status;
  }
  EXPECT_EQ(status, 200);
}

TEST_F(AccessIntegrationTest, RolesComeFromTheConfigCreatorsMayUploadOthersMayNot) {
  StartGatedServer(fmt("  admins: [\"", evm_.wallet(2).address, "\"]\n  creators: allowlist\n",
                       "  creator_allowlist: [\"", evm_.wallet(1).address, "\"]\n"));
  auto roles_of = [&](const std::string& token) {
    auto me = Send("GET", "/api/v1/auth/me", token);
    EXPECT_TRUE(me && me->status == 200);
    return me ? me->body : "";
  };
  std::string creator = SignIn(1);
  std::string admin = SignIn(2);
  std::string viewer = SignIn(3);
  EXPECT_NE(roles_of(creator).find("\"creator\""), std::string::npos) << roles_of(creator);
  EXPECT_EQ(roles_of(viewer).find("\"creator\""), std::string::npos) << roles_of(viewer);
  EXPECT_NE(roles_of(admin).find("\"admin\""), std::string::npos) << roles_of(admin);
  const std::string init = R"({"filename":"a.mp4","size":1000,"chunk_size":1048576})";
  auto refused = Send("POST", "/api/v1/upload/init", viewer, init);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403) << refused->body;
  auto accepted = Send("POST", "/api/v1/upload/init", creator, init);
  ASSERT_TRUE(accepted);
  EXPECT_NE(accepted->status, 403) << accepted->body;
  EXPECT_NE(accepted->status, 401) << accepted->body;

  // SIGHUP: a new admin applies to tokens already issued (admin is decided per request).
  std::string text;
  {
    std::ifstream in(config_);
    std::stringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
  }
  const std::string admins = fmt("admins: [\"", evm_.wallet(2).address, "\"]");
  auto at = text.find(admins);
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, admins.size(),
               fmt("admins: [\"", evm_.wallet(2).address, "\", \"", evm_.wallet(3).address, "\"]"));
  std::ofstream(config_, std::ios::trunc) << text;
  server_->process().Signal(SIGHUP);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (roles_of(viewer).find("\"admin\"") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(roles_of(viewer).find("\"admin\""), std::string::npos) << server_->process().Stderr();
}

// ERC-1155 balances (balanceOfBatch) and ERC-721 ids (ownerOf) read from the real contracts,
// and a "creator pass": holders of an ERC-20 on the other chain may upload.
TEST_F(AccessIntegrationTest, Erc1155AndErc721IdsDecideOnTheRealContractsAndAPassMakesCreators) {
  std::string pass =
      fmt(R"({"any":[{"chain":")", kChainB, R"(","standard":"erc20","contract":")",
          evm_.chain(kChainB).contracts.erc20, R"(","min_balance":"10000000000000000000"}]})");
  std::string escaped;
  for (char c : pass) {
    if (c == '"') {
      escaped += '\\';
    }
    escaped += c;
  }
  StartGatedServer(fmt("  creators: policy\n  creator_policy: \"", escaped, "\"\n"));
  auto is_creator = [&](const std::string& token) {
    auto me = Send("GET", "/api/v1/auth/me", token);
    return me && me->body.find("\"creator\"") != std::string::npos;
  };
  std::string one = SignIn(1);   // chain A: ERC-721 ids 1, 2; ERC-1155 id 1 x5; no ERC-20 on B
  std::string two = SignIn(2);   // chain B: 50 of the ERC-20
  std::string five = SignIn(5);  // chain A: ERC-721 id 5; ERC-1155 id 2 x1
  EXPECT_FALSE(is_creator(one));
  EXPECT_TRUE(is_creator(two));
  EXPECT_FALSE(is_creator(five));

  auto id = Upload(MakeClip("clip.mp4", "426x240", 2));
  ASSERT_EQ(Status(WaitSettled(id)), "ready");
  const auto& a = evm_.chain(kChainA).contracts;
  std::string policy =
      fmt(R"({"all":[{"chain":")", kChainA, R"(","standard":"erc1155","contract":")", a.erc1155,
          R"(","token_ids":["1"],"min_balance":"5"},{"chain":")", kChainA,
          R"(","standard":"erc721","contract":")", a.erc721, R"(","token_ids":["1","2"]}]})");
  auto set = PutPolicy(id, policy, server_->ApiKey());
  ASSERT_TRUE(set);
  ASSERT_EQ(set->status, 200) << set->body;
  const std::string master = "/api/v1/streaming/" + id + "/manifest.m3u8";
  EXPECT_EQ(Send("GET", master, one)->status, 200);
  auto denied = Send("GET", master, five);
  ASSERT_TRUE(denied);
  ASSERT_EQ(denied->status, 403) << denied->body;
  auto unmet = json::parse(denied->body).at("error").at("details").at("unmet_conditions");
  EXPECT_EQ(unmet.as_array().size(), 2u) << denied->body;
}

}  // namespace
}  // namespace sg::testing
