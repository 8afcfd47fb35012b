// Sign-In with Ethereum (EIP-4361) through an injected EIP-1193 wallet: accounts, the
// server's nonce, the message, personal_sign (EIP-191), then POST /auth/verify for tokens.

import { ApiError, api, signedIn } from './api.js';

export function walletAvailable() {
  return Boolean(window.ethereum && typeof window.ethereum.request === 'function');
}

// EIP-55: the message must carry the checksummed address (the server's parser is strict,
// as the standard says). Keccak-256 comes from js-sha3 (assets/sha3.js).
export function checksumAddress(address) {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) throw new Error(`not an address: ${address}`);
  const lower = address.slice(2).toLowerCase();
  const hash = window.keccak256(lower);
  let out = '0x';
  for (let i = 0; i < 40; i++) {
    out += parseInt(hash[i], 16) >= 8 ? lower[i].toUpperCase() : lower[i];
  }
  return out;
}

export function shortAddress(address) {
  return address ? `${address.slice(0, 6)}…${address.slice(-4)}` : '';
}

function toHex(text) {
  return '0x' + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, '0')).join('');
}

/// The EIP-4361 message, field order and spelling as the standard's ABNF.
export function siweMessage({ domain, address, statement, uri, chainId, nonce, issuedAt, expirationTime }) {
  const lines = [
    `${domain} wants you to sign in with your Ethereum account:`,
    address,
    '',
    statement,
    '',
    `URI: ${uri}`,
    'Version: 1',
    `Chain ID: ${chainId}`,
    `Nonce: ${nonce}`,
    `Issued At: ${issuedAt}`,
  ];
  if (expirationTime) lines.push(`Expiration Time: ${expirationTime}`);
  return lines.join('\n');
}

function walletError(error) {
  // EIP-1193 4001 = the user said no; 4100/4200 = not authorised / unsupported.
  if (error && error.code === 4001) return new Error('The wallet request was rejected.');
  return new Error(error && error.message ? error.message : String(error));
}

// The wallet must be on a chain the server reads; if it is not, ask it to switch to the
// first configured one (EIP-3326).
async function chainFor(provider, chains) {
  const current = Number.parseInt(await provider.request({ method: 'eth_chainId' }), 16);
  if (chains.includes(`eip155:${current}`)) return current;
  if (!chains.length) {
    throw new Error('This server has no chains configured, so wallets cannot sign in yet. ' +
      'An admin can add one under `chains:` in the config, or sign in with the API key.');
  }
  const wanted = Number(chains[0].split(':')[1]);
  try {
    await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: '0x' + wanted.toString(16) }] });
  } catch (error) {
    throw new Error(`Switch your wallet to one of ${chains.join(', ')} (it is on eip155:${current}). ` +
      walletError(error).message);
  }
  return wanted;
}

/// Runs the whole sign-in; resolves with the server's token answer.
export async function signInWithWallet() {
  if (!walletAvailable()) throw new Error('No Ethereum wallet was found in this browser.');
  const provider = window.ethereum;
  let accounts;
  try {
    accounts = await provider.request({ method: 'eth_requestAccounts' });
  } catch (error) {
    throw walletError(error);
  }
  if (!accounts || !accounts.length) throw new Error('The wallet shared no account.');
  const address = checksumAddress(accounts[0]);
  const { nonce, chains } = await api('/api/v1/auth/nonce', { anonymous: true });
  const chainId = await chainFor(provider, chains || []);
  const message = siweMessage({
    domain: location.host,
    address,
    statement: 'Sign in to StreamGate.',
    uri: location.origin + '/',
    chainId,
    nonce,
    issuedAt: new Date().toISOString(),
    expirationTime: new Date(Date.now() + 10 * 60 * 1000).toISOString(),
  });
  let signature;
  try {
    signature = await provider.request({ method: 'personal_sign', params: [toHex(message), address] });
  } catch (error) {
    throw walletError(error);
  }
  try {
    const tokens = await api('/api/v1/auth/verify', { method: 'POST', body: { message, signature }, anonymous: true });
    await signedIn(tokens);
    return tokens;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && /domain/.test(error.message)) {
      throw new Error(`${error.message}. The server accepts sign-ins for the hosts in auth.domains; ` +
        `this page is ${location.host}.`);
    }
    throw error;
  }
}
