#!/usr/bin/env python3
"""A small Ethereum JSON-RPC node for the chains plugin's tests.

Listens on 127.0.0.1 (a free port, printed as the first line of stdout) and answers
eth_chainId and eth_call (single or batch) for a tiny in-memory world of token contracts.
Tests steer it with POST /control (a JSON object merged into the state) and read what it
saw with POST /stats. Modes make it misbehave: http500, hang, garbage, huge, batch_refused,
drop_item, node_error.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {
    "mode": "ok",
    "chain_id": 1,
    "hang_seconds": 5,
    "reverse": False,
    "balances": {},   # "contract:owner" -> int
    "owners": {},     # "contract:token_id" -> owner
    "erc1155": {},    # "contract:owner:token_id" -> int
    "reverting": [],  # contracts whose every call reverts
    "nocode": [],     # addresses without code: eth_call returns "0x"
    "wallets": {},    # wallet -> {"hash": hex, "signature": hex} it accepts
}
STATS = {"posts": 0, "batch_sizes": [], "methods": [], "block_tags": []}

MAGIC = "1626ba7e"


def word(value):
    return format(value, "064x")


def address_word(address):
    return "0" * 24 + address[2:].lower()


def revert(message):
    return {"error": {"code": -32000,
                      "message": "VM Exception while processing transaction: revert " + message,
                      "data": "0x"}}


def call(params, state):
    tx = params[0]
    to = tx["to"].lower()
    data = tx["data"].lower()
    if to in state["nocode"]:
        return {"result": "0x"}
    if to in state["reverting"]:
        return revert("always reverts")
    selector = data[2:10]
    args = bytes.fromhex(data[10:])

    def arg_int(offset):
        return int.from_bytes(args[offset:offset + 32], "big")

    if selector == "70a08231":  # balanceOf(address)
        owner = "0x" + args[12:32].hex()
        return {"result": "0x" + word(int(state["balances"].get(to + ":" + owner, 0)))}
    if selector == "6352211e":  # ownerOf(uint256)
        token = arg_int(0)
        owner = state["owners"].get(to + ":" + str(token))
        if owner is None:
            return revert("ERC721: invalid token ID")
        return {"result": "0x" + address_word(owner)}
    if selector == "4e1273f4":  # balanceOfBatch(address[],uint256[])
        owners_at, ids_at = arg_int(0), arg_int(32)
        count = arg_int(owners_at)
        owners = ["0x" + args[owners_at + 32 + 32 * i + 12:owners_at + 64 + 32 * i].hex()
                  for i in range(count)]
        if arg_int(ids_at) != count:
            return revert("ERC1155: accounts and ids length mismatch")
        ids = [arg_int(ids_at + 32 + 32 * i) for i in range(count)]
        values = [int(state["erc1155"].get("%s:%s:%d" % (to, owners[i], ids[i]), 0))
                  for i in range(count)]
        return {"result": "0x" + word(32) + word(count) + "".join(word(v) for v in values)}
    if selector == "1626ba7e":  # isValidSignature(bytes32,bytes)
        digest = args[0:32].hex()
        at = arg_int(32)
        length = arg_int(at)
        signature = args[at + 32:at + 32 + length].hex()
        wallet = state["wallets"].get(to)
        if wallet is None:
            return revert("not a wallet")
        ok = wallet["hash"] == digest and wallet["signature"] == signature
        return {"result": "0x" + (MAGIC if ok else "ffffffff") + "0" * 56}
    return revert("unknown selector " + selector)


def answer(request, state):
    reply = {"jsonrpc": "2.0", "id": request.get("id")}
    method = request.get("method")
    with LOCK:
        STATS["methods"].append(method)
    if method == "eth_chainId":
        reply["result"] = hex(state["chain_id"])
    elif method == "eth_call":
        with LOCK:
            STATS["block_tags"].append(request["params"][1])
        if state["mode"] == "node_error":
            reply["error"] = {"code": -32005, "message": "limit exceeded"}
        else:
            reply.update(call(request["params"], state))
    else:
        reply["error"] = {"code": -32601, "message": "method not found"}
    return reply


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path == "/control":
            with LOCK:
                STATE.update(json.loads(body))
            return self.send(200, {})
        if self.path == "/stats":
            with LOCK:
                return self.send(200, STATS)
        with LOCK:
            STATS["posts"] += 1
            state = json.loads(json.dumps(STATE))
        mode = state["mode"]
        if mode == "hang":
            time.sleep(state["hang_seconds"])
            return self.send(200, {"jsonrpc": "2.0", "id": 1, "result": "0x"})
        if mode == "http500":
            return self.send(500, {"error": "boom"})
        if mode == "garbage":
            return self.send(200, b"<html>not json</html>")
        if mode == "huge":
            return self.send(200, b"[" + b" " * (8 * 1024 * 1024) + b"]")
        request = json.loads(body)
        if isinstance(request, list):
            with LOCK:
                STATS["batch_sizes"].append(len(request))
            if mode == "batch_refused" and any(r.get("method") == "eth_call" for r in request):
                return self.send(200, {"jsonrpc": "2.0", "id": None,
                                       "error": {"code": -32600, "message": "batch too large"}})
            replies = [answer(r, state) for r in request]
            if mode == "drop_item" and len(replies) > 1:
                replies = replies[1:]
            if state["reverse"]:
                replies.reverse()
            return self.send(200, replies)
        return self.send(200, answer(request, state))


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients that give up (timeouts, size caps) break pipes: expected, not news.
        pass


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    # Ends when the test closes our stdin or kills us.
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
