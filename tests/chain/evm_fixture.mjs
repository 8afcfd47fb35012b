#!/usr/bin/env node
// Real local EVM chains for StreamGate's integration tests (never shipped).
//
// Starts two in-process ganache chains (chain ids 1337 and 31337) on loopback, compiles the
// test contracts in ./contracts with solc-js and OpenZeppelin (compiled JSON cached by
// source hash), deploys them on both chains with ethers, mints known holdings, prints ONE
// JSON line describing everything on stdout, then answers one JSON line per JSON-line
// command read on stdin. Exits when stdin closes, so a killed test never leaves a chain
// running. README.md in this folder documents the protocol.
//
// Each chain's public rpc_url is a small pass-through proxy in front of ganache's own HTTP
// server: stop_chain / start_chain take that URL down and up on the same port while the
// chain (and its state) lives on, and the fixture itself keeps talking to ganache
// in-process, so tokens can still move while the RPC is "down".

import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import util from "node:util";

// Everything but our protocol lines goes to stderr: a library that logs must never corrupt
// the stdout protocol.
const writeProtocolLine = (object) => process.stdout.write(JSON.stringify(object) + "\n");
for (const level of ["log", "info", "warn", "debug"]) {
  console[level] = (...args) => process.stderr.write(util.format(...args) + "\n");
}

const startedAt = Date.now();
const here = path.dirname(fileURLToPath(import.meta.url));
const testsDir = path.resolve(here, "..");
const require = createRequire(path.join(testsDir, "package.json"));

const { default: ganache } = await import("ganache");
const ethers = await import("ethers");

const kMnemonic = "test test test test test test test test test test test junk";
const kWalletCount = 10;
const kChainIds = [1337, 31337];
const kDeployer = 0;
const kWallet1271Owner = 4;
const kEthPerWallet = 1000;
const kErc1271Magic = "0x1626ba7e";

// ---------------------------------------------------------------------------------------
// Compilation (solc-js: a WebAssembly/JS compiler inside the npm package; nothing is
// downloaded, loadRemoteVersion is never used).

function readPackageVersion(name) {
  return JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), "utf8")).version;
}

function findImport(importPath) {
  try {
    return { contents: fs.readFileSync(require.resolve(importPath), "utf8") };
  } catch (error) {
    return { error: `cannot import ${importPath}: ${error.message}` };
  }
}

async function compileContracts() {
  const contractsDir = path.join(here, "contracts");
  const sources = {};
  for (const name of fs.readdirSync(contractsDir).sort()) {
    if (name.endsWith(".sol")) {
      sources[name] = { content: fs.readFileSync(path.join(contractsDir, name), "utf8") };
    }
  }
  const input = {
    language: "Solidity",
    sources,
    settings: {
      // ganache 7.9 runs up to Shanghai: no PUSH0-free requirement, but no MCOPY/TSTORE.
      evmVersion: "paris",
      optimizer: { enabled: true, runs: 200 },
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
    },
  };
  const key = createHash("sha256")
    .update(JSON.stringify({
      input,
      solc: readPackageVersion("solc"),
      openzeppelin: readPackageVersion("@openzeppelin/contracts"),
    }))
    .digest("hex")
    .slice(0, 24);
  const cacheDir = process.env.SG_EVM_CACHE_DIR || path.join(os.tmpdir(), "streamgate-evm-cache");
  const cacheFile = path.join(cacheDir, `contracts-${key}.json`);
  try {
    return { artifacts: JSON.parse(fs.readFileSync(cacheFile, "utf8")), cache: "hit" };
  } catch {
    // Not cached yet (or unreadable): compile below.
  }
  const { default: solc } = await import("solc");
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  if (errors.length > 0) {
    throw new Error("solc: " + errors.map((e) => e.formattedMessage).join("\n"));
  }
  const artifacts = {};
  for (const file of Object.keys(sources)) {
    for (const [contract, out] of Object.entries(output.contracts[file])) {
      artifacts[contract] = { abi: out.abi, bytecode: "0x" + out.evm.bytecode.object };
    }
  }
  // Write then rename: tests run in parallel and may compile at the same time.
  fs.mkdirSync(cacheDir, { recursive: true });
  const temporary = `${cacheFile}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, JSON.stringify(artifacts));
  fs.renameSync(temporary, cacheFile);
  return { artifacts, cache: "miss" };
}

// ---------------------------------------------------------------------------------------
// Chains.

// The standard derivation path m/44'/60'/0'/0/i (the accounts ganache and hardhat show for
// this mnemonic). The seed is derived once: each fromPhrase costs a 2048-round PBKDF2.
const walletRoot = ethers.HDNodeWallet.fromPhrase(kMnemonic, undefined, "m/44'/60'/0'/0");
const wallets = Array.from({ length: kWalletCount }, (_, i) => walletRoot.deriveChild(i));

class Chain {
  constructor(chainId) {
    this.chainId = chainId;
    this.id = `eip155:${chainId}`;
    this.state = "up";  // up | down (refuse) | hang | http_error
    this.sockets = new Set();
    this.hung = new Set();
    this.contracts = {};
  }

  async start() {
    this.ganache = ganache.server({
      chain: { chainId: this.chainId, networkId: this.chainId, hardfork: "shanghai" },
      // Explicit keys rather than the mnemonic: the same accounts without ganache deriving
      // them again on every start.
      wallet: {
        accounts: wallets.map((wallet) => ({
          secretKey: wallet.privateKey,
          balance: ethers.toBeHex(ethers.parseEther(String(kEthPerWallet))),
        })),
      },
      miner: { instamine: "eager" },
      logging: { quiet: true },
    });
    await this.ganache.listen(0, "127.0.0.1");
    this.upstreamPort = this.ganache.address().port;
    this.agent = new http.Agent({ keepAlive: true });
    // In-process provider for the fixture's own transactions; no request cache, so a nonce
    // or a balance read right after a transaction is never stale.
    this.provider = new ethers.BrowserProvider(this.ganache.provider, this.chainId,
      { staticNetwork: true, cacheTimeout: -1 });
    this.proxy = http.createServer((request, response) => this.forward(request, response));
    this.proxy.keepAliveTimeout = 5000;
    this.proxy.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    await this.listenProxy(0);
    this.port = this.proxy.address().port;
  }

  get rpcUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  listenProxy(port) {
    return new Promise((resolve, reject) => {
      const onError = (error) => reject(error);
      this.proxy.once("error", onError);
      this.proxy.listen(port, "127.0.0.1", () => {
        this.proxy.off("error", onError);
        resolve();
      });
    });
  }

  forward(request, response) {
    if (this.state === "hang") {
      this.hung.add(response);
      return;
    }
    if (this.state === "http_error") {
      response.writeHead(503, { "content-type": "text/plain" });
      response.end("chain stopped by the test fixture\n");
      return;
    }
    const upstream = http.request({
      host: "127.0.0.1",
      port: this.upstreamPort,
      method: request.method,
      path: request.url,
      headers: request.headers,
      agent: this.agent,
    }, (upstreamResponse) => {
      response.writeHead(upstreamResponse.statusCode, upstreamResponse.headers);
      upstreamResponse.pipe(response);
    });
    upstream.on("error", (error) => {
      if (!response.headersSent) {
        response.writeHead(502, { "content-type": "text/plain" });
      }
      response.end(`upstream error: ${error.message}\n`);
    });
    request.pipe(upstream);
  }

  async stop(mode) {
    if (!["refuse", "hang", "http_error"].includes(mode)) {
      throw new Error(`unknown stop mode "${mode}" (refuse | hang | http_error)`);
    }
    if (this.state === "down") {
      await this.start_();
    }
    this.releaseHung();
    if (mode === "refuse") {
      this.state = "down";
      const closed = new Promise((resolve) => this.proxy.close(resolve));
      // Drop kept-alive connections too, or a client with a pooled connection would still
      // reach the chain.
      for (const socket of this.sockets) {
        socket.destroy();
      }
      await closed;
      return;
    }
    this.state = mode;
  }

  async start_() {
    if (this.state === "down") {
      await this.listenProxy(this.port);
    }
    this.releaseHung();
    this.state = "up";
  }

  releaseHung() {
    for (const response of this.hung) {
      response.socket?.destroy();
    }
    this.hung.clear();
  }

  signer(index) {
    return wallets[index].connect(this.provider);
  }

  async close() {
    this.releaseHung();
    for (const socket of this.sockets) {
      socket.destroy();
    }
    this.proxy.close();
    this.agent.destroy();
    await this.ganache.close();
  }
}

function contract(chain, kind, signerIndex = kDeployer) {
  const names = {
    erc721: "TestNft721", erc1155: "TestMulti1155", erc20: "TestToken20",
    wallet1271: "TestWallet1271",
  };
  return new ethers.Contract(chain.contracts[kind], artifacts[names[kind]].abi,
    chain.signer(signerIndex));
}

async function sent(transactionPromise) {
  const transaction = await transactionPromise;
  const receipt = await transaction.wait();
  return { tx_hash: receipt.hash, block_number: receipt.blockNumber };
}

async function deploy(chain, name, ...args) {
  const factory = new ethers.ContractFactory(artifacts[name].abi, artifacts[name].bytecode,
    chain.signer(kDeployer));
  const deployed = await factory.deploy(...args);
  await deployed.waitForDeployment();
  return await deployed.getAddress();
}

// What each chain holds after start-up. The layouts differ on purpose: wallet 1 holds only
// on chain 1337 and wallet 2 only on 31337 (an `any` over both chains), token id 1 of the
// ERC-721 belongs to different wallets on the two chains (a check asking the wrong chain
// fails), wallet 5 holds on both, wallet 3 holds nothing anywhere, and the EIP-1271 contract
// wallet (owned by wallet 4, who holds nothing itself) holds ERC-721 id 10 on both chains.
const kLayout = {
  1337: [
    { standard: "erc721", holder: 1, token_id: "1" },
    { standard: "erc721", holder: 1, token_id: "2" },
    { standard: "erc721", holder: 5, token_id: "5" },
    { standard: "erc721", holder: "wallet1271", token_id: "10" },
    { standard: "erc1155", holder: 1, token_id: "1", amount: "5" },
    { standard: "erc1155", holder: 5, token_id: "2", amount: "1" },
    { standard: "erc20", holder: 1, amount: "100000000000000000000" },
    { standard: "erc20", holder: 5, amount: "1000000000000000000" },
  ],
  31337: [
    { standard: "erc721", holder: 2, token_id: "1" },
    { standard: "erc721", holder: 5, token_id: "5" },
    { standard: "erc721", holder: "wallet1271", token_id: "10" },
    { standard: "erc1155", holder: 2, token_id: "1", amount: "2" },
    { standard: "erc20", holder: 2, amount: "50000000000000000000" },
    { standard: "erc20", holder: 5, amount: "1000000000000000000" },
  ],
};

async function setUpChain(chain) {
  await chain.start();
  if (chain.chainId !== kChainIds[0]) {
    // Burn four deployer nonces so that no contract address is shared between the chains:
    // a policy naming one chain's contract must not accidentally match on the other.
    const deployer = chain.signer(kDeployer);
    for (let i = 0; i < 4; ++i) {
      await sent(deployer.sendTransaction({ to: deployer.address, value: 0 }));
    }
  }
  chain.contracts.erc721 = await deploy(chain, "TestNft721");
  chain.contracts.erc1155 = await deploy(chain, "TestMulti1155");
  chain.contracts.erc20 = await deploy(chain, "TestToken20");
  chain.contracts.wallet1271 = await deploy(chain, "TestWallet1271",
    wallets[kWallet1271Owner].address);
  const holdings = [];
  for (const entry of kLayout[chain.chainId]) {
    const holder = resolveAddress(chain, entry.holder);
    const amount = entry.amount ?? "1";
    if (entry.standard === "erc721") {
      await sent(contract(chain, "erc721").mint(holder, BigInt(entry.token_id)));
    } else if (entry.standard === "erc1155") {
      await sent(contract(chain, "erc1155").mint(holder, BigInt(entry.token_id), BigInt(amount)));
    } else {
      await sent(contract(chain, "erc20").mint(holder, BigInt(amount)));
    }
    holdings.push({
      chain: chain.id,
      standard: entry.standard,
      contract: chain.contracts[entry.standard],
      holder,
      wallet: typeof entry.holder === "number" ? entry.holder : null,
      token_id: entry.token_id ?? null,
      amount,
    });
  }
  return holdings;
}

// ---------------------------------------------------------------------------------------
// Commands.

function findChain(value) {
  const text = String(value ?? "");
  const chain = chains.find((c) => c.id === text || String(c.chainId) === text);
  if (!chain) {
    throw new Error(`unknown chain "${text}" (have ${chains.map((c) => c.id).join(", ")})`);
  }
  return chain;
}

function walletIndex(value, field) {
  if (!Number.isInteger(value) || value < 0 || value >= wallets.length) {
    throw new Error(`"${field}" must be a wallet index 0..${wallets.length - 1}`);
  }
  return value;
}

// A wallet index, "wallet1271" (the contract wallet on that chain) or a 0x address.
function resolveAddress(chain, value, field = "to") {
  if (Number.isInteger(value)) {
    return wallets[walletIndex(value, field)].address;
  }
  if (value === "wallet1271") {
    return chain.contracts.wallet1271;
  }
  if (typeof value === "string" && ethers.isAddress(value)) {
    return ethers.getAddress(value);
  }
  throw new Error(`"${field}" must be a wallet index, "wallet1271" or an address`);
}

function requireString(command, field) {
  const value = command[field];
  if (typeof value !== "string" || value === "") {
    throw new Error(`"${field}" is required (a string)`);
  }
  return value;
}

function quantity(command, field) {
  const value = command[field];
  if ((typeof value !== "string" && !Number.isInteger(value)) || !/^[0-9]+$/.test(String(value))) {
    throw new Error(`"${field}" must be a non-negative decimal integer (string or number)`);
  }
  return BigInt(value);
}

// EIP-4361 text, following the ABNF of the EIP exactly (no trailing newline). Optional
// fields are omitted when absent; the address is EIP-55 checksummed unless raw_address.
function formatSiwe(command) {
  let address;
  if (command.contract_wallet !== undefined) {
    address = findChain(command.contract_wallet).contracts.wallet1271;
  } else if (command.wallet !== undefined) {
    address = wallets[walletIndex(command.wallet, "wallet")].address;
  } else {
    address = requireString(command, "address");
    if (!command.raw_address) {
      address = ethers.getAddress(address);
    }
  }
  const domain = requireString(command, "domain");
  const uri = requireString(command, "uri");
  const nonce = requireString(command, "nonce");
  const chainId = command.chain_id;
  if (chainId === undefined || !/^[0-9]+$/.test(String(chainId))) {
    throw new Error("\"chain_id\" is required (a decimal integer)");
  }
  const version = command.version ?? "1";
  const issuedAt = command.issued_at ?? new Date().toISOString();
  const scheme = command.scheme ? `${command.scheme}://` : "";
  let text = `${scheme}${domain} wants you to sign in with your Ethereum account:\n`;
  text += `${address}\n\n`;
  if (command.statement !== undefined && command.statement !== null) {
    text += `${command.statement}\n`;
  }
  text += "\n";
  text += `URI: ${uri}\n`;
  text += `Version: ${version}\n`;
  text += `Chain ID: ${chainId}\n`;
  text += `Nonce: ${nonce}\n`;
  text += `Issued At: ${issuedAt}`;
  if (command.expiration_time) {
    text += `\nExpiration Time: ${command.expiration_time}`;
  }
  if (command.not_before) {
    text += `\nNot Before: ${command.not_before}`;
  }
  if (command.request_id !== undefined && command.request_id !== null) {
    text += `\nRequest ID: ${command.request_id}`;
  }
  if (Array.isArray(command.resources) && command.resources.length > 0) {
    text += "\nResources:";
    for (const resource of command.resources) {
      text += `\n- ${resource}`;
    }
  }
  return { message: text, address };
}

async function balanceOf(chain, command) {
  const owner = resolveAddress(chain, command.owner, "owner");
  const standard = command.standard;
  if (standard === "erc721") {
    return await contract(chain, "erc721").balanceOf(owner);
  }
  if (standard === "erc1155") {
    return await contract(chain, "erc1155").balanceOf(owner, quantity(command, "token_id"));
  }
  if (standard === "erc20") {
    return await contract(chain, "erc20").balanceOf(owner);
  }
  throw new Error("\"standard\" must be erc721, erc1155 or erc20");
}

const handlers = {
  ping: async () => ({}),
  describe: async () => description,
  sign: async (c) => {
    const index = walletIndex(c.wallet, "wallet");
    return {
      signature: await wallets[index].signMessage(requireString(c, "message")),
      address: wallets[index].address,
    };
  },
  // A raw secp256k1 signature over a 32-byte digest, no EIP-191 prefix (crafted vectors).
  sign_hash: async (c) => {
    const index = walletIndex(c.wallet, "wallet");
    const hash = requireString(c, "hash");
    if (!ethers.isHexString(hash, 32)) {
      throw new Error("\"hash\" must be 0x + 64 hex digits");
    }
    return { signature: wallets[index].signingKey.sign(hash).serialized };
  },
  siwe_message: async (c) => formatSiwe(c),
  // The message plus the signature that signs it in: wallet i's personal_sign, or for
  // contract_wallet the owner's personal_sign (what the EIP-1271 wallet accepts); "signer"
  // overrides who signs.
  siwe: async (c) => {
    const { message, address } = formatSiwe(c);
    let signerIndex;
    if (c.signer !== undefined) {
      signerIndex = walletIndex(c.signer, "signer");  // e.g. a key that does not match
    } else if (c.contract_wallet !== undefined) {
      signerIndex = kWallet1271Owner;
    } else {
      signerIndex = walletIndex(c.wallet, "wallet");
    }
    return { message, address, signature: await wallets[signerIndex].signMessage(message) };
  },
  is_valid_signature: async (c) => {
    const chain = findChain(c.chain);
    const hash = ethers.hashMessage(requireString(c, "message"));
    const result = await contract(chain, "wallet1271").isValidSignature(hash,
      requireString(c, "signature"));
    return { result, valid: result === kErc1271Magic };
  },
  mint721: async (c) => {
    const chain = findChain(c.chain);
    return await sent(contract(chain, "erc721").mint(resolveAddress(chain, c.to),
      quantity(c, "token_id")));
  },
  transfer721: async (c) => {
    const chain = findChain(c.chain);
    const from = walletIndex(c.from, "from");
    return await sent(contract(chain, "erc721", from).transferFrom(wallets[from].address,
      resolveAddress(chain, c.to), quantity(c, "token_id")));
  },
  mint1155: async (c) => {
    const chain = findChain(c.chain);
    return await sent(contract(chain, "erc1155").mint(resolveAddress(chain, c.to),
      quantity(c, "token_id"), quantity(c, "amount")));
  },
  transfer1155: async (c) => {
    const chain = findChain(c.chain);
    const from = walletIndex(c.from, "from");
    return await sent(contract(chain, "erc1155", from).safeTransferFrom(wallets[from].address,
      resolveAddress(chain, c.to), quantity(c, "token_id"), quantity(c, "amount"), "0x"));
  },
  mint20: async (c) => {
    const chain = findChain(c.chain);
    return await sent(contract(chain, "erc20").mint(resolveAddress(chain, c.to),
      quantity(c, "amount")));
  },
  transfer20: async (c) => {
    const chain = findChain(c.chain);
    const from = walletIndex(c.from, "from");
    return await sent(contract(chain, "erc20", from).transfer(resolveAddress(chain, c.to),
      quantity(c, "amount")));
  },
  balance: async (c) => ({ balance: (await balanceOf(findChain(c.chain), c)).toString() }),
  owner_of: async (c) => {
    const chain = findChain(c.chain);
    return { owner: await contract(chain, "erc721").ownerOf(quantity(c, "token_id")) };
  },
  mine: async (c) => {
    const chain = findChain(c.chain);
    const blocks = c.blocks === undefined ? 1 : Number(quantity(c, "blocks"));
    for (let i = 0; i < blocks; ++i) {
      await chain.provider.send("evm_mine", []);
    }
    return { block_number: await chain.provider.getBlockNumber() };
  },
  stop_chain: async (c) => {
    const chain = findChain(c.chain);
    await chain.stop(c.mode ?? "refuse");
    return { chain: chain.id, state: chain.state };
  },
  start_chain: async (c) => {
    const chain = findChain(c.chain);
    await chain.start_();
    return { chain: chain.id, state: chain.state };
  },
};

function errorText(error) {
  // ethers errors carry a long JSON dump; the short reason is what a test wants to print.
  return error?.shortMessage || error?.reason || error?.message || String(error);
}

async function handleLine(line) {
  if (line.trim() === "") {
    return;
  }
  let command;
  try {
    command = JSON.parse(line);
  } catch (error) {
    writeProtocolLine({ error: `not JSON: ${error.message}` });
    return;
  }
  const echo = command && command.id !== undefined ? { id: command.id } : {};
  if (command?.cmd === "quit") {
    writeProtocolLine({ ...echo, ok: true });
    await shutdown(0);
    return;
  }
  const handler = command && typeof command.cmd === "string" &&
    Object.hasOwn(handlers, command.cmd) ? handlers[command.cmd] : undefined;
  if (!handler) {
    writeProtocolLine({ ...echo, error: `unknown cmd ${JSON.stringify(command?.cmd)}` });
    return;
  }
  try {
    writeProtocolLine({ ...echo, ok: true, ...(await handler(command)) });
  } catch (error) {
    writeProtocolLine({ ...echo, error: `${command.cmd}: ${errorText(error)}` });
  }
}

let shuttingDown = false;
async function shutdown(code) {
  if (shuttingDown) {
    return;
  }
  shuttingDown = true;
  // Never hang on the way out: a stuck close must not keep the chains alive.
  setTimeout(() => process.exit(code), 3000).unref();
  await Promise.allSettled(chains.map((chain) => chain.close()));
  process.exit(code);
}

// ---------------------------------------------------------------------------------------
// Start-up.

let artifacts;
let chains = [];
let description;
try {
  const compiled = await compileContracts();
  artifacts = compiled.artifacts;
  chains = kChainIds.map((id) => new Chain(id));
  const holdings = (await Promise.all(chains.map(setUpChain))).flat();
  description = {
    ready: true,
    chains: chains.map((chain) => ({
      id: chain.id,
      chain_id: chain.chainId,
      rpc_url: chain.rpcUrl,
      contracts: { ...chain.contracts },
    })),
    wallets: wallets.map((wallet, index) => ({
      index, address: wallet.address, private_key: wallet.privateKey,
    })),
    mnemonic: kMnemonic,
    deployer: kDeployer,
    wallet1271_owner: kWallet1271Owner,
    holdings,
    compile_cache: compiled.cache,
    startup_ms: Date.now() - startedAt,
  };
} catch (error) {
  writeProtocolLine({ error: `start-up failed: ${errorText(error)}` });
  process.stderr.write(`${error?.stack ?? error}\n`);
  await shutdown(1);
}

// Commands run one at a time, in order: one answer line per command line.
const lines = readline.createInterface({ input: process.stdin, terminal: false });
let queue = Promise.resolve();
lines.on("line", (line) => {
  queue = queue.then(() => handleLine(line));
});
lines.on("close", () => {
  queue = queue.then(() => shutdown(0));
});
process.on("SIGTERM", () => shutdown(0));
process.on("SIGINT", () => shutdown(0));

writeProtocolLine(description);
